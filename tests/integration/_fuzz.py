"""A request fuzzer driven by botocore's service models.

For an operation it builds input from the operation's input shape (real ids where a member names a
resource of a small world), serialises it with botocore's own serializer, applies one mutation of
the classes a hostile client sends (deep nesting, huge integers, out-of-range timestamps, forged
paging tokens, lone surrogates, NUL characters, over-long strings, wrong types), signs the result
with botocore's SigV4 signer (unless the model says the operation is unsigned, as sign-in calls
are) and sends it. What matters is the answer's status: never a 5xx. Every protocol the farm
speaks is covered: rest-json (Deadline), json (Logs, farmhand's own services) and query (STS).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import http.client
import json
import random
import string
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import botocore.session
import xxhash
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.model import OperationModel, ServiceModel
from botocore.serialize import create_serializer

from farmhand._models import add_models_to

MUTATIONS = (
    "none",
    "deep_nesting",
    "huge_integer",
    "timestamp_out_of_range",
    "forged_token",
    "lone_surrogate",
    "nul_character",
    "long_string",
    "wrong_type",
)
DEEP = 3000
_DEEP_MARKER = "\u2603fuzz-deep\u2603"
_MAX_DEPTH = 5


@dataclass
class Outcome:
    operation: str
    mutation: str
    status: int
    detail: str


@dataclass
class FuzzReport:
    operations: int = 0
    requests: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    server_errors: list[Outcome] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.requests += 1
        self.by_status[outcome.status] = self.by_status.get(outcome.status, 0) + 1
        if outcome.status >= 500:
            self.server_errors.append(outcome)


class Fuzzer:
    """Builds, mutates, signs and sends requests for the operations of one service."""

    def __init__(
        self,
        url: str,
        access_key: str,
        secret_key: str,
        service: str,
        ids: dict[str, list[str]],
        seed: int,
    ) -> None:
        self.url = url
        self.credentials = Credentials(access_key, secret_key)
        session = botocore.session.get_session()
        add_models_to(session)
        self.model: ServiceModel = session.get_service_model(service)
        self.service = service
        self.signing_name = self.model.signing_name or service
        self.serializer = create_serializer(self.model.metadata["protocol"], include_validation=False)
        self.ids = ids
        self.rng = random.Random(seed)
        self._wire = _Wire(url)

    # -- one request -------------------------------------------------------------------------------

    def run(self, operation_name: str, mutation: str) -> Outcome:
        operation = self.model.operation_model(operation_name)
        params = self._value(operation.input_shape, "", 0) if operation.input_shape is not None else {}
        try:
            request = self.serializer.serialize_to_request(params, operation)
        except Exception as exc:  # a generated value botocore cannot serialise: not a server answer
            return Outcome(operation_name, mutation, 0, f"not serialisable: {exc}")
        self._mutate(request, operation, mutation)
        status, body = self._send(request, signed=operation.auth_type != "none")
        return Outcome(operation_name, mutation, status, body[:300].decode("utf-8", "replace"))

    # -- input from the model ------------------------------------------------------------------------

    def _value(self, shape: Any, name: str, depth: int) -> Any:
        kind = shape.type_name
        rng = self.rng
        if kind == "structure":
            members = shape.members
            if shape.metadata.get("union"):
                chosen = rng.choice(list(members))
                return {chosen: self._value(members[chosen], chosen, depth + 1)}
            required = set(shape.metadata.get("required", ()))
            out: dict[str, Any] = {}
            for member_name, member in members.items():
                if member_name in required or (depth < _MAX_DEPTH and rng.random() < 0.4):
                    out[member_name] = self._value(member, member_name, depth + 1)
            return out
        if kind == "list":
            count = 0 if depth >= _MAX_DEPTH else rng.randint(max(shape.metadata.get("min", 0), 0), 2)
            return [
                self._value(shape.member, name, depth + 1)
                for _ in range(max(count, shape.metadata.get("min", 0)))
            ]
        if kind == "map":
            count = 0 if depth >= _MAX_DEPTH else rng.randint(0, 2)
            return {
                self._text(shape.key, "key"): self._value(shape.value, name, depth + 1) for _ in range(count)
            }
        if kind == "string":
            return self._text(shape, name)
        if kind in ("integer", "long"):
            low = int(shape.metadata.get("min", 0))
            high = int(shape.metadata.get("max", low + 100))
            return rng.randint(low, max(low, min(high, low + 1000)))
        if kind in ("float", "double"):
            return round(rng.uniform(0, 100), 2)
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "timestamp":
            return dt.datetime.now(dt.UTC) + dt.timedelta(days=rng.randint(-10, 10))
        if kind == "blob":
            return b"fuzz"
        return {}

    def _text(self, shape: Any, name: str) -> str:
        rng = self.rng
        if shape.enum:
            return str(rng.choice(shape.enum))
        pool = self.ids.get(name) or self.ids.get(name.rstrip("s"))
        if pool and rng.random() < 0.85:
            return rng.choice(pool)
        low = int(shape.metadata.get("min", 1))
        high = int(shape.metadata.get("max", 24))
        size = rng.randint(max(low, 1), max(low, min(high, 24)))
        return "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(size))

    # -- mutations ---------------------------------------------------------------------------------

    def _mutate(self, request: dict[str, Any], operation: OperationModel, mutation: str) -> None:
        if mutation == "none":
            return
        if isinstance(request.get("body"), dict):
            self._mutate_form(request["body"], mutation)
            return
        rng = self.rng
        body = _json_body(request)
        if mutation == "forged_token":
            forged = rng.choice(
                [
                    base64.urlsafe_b64encode(b"[{}, -1]").decode().rstrip("="),
                    base64.urlsafe_b64encode(b'[1e999, "x"]').decode().rstrip("="),
                    "f/99999999999999999999999/0",
                    "b/-1/-1",
                    "%%%",
                    "A" * 2048,
                ]
            )
            members = operation.input_shape.members if operation.input_shape else {}
            location = members["nextToken"].serialization.get("location") if "nextToken" in members else None
            if location == "querystring":
                request["query_string"]["nextToken"] = forged
            elif body is not None:
                body["nextToken"] = forged
            elif isinstance(request.get("query_string"), dict):
                request["query_string"]["nextToken"] = forged
        elif mutation == "deep_nesting":
            depth = rng.choice([70, 500, DEEP])
            if body is not None:
                # json.dumps cannot write it either: a marker is replaced by the nested text
                _replace_leaf(body, rng, lambda old: _DEEP_MARKER, force_key="fuzzDeep")
                nested = "[" * depth + "]" * depth
                request["body"] = json.dumps(body).replace(f'"{_DEEP_MARKER}"', nested).encode()
                return
            request["body"] = ('{"fuzz": ' + "[" * depth + "]" * depth + "}").encode()
        elif mutation == "huge_integer":
            huge = rng.choice([2**63, 2**64, -(2**63) - 1, 10**30])
            if body is not None and _replace_leaf(body, rng, lambda old: huge, kinds=(int, float)):
                pass
            elif isinstance(request.get("query_string"), dict):
                request["query_string"]["maxResults"] = str(huge)
            elif body is not None:
                body[rng.choice(["startTime", "endTime", "limit", "priority", "maxResults"])] = huge
        elif mutation == "timestamp_out_of_range":
            value = rng.choice([1e20, -1e20, 1e300, "99999-01-01T00:00:00Z", "0000-00-00"])
            if body is not None and not _replace_leaf(
                body, rng, lambda old: value, kinds=(str,), matching=_looks_like_time
            ):
                body[rng.choice(["startTime", "endTime", "dateTime", "createdAt"])] = value
        elif mutation in ("lone_surrogate", "nul_character", "long_string"):

            def change(old: Any) -> Any:
                text = old if isinstance(old, str) else "x"
                if mutation == "lone_surrogate":
                    return text + rng.choice(["\udfff", "\ud800", "\udc00x"])
                if mutation == "nul_character":
                    return text + "\x00"
                return text + "x" * rng.choice([300, 5000, 70000])

            if body is not None and rng.random() < 0.8:
                if not _replace_leaf(body, rng, change, kinds=(str,)):
                    body["tags"] = {change("k"): change("v")}
            else:
                self._mutate_url(request, change)
        elif mutation == "wrong_type" and body is not None:
            _replace_leaf(body, rng, lambda old: rng.choice([{}, [], "text", True, None, 1.5, -1]))
        if body is not None:
            request["body"] = json.dumps(body).encode()

    def _mutate_form(self, form: dict[str, Any], mutation: str) -> None:
        """The query protocol (STS): a form of flat text values, mutated in place."""
        rng = self.rng
        key = rng.choice([k for k in form if k not in ("Action", "Version")] or ["Fuzz"])
        text = str(form.get(key, "x"))
        form[key] = {
            "deep_nesting": "[" * DEEP + "]" * DEEP,
            "huge_integer": str(2**64),
            "timestamp_out_of_range": "99999-01-01T00:00:00Z",
            "forged_token": "%%%",
            "lone_surrogate": text + "\udfff",
            "nul_character": text + "\x00",
            "long_string": text + "x" * 70000,
        }.get(mutation, text)
        if mutation == "wrong_type":
            form[rng.choice(["Action", "Version"])] = rng.choice(["", "Nope", "\udfff", "2011-06-15" * 50])

    def _mutate_url(self, request: dict[str, Any], change: Callable[[Any], Any]) -> None:
        query = request.get("query_string")
        if isinstance(query, dict) and query and self.rng.random() < 0.5:
            key = self.rng.choice(list(query))
            query[key] = change(str(query[key]))
            return
        parts = request["url_path"].split("/")
        index = self.rng.randrange(1, len(parts)) if len(parts) > 1 else 0
        parts[index] = quote(change(parts[index]).encode("utf-8", "surrogatepass"), safe="")
        request["url_path"] = "/".join(parts)

    # -- the wire ----------------------------------------------------------------------------------

    def _send(self, request: dict[str, Any], *, signed: bool = True) -> tuple[int, bytes]:
        query = request.get("query_string") or {}
        encoded = _query_text(query) if isinstance(query, dict) else str(query)
        url = self.url + request["url_path"] + (f"?{encoded}" if encoded else "")
        body = request.get("body") or b""
        headers = dict(request.get("headers") or {})
        if isinstance(body, dict):
            body = _query_text(body)
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
        if isinstance(body, str):
            body = body.encode("utf-8", "surrogatepass")
        if self.model.metadata["protocol"] == "rest-json":
            headers.setdefault("Content-Type", "application/json")
        aws_request = AWSRequest(method=request["method"], url=url, data=body, headers=headers)
        if signed:
            SigV4Auth(self.credentials, self.signing_name, "us-west-2").add_auth(aws_request)
        prepared = aws_request.prepare()
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        for attempt in range(2):
            connection = self._wire.connect()
            try:
                connection.request(
                    request["method"], target, body=body or None, headers=dict(prepared.headers)
                )
                response = connection.getresponse()
                data = response.read()
                if response.getheader("connection", "").lower() == "close":
                    self.close()
                return response.status, data
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._wire.close()


class _Wire:
    """One kept-alive HTTP connection to the server, opened again after the server closes it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._connection: http.client.HTTPConnection | None = None

    def connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            parts = urlsplit(self.url)
            self._connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _query_text(query: dict[str, Any]) -> str:
    """Like urlencode, but lone surrogates go out as the bytes a careless client would send."""
    pairs = []
    for key, value in query.items():
        for item in value if isinstance(value, list) else [value]:
            text = str(item).lower() if isinstance(item, bool) else str(item)
            pairs.append(f"{quote(key, safe='')}={quote(text.encode('utf-8', 'surrogatepass'), safe='')}")
    return "&".join(pairs)


