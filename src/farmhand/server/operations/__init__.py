"""What operators need to run a farm server: health and readiness endpoints."""

from ._health import HEALTH_PATHS, HealthAnswer, health

__all__ = ["HEALTH_PATHS", "HealthAnswer", "health"]
