"""What operators need to run a farm server: health and readiness, Prometheus metrics, retention."""

from ._health import HEALTH_PATHS, HealthAnswer, health
from ._metrics import METRICS_CONTENT_TYPE, METRICS_PATH, FarmMetrics, MetricsAccess, metrics_allowed
from ._retention import RetentionSettings, purge_archived_jobs, purge_expired_log_events, purge_job

__all__ = [
    "HEALTH_PATHS",
    "METRICS_CONTENT_TYPE",
    "METRICS_PATH",
    "FarmMetrics",
    "HealthAnswer",
    "MetricsAccess",
    "RetentionSettings",
    "health",
    "metrics_allowed",
    "purge_archived_jobs",
    "purge_expired_log_events",
    "purge_job",
]
