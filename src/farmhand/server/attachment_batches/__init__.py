"""Batch calls on the farm's object store for job-attachment contents (`<root>/Data/<xxh128>.xxh128`).

farmhand's own client and worker ask which of many objects are missing, send many small ones, or
fetch many, in one request each, instead of one S3 request per file. Objects land exactly where
S3 PUTs would put them, so the AWS tools see the same bucket. Requests are S3 requests (SigV4 for
`s3`, the same credentials and the same per-key authorisation), told apart by `?x-farmhand-batch`.
"""

from ._endpoint import BATCH_QUERY, BatchEndpoint, is_batch_request

__all__ = ["BATCH_QUERY", "BatchEndpoint", "is_batch_request"]
