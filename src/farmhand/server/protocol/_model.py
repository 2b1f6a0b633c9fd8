"""The botocore service models the server speaks, and the route table derived from them.

Nothing about an operation (its URL, method, members, status code, errors) is written down here:
it is read from botocore's own `service-2.json` files.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote

from botocore.loaders import create_loader
from botocore.model import OperationModel, ServiceModel

from ..._models import MODELS_DIR

DEADLINE_API_VERSION = "2023-10-12"


@functools.cache
def service_model(name: str) -> ServiceModel:
    """Load one of botocore's bundled service models (deadline, logs, sts, s3) or farmhand's own
    (`farmhand-identity`, in the same format).

    Read through botocore's data loader, not a session: a session would read the caller's AWS
    profile, and a server must start whatever `AWS_PROFILE` says.
    """
    loader = create_loader(str(MODELS_DIR))
    return ServiceModel(loader.load_service_model(name, "service-2"), service_name=name)


@dataclass(frozen=True)
class Route:
    """One REST operation: how to recognise its requests and where its URI labels sit."""

    operation: OperationModel
    method: str
    segments: tuple[str, ...]  # literal text, or "{label}" for a URI member
    query_literals: tuple[tuple[str, str], ...]

    @property
    def name(self) -> str:
        return str(self.operation.name)

    def match(self, method: str, raw_segments: list[str]) -> dict[str, str] | None:
        """URI labels (decoded) when the request's method and raw path segments fit this route."""
        if method != self.method or len(raw_segments) != len(self.segments):
            return None
        labels: dict[str, str] = {}
        for pattern, raw in zip(self.segments, raw_segments, strict=True):
            if pattern.startswith("{"):
                if not raw:
                    return None
                labels[pattern[1:-1].rstrip("+")] = unquote(raw)
            elif pattern != raw:
                return None
        return labels


class RouteTable:
    """REST routes of a service model, indexed by method and segment count for a quick match."""

    def __init__(self, model: ServiceModel) -> None:
        self._routes: dict[tuple[str, int], list[Route]] = {}
        for name in model.operation_names:
            route = _route_for(model.operation_model(name))
            self._routes.setdefault((route.method, len(route.segments)), []).append(route)
        # Literal segments win over labels (e.g. /farms/{farmId}/search/jobs over longer label paths).
        for routes in self._routes.values():
            routes.sort(key=lambda r: sum(s.startswith("{") for s in r.segments))

    def __iter__(self) -> Iterator[Route]:
        for routes in self._routes.values():
            yield from routes

    def resolve(self, method: str, raw_path: str) -> tuple[Route, dict[str, str]] | None:
        raw_segments = raw_path.strip("/").split("/")
        for route in self._routes.get((method, len(raw_segments)), ()):
            labels = route.match(method, raw_segments)
            if labels is not None:
                return route, labels
        return None


_LABEL = re.compile(r"^\{[^}]+\}$")


def _route_for(operation: OperationModel) -> Route:
    uri = operation.http["requestUri"]
    path, _, query = uri.partition("?")
    literals = tuple((k, v) for k, _, v in (part.partition("=") for part in query.split("&") if part))
    return Route(
        operation=operation,
        method=operation.http["method"],
        segments=tuple(path.strip("/").split("/")),
        query_literals=literals,
    )


@functools.cache
def deadline_routes() -> RouteTable:
    return RouteTable(service_model("deadline"))


def success_status(operation: OperationModel) -> int:
    """The status code the model gives a successful answer (CreateJob 201, TagResource 204, ...)."""
    return int(operation.http.get("responseCode", 200))
