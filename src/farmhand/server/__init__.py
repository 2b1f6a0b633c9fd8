"""The farm server: the Deadline Cloud API, CloudWatch Logs subset, STS and telemetry on one listener."""