def _json_body(request: dict[str, Any]) -> Any:
    body = request.get("body")
    if isinstance(body, dict):
        return None
    if not body:
        return {} if request.get("method") in ("POST", "PUT", "PATCH") else None
    try:
        decoded = json.loads(body)
    except ValueError:
        return None
    return decoded if isinstance(decoded, dict) else None


def _looks_like_time(key: str) -> bool:
    lowered = key.lower()
    return "time" in lowered or lowered.endswith("at") or "date" in lowered


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _leaves(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _leaves(child, (*path, index))
    else:
        yield path, value


def _replace_leaf(
    body: dict[str, Any],
    rng: random.Random,
    change: Callable[[Any], Any],
    *,
    kinds: tuple[type, ...] | None = None,
    matching: Callable[[str], bool] | None = None,
    force_key: str | None = None,
) -> bool:
    """Replace one leaf (of `kinds`, under a key `matching`) with `change(leaf)`; False if none fits."""
    candidates = [
        (path, value)
        for path, value in _leaves(body)
        if path
        and (kinds is None or (isinstance(value, kinds) and not isinstance(value, bool)))
        and (matching is None or (isinstance(path[-1], str) and matching(path[-1])))
    ]
    if not candidates:
        if force_key is not None:
            body[force_key] = change(None)
            return True
        return False
    path, value = rng.choice(candidates)
    parent: Any = body
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = change(value)
    return True


BATCH_OPERATIONS = ("missing", "put", "get")
_FRAME_KEY = struct.Struct(">H")
_FRAME_SIZE = struct.Struct(">q")


class BatchFuzzer:
    """Hostile bodies for the farm's job-attachment batch endpoint (`POST /<bucket>?x-farmhand-batch=`):
    JSON key lists for `missing` and `get`, length-prefixed frames for `put`, signed for `s3`."""

    def __init__(
        self, url: str, access_key: str, secret_key: str, bucket: str, prefix: str, seed: int
    ) -> None:
        self.url = url
        self.credentials = Credentials(access_key, secret_key)
        self.bucket = bucket
        self.prefix = prefix
        self.rng = random.Random(seed)
        self._wire = _Wire(url)

    def run(self, operation: str, mutation: str) -> Outcome:
        rng = self.rng
        content = rng.choice([b"", b"x", bytes(rng.randrange(256) for _ in range(64))])
        good_key = f"{self.prefix}/Data/{xxhash.xxh3_128_hexdigest(content)}.xxh128"
        keys: list[Any] = [good_key, f"{self.prefix}/Data/{'0' * 32}.xxh128", f"{self.prefix}/Manifests/m"]
        keys = rng.sample(keys, rng.randint(0, len(keys)))
        bucket, query = self.bucket, operation
        items: list[tuple[Any, bytes]] = [(key, content) for key in keys]
        raw: bytes | None = None
        if mutation == "deep_nesting":
            raw = ('{"keys": ' + "[" * DEEP + "]" * DEEP + "}").encode()
            if operation == "put":
                raw = _frames([(good_key, raw)])
        elif mutation == "huge_integer":
            keys.append(rng.choice([2**64, -(2**63), 1e308]))
            if operation == "put":
                raw = _FRAME_KEY.pack(len(good_key)) + good_key.encode() + _FRAME_SIZE.pack(2**62) + content
        elif mutation == "timestamp_out_of_range":  # no times here: path tricks instead
            keys.append(rng.choice(["../../etc/passwd", "/", "", ".", f"{self.prefix}/Data/../../x"]))
            items = [(key, content) for key in keys if isinstance(key, str)]
        elif mutation == "forged_token":  # the operation and bucket named in the URL
            query = rng.choice(["", "nope", "missing\x00", "get&x-farmhand-batch=put", "%ff"])
            bucket = rng.choice(["no-such-bucket", self.bucket + "/x", "..", "%00"])
        elif mutation in ("lone_surrogate", "nul_character", "long_string"):
            suffix = {"lone_surrogate": "\udfff", "nul_character": "\x00", "long_string": "k" * 70000}[
                mutation
            ]
            keys.append(good_key + suffix)
            items.append((good_key + suffix, content))
        elif mutation == "wrong_type":
            raw = rng.choice(
                [b"not json", b"[]", b'{"keys": {}}', b'{"keys": [{}]}', b"\xff\xfe", b"\x00\x05ab", b"\x00"]
            )
        if raw is None:
            raw = _frames(items) if operation == "put" else json.dumps({"keys": keys}).encode()
        return self._send(operation, mutation, bucket, query, raw)

    def _send(self, operation: str, mutation: str, bucket: str, query: str, body: bytes) -> Outcome:
        url = f"{self.url}/{quote(bucket, safe='')}?x-farmhand-batch={quote(query, safe='=&')}"
        payload_hash = "UNSIGNED-PAYLOAD" if operation == "put" else hashlib.sha256(body).hexdigest()
        request = AWSRequest(
            method="POST",
            url=url,
            data=body,
            headers={"X-Amz-Content-SHA256": payload_hash, "Content-Type": "application/octet-stream"},
        )
        request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
        S3SigV4Auth(self.credentials, "s3", "us-west-2").add_auth(request)
        prepared = request.prepare()
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        connection = self._wire.connect()
        try:
            connection.request("POST", target, body=body, headers=dict(prepared.headers))
            response = connection.getresponse()
            data = response.read()
        except (ConnectionError, http.client.HTTPException) as error:
            # A streamed answer cut short after its 200 head is a server failure too
            self._wire.close()
            return Outcome(f"batch:{operation}", mutation, 599, f"connection broken: {error!r}")
        if response.getheader("connection", "").lower() == "close":
            self._wire.close()
        return Outcome(f"batch:{operation}", mutation, response.status, data[:300].decode("utf-8", "replace"))

    def close(self) -> None:
        self._wire.close()


def _frames(items: list[tuple[Any, bytes]]) -> bytes:
    out = bytearray()
    for key, data in items:
        encoded = str(key).encode("utf-8", "surrogatepass")[:65535]
        out += _FRAME_KEY.pack(len(encoded)) + encoded + _FRAME_SIZE.pack(len(data)) + data
    return bytes(out)


PAGE_TARGETS = (
    ("GET", "/signin"),
    ("POST", "/signin"),
    ("POST", "/signin/device"),
    ("POST", "/signout"),
    ("GET", "/"),
    ("GET", "/monitor/"),
    ("GET", "/monitor/events"),
    ("GET", "/monitor/static/app.js"),
    ("GET", "/2023-10-12/farms"),  # a monitor page's API call: cookie and CSRF header, no signature
)
_PAGE_FIELDS = ("user_name", "password", "user_code", "decision", "next", "csrf")


class PageFuzzer:
    """Hostile browsers for the farm's unsigned web surfaces: the sign-in pages and forms, the web
    monitor's pages and event stream, and the monitor's cookie-authenticated API calls. Cookies,
    CSRF tokens, form fields and queries get the mutation classes (raw bytes where a browser could
    send them)."""

    def __init__(self, url: str, session_token: str, user_name: str, password: str, seed: int) -> None:
        self.url = url
        self.host = urlsplit(url).netloc
        self.session_token = session_token
        self.user_name = user_name
        self.password = password
        self.rng = random.Random(seed)

    def _bad(self, mutation: str, text: str) -> bytes:
        """`text` changed by one mutation class, as the bytes that go on the wire (before quoting)."""
        rng = self.rng
        raw = text.encode()
        if mutation == "deep_nesting":
            return raw + b"[" * DEEP + b"]" * DEEP
        if mutation == "huge_integer":
            return str(rng.choice([2**64, -(2**63) - 1, 10**30])).encode()
        if mutation == "timestamp_out_of_range":
            return b"99999-01-01T00:00:00Z"
        if mutation == "forged_token":
            return rng.choice(
                [b"fhrt.x.y", b"fhrt." + b"a" * 32 + b".\x00", b"fhrt...", b"fhrt." + b"9" * 5000]
            )
        if mutation == "lone_surrogate":
            return raw + rng.choice([b"\xed\xb3\xbf", b"\xe9", b"\xff\xfe", "\u00e9".encode()])
        if mutation == "nul_character":
            return raw + b"\x00"
        if mutation == "long_string":
            return raw + b"x" * rng.choice([300, 5000, 70000])
        if mutation == "wrong_type":
            return rng.choice([b"", b"=", b"&&", b"%", b"%zz", b"a=b=c"])
        return raw

    def run(self, method: str, path: str, mutation: str) -> Outcome:
        rng = self.rng
        csrf = "c" * 43
        form = {
            "user_name": self.user_name.encode(),
            "password": self.password.encode(),
            "user_code": b"ABCD-EFGH",
            "decision": rng.choice([b"approve", b"deny"]),
            "next": b"/monitor/",
            "csrf": csrf.encode(),
        }
        cookies = {"farmhand_csrf": csrf.encode(), "farmhand_session": self.session_token.encode()}
        headers = {"Host": self.host, "Origin": f"http://{self.host}"}
        query = {"user_code": b"ABCD-EFGH", "next": b"/monitor/"} if path == "/signin" else {}
        if path.startswith("/2023-10-12/"):
            headers["x-farmhand-csrf"] = csrf
        if mutation != "none":
            where = rng.choice(["form", "cookie", "query", "header"])
            if where == "form" and method == "POST":
                name = rng.choice(_PAGE_FIELDS)
                form[name] = self._bad(mutation, form[name].decode())
            elif where == "cookie":
                name = rng.choice(list(cookies))
                cookies[name] = self._bad(mutation, cookies[name].decode())
            elif where == "header":
                name = rng.choice(["Origin", "x-farmhand-csrf", "Host"])
                headers[name] = self._bad(mutation, headers.get(name, "")).decode("latin-1")
            else:
                query[rng.choice(["user_code", "next", "nextToken"])] = self._bad(mutation, "q")
        body = b"&".join(quote(k).encode() + b"=" + quote(v, safe="").encode() for k, v in form.items())
        cookie = b"; ".join(k.encode() + b"=" + v for k, v in cookies.items())
        target = path + (
            "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items()) if query else ""
        )
        send_headers = {**headers, "Cookie": cookie.decode("latin-1")}
        if method == "POST":
            send_headers["Content-Type"] = "application/x-www-form-urlencoded"
        parts = urlsplit(self.url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for name, value in send_headers.items():
                connection.putheader(name, value.encode("latin-1", "replace"))
            if method == "POST":
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body if method == "POST" else None)
            response = connection.getresponse()
            if path == "/monitor/events" and response.status == 200:
                return Outcome(f"page:{method} {path}", mutation, 200, "event stream")
            data = response.read()
            return Outcome(
                f"page:{method} {path}", mutation, response.status, data[:300].decode("utf-8", "replace")
            )
        except (ConnectionError, http.client.HTTPException, TimeoutError) as error:
            return Outcome(f"page:{method} {path}", mutation, 599, f"connection broken: {error!r}")
        finally:
            connection.close()
