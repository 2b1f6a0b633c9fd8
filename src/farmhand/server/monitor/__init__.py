"""The farm's web monitor: see and steer the farm in a browser, live.

Served on the farm's own listener: page paths answer a small shell whose script (a file of this
package, no build step) draws farms, queues, jobs, steps, tasks, sessions, logs, fleets and workers.
Everything it shows or does is an ordinary API call of the signed-in user (`MonitorSessions`):
the same route, parsing, access table and audit trail as a signed call, no side door. An event
stream (`ChangeFeed`) tells open pages when the farm changed.
"""

from ._events import ChangeFeed
from ._pages import MonitorPages
from ._session import CSRF_HEADER, MonitorSessions, is_monitor_call

__all__ = ["CSRF_HEADER", "ChangeFeed", "MonitorPages", "MonitorSessions", "is_monitor_call"]
