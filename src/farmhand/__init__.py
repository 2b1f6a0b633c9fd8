"""farmhand: a self-hostable render farm that speaks the AWS Deadline Cloud API."""

__version__ = "0.1.0"
