"""The farmhand client: the `deadline.client.api` interface, the workstation config and job bundles.

Importing this package is cheap (the CLI's `--help` depends on it); boto3 and openjd load only when
`farmhand.client.api` or `farmhand.client.job_bundle` is imported.
"""

__all__: list[str] = []
