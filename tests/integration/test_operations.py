"""What operators and load balancers ask a farm server: health and readiness, unauthenticated."""

from __future__ import annotations

import json
from urllib.error import HTTPError
from urllib.request import Request, urlopen

from farmhand.testing import ServerProcess


def get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urlopen(Request(url), timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except HTTPError as error:
        return error.code, json.loads(error.read())


def test_healthz_and_readyz_answer_without_credentials(server: ServerProcess) -> None:
    status, alive = get(f"{server.url}/healthz")
    assert status == 200 and alive["status"] == "alive"
    assert alive["keepsHouse"] is True  # a server of its own keeps house for its farm
    status, ready = get(f"{server.url}/readyz")
    assert status == 200 and ready["status"] == "ready"
    assert ready["node"] == alive["node"]


def test_health_answers_name_nothing_of_the_farm(server: ServerProcess) -> None:
    server.client("deadline").create_farm(displayName="a secret farm name")
    _, alive = get(f"{server.url}/healthz")
    assert set(alive) == {"status", "node", "keepsHouse"}
