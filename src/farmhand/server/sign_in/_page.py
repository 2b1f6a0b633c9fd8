"""The farm's sign-in page: plain server-rendered HTML (no script, no CDN), where a person signs in
and approves the device code a terminal shows.

Every form carries a CSRF token that must equal the `farmhand_csrf` cookie (a cross-site form
cannot read or set it), and a POST whose Origin is another site is refused. The web session is a
refresh token in an HttpOnly, SameSite=Lax cookie (Secure over TLS), so the web monitor can build
on it. Pages are never cached and never framed.
"""

from __future__ import annotations

import datetime as dt
import hmac
import html
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, quote, urlsplit

from ..._models import IDENTITY_SERVICE
from ..protocol import ServiceError, ThrottlingError, ValidationError, service_model, validate
from ._device import decide_device, find_pending_device, normalise_user_code
from ._service import SignInRequest, SignInService
from ._tokens import SignedInUser, issue_refresh_token, redeem_refresh_token, revoke_refresh_token

__all__ = [
    "CSRF_COOKIE",
    "PAGE_PATHS",
    "SESSION_COOKIE",
    "SIGN_IN_PATH",
    "SIGN_OUT_PATH",
    "PageAnswer",
    "PageRequest",
    "SignInPage",
    "origin_names_host",
    "read_cookies",
    "tokens_match",
]

SIGN_IN_PATH = "/signin"
DEVICE_PATH = "/signin/device"
SIGN_OUT_PATH = "/signout"
PAGE_PATHS = (SIGN_IN_PATH, DEVICE_PATH, SIGN_OUT_PATH)
SESSION_COOKIE = "farmhand_session"
CSRF_COOKIE = "farmhand_csrf"
WEB_CLIENT_NAME = "web sign-in"

_SECURITY_HEADERS = (
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),  # no-referrer makes a browser send `Origin: null`
    ("Cache-Control", "no-store"),
)

_STYLE = """
body{font-family:system-ui,sans-serif;background:#f4f5f7;color:#1d2330;margin:0}
main{max-width:26rem;margin:4rem auto;background:#fff;padding:2rem 2.25rem;border-radius:10px;
box-shadow:0 1px 4px rgba(0,0,0,.12)}
h1{font-size:1.35rem;margin:0 0 1.25rem}label{display:block;margin:.9rem 0 .3rem;font-weight:600}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.55rem;font-size:1rem;
border:1px solid #b8bfcc;border-radius:6px}
button{margin-top:1.25rem;padding:.55rem 1.1rem;font-size:1rem;border:0;border-radius:6px;
background:#2456c7;color:#fff;cursor:pointer}button.secondary{background:#e3e6ec;color:#1d2330}
.error{background:#fde8e8;color:#8a1c1c;padding:.6rem .8rem;border-radius:6px}
.code{font-family:ui-monospace,monospace;font-size:1.4rem;letter-spacing:.15rem}
.muted{color:#5b6477;font-size:.9rem}form.inline{display:inline}
"""


@dataclass(frozen=True)
class PageRequest:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    address: str
    secure: bool  # served over TLS
    now: dt.datetime


@dataclass
class PageAnswer:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = "text/html; charset=utf-8"


class SignInPage:
    """GET/POST /signin, POST /signin/device, POST /signout."""

    def __init__(self, service: SignInService) -> None:
        self.service = service
        self.store = service.store

    def handle(self, request: PageRequest) -> PageAnswer:
        cookies = read_cookies(request.headers.get("cookie", ""))
        csrf = cookies.get(CSRF_COOKIE) or ""
        set_cookies: list[str] = []
        if not csrf:
            csrf = secrets.token_urlsafe(32)
            set_cookies.append(_cookie(CSRF_COOKIE, csrf, request.secure))
        session = self._session(cookies.get(SESSION_COOKIE), request.now)
        route = (request.method, request.path)
        if route == ("GET", SIGN_IN_PATH):
            answer = self._get_sign_in(request, session, csrf)
        elif request.method == "POST" and request.path in PAGE_PATHS:
            form = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
            if not _same_origin(request) or not tokens_match(form.get("csrf", ""), csrf):
                answer = _page(403, "Sign-in form expired", "<p>Reload the page and try again.</p>")
            elif request.path == SIGN_IN_PATH:
                answer = self._post_sign_in(request, form, csrf)
            elif request.path == DEVICE_PATH:
                answer = self._post_device(request, form, session, csrf)
            else:
                answer = self._post_sign_out(request, cookies.get(SESSION_COOKIE))
        else:
            answer = _page(404, "Not found", "<p>There is no such page.</p>")
        answer.headers = [*_SECURITY_HEADERS, *answer.headers, *(("Set-Cookie", c) for c in set_cookies)]
        return answer

    def _session(self, token: str | None, now: dt.datetime) -> SignedInUser | None:
        if not token:
            return None
        try:
            with self.store.read() as conn:
                return redeem_refresh_token(conn, token, now)
        except ServiceError:
            return None

    # -- pages ----------------------------------------------------------------------------------

    def _get_sign_in(self, request: PageRequest, session: SignedInUser | None, csrf: str) -> PageAnswer:
        user_code = request.query.get("user_code", "")
        next_page = _local_path(request.query.get("next", ""))
        if session is None:
            return _sign_in_form(csrf, user_code, next_page=next_page)
        if next_page and not user_code:
            return PageAnswer(303, b"", [("Location", next_page)])
        if user_code:
            with self.store.read() as conn:
                pending = find_pending_device(conn, user_code, request.now)
            if pending is None:
                return _signed_in_page(
                    session, csrf, error=f"The code {user_code} is unknown, expired or already used."
                )
            return _page(
                200,
                "Approve sign-in",
                f"<p>Signed in as <strong>{_e(session.user_name)}</strong>.</p>"
                f"<p><strong>{_e(pending.client_name)}</strong> asks to sign in to this farm as you "
                f"with the code</p><p class=code>{_e(pending.user_code)}</p>"
                "<p class=muted>Approve only if you started this sign-in and your terminal shows the "
                "same code.</p>"
                f"<form method=post action={DEVICE_PATH}>{_hidden('csrf', csrf)}"
                f"{_hidden('user_code', pending.user_code)}"
                "<button name=decision value=approve>Approve</button> "
                "<button class=secondary name=decision value=deny>Deny</button></form>",
            )
        return _signed_in_page(session, csrf)

    def _post_sign_in(self, request: PageRequest, form: dict[str, str], csrf: str) -> PageAnswer:
        user_name, password = form.get("user_name", "").strip(), form.get("password", "")
        user_code = form.get("user_code", "")
        next_page = _local_path(form.get("next", ""))
        if not user_name or not password:
            return _sign_in_form(
                csrf, user_code, user_name, "Enter your user name and password.", 400, next_page
            )
        try:
            # The form is held to the SignIn call's model, as the API is (name pattern, lengths)
            operation = service_model(IDENTITY_SERVICE).operation_model("SignIn")
            validate(operation.input_shape, {"userName": user_name, "password": password})
        except ValidationError as error:
            return _sign_in_form(csrf, user_code, "", f"Not a valid sign-in: {error.message}", 400, next_page)
        attempt = SignInRequest(request.address, "", request.now)
        try:
            user = self.service.check_password(user_name, password, attempt)
        except ThrottlingError as error:
            return _sign_in_form(csrf, user_code, user_name, error.message, 429, next_page)
        except ServiceError as error:
            return _sign_in_form(csrf, user_code, user_name, error.message, 401, next_page)
        with self.store.write() as conn:
            token = issue_refresh_token(conn, user.principal_id, WEB_CLIENT_NAME, request.now)
        target = SIGN_IN_PATH + (f"?user_code={quote(normalise_user_code(user_code))}" if user_code else "")
        if next_page and not user_code:
            target = next_page  # back to the monitor page that sent the browser here
        return PageAnswer(
            303,
            b"",
            [("Location", target), ("Set-Cookie", _cookie(SESSION_COOKIE, token.text, request.secure))],
        )

    def _post_device(
        self, request: PageRequest, form: dict[str, str], session: SignedInUser | None, csrf: str
    ) -> PageAnswer:
        user_code = form.get("user_code", "")
        if session is None:
            return _sign_in_form(csrf, user_code, error="Sign in first.", status=401)
        approve = form.get("decision") == "approve"
        with self.store.write() as conn:
            decided = decide_device(conn, user_code, session.principal_id, approve, request.now)
        if not decided:
            return _signed_in_page(
                session, csrf, error=f"The code {user_code} is unknown, expired or already used.", status=400
            )
        if approve:
            return _page(
                200,
                "Sign-in approved",
                f"<p>The terminal is now signed in as <strong>{_e(session.user_name)}</strong>.</p>"
                "<p>You can close this window.</p>",
            )
        return _page(
            200, "Sign-in denied", "<p>The terminal was not signed in. You can close this window.</p>"
        )

    def _post_sign_out(self, request: PageRequest, token: str | None) -> PageAnswer:
        if token:
            try:
                with self.store.write() as conn:
                    revoke_refresh_token(conn, token, request.now)
            except ServiceError:
                pass  # an unknown session is signed out already
        expired = _cookie(SESSION_COOKIE, "", request.secure, max_age=0)
        return PageAnswer(303, b"", [("Location", SIGN_IN_PATH), ("Set-Cookie", expired)])


# -- HTML ----------------------------------------------------------------------------------------


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _hidden(name: str, value: str) -> str:
    return f'<input type=hidden name="{_e(name)}" value="{_e(value)}">'


def _page(status: int, title: str, content: str) -> PageAnswer:
    document = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{_e(title)} - farmhand</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>{_e(title)}</h1>{content}</main></body></html>"
    )
    return PageAnswer(status, document.encode())


def _error(message: str) -> str:
    return f"<p class=error role=alert>{_e(message)}</p>" if message else ""


def _sign_in_form(
    csrf: str,
    user_code: str = "",
    user_name: str = "",
    error: str = "",
    status: int = 200,
    next_page: str = "",
) -> PageAnswer:
    code_note = (
        f"<p class=muted>Then approve the code <span class=code>{_e(normalise_user_code(user_code))}</span>."
        "</p>"
        if user_code
        else ""
    )
    return _page(
        status,
        "Sign in to the farm",
        f"{_error(error)}{code_note}<form method=post action={SIGN_IN_PATH}>{_hidden('csrf', csrf)}"
        f"{_hidden('user_code', user_code)}{_hidden('next', next_page) if next_page else ''}"
        f'<label for=user_name>User name</label><input type=text id=user_name name=user_name value="'
        f'{_e(user_name)}" autocomplete=username required autofocus>'
        "<label for=password>Password</label>"
        "<input type=password id=password name=password autocomplete=current-password required>"
        "<button type=submit>Sign in</button></form>",
    )


def _signed_in_page(session: SignedInUser, csrf: str, error: str = "", status: int = 200) -> PageAnswer:
    return _page(
        status,
        "Signed in",
        f"{_error(error)}<p>Signed in as <strong>{_e(session.user_name)}</strong>. "
        "<a href='/'>Open the farm's monitor</a></p>"
        f"<form method=get action={SIGN_IN_PATH}><label for=user_code>Code shown by your terminal</label>"
        "<input type=text id=user_code name=user_code autocomplete=off required>"
        "<button type=submit>Continue</button></form>"
        f"<form method=post action={SIGN_OUT_PATH}>{_hidden('csrf', csrf)}"
        "<button class=secondary type=submit>Sign out</button></form>",
    )


# -- cookies and origins -------------------------------------------------------------------------


def read_cookies(header: str) -> dict[str, str]:
    """The cookies of a `Cookie` header by name (none when it does not parse)."""
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def _cookie(name: str, value: str, secure: bool, max_age: int | None = None) -> str:
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
    if secure:
        parts.append("Secure")
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return "; ".join(parts)


def _local_path(target: str) -> str:
    """`target` when it is a path of this farm (the monitor page a sign-in returns to), else ""."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return ""
    if any(not 0x21 <= ord(c) <= 0x7E for c in target):
        return ""
    return target


def _same_origin(request: PageRequest) -> bool:
    """A POST from a page of another site (its Origin header says so) is refused."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return origin_names_host(origin, request.headers.get("host", ""))


def origin_names_host(origin: str, host: str) -> bool:
    """Whether an Origin header names `host`; an Origin that is not a URL names no host."""
    try:
        netloc = urlsplit(origin).netloc
    except ValueError:  # "http://[": not a URL a browser sends
        return False
    return netloc.lower() == host.lower()


def tokens_match(given: str, expected: str) -> bool:
    """Constant-time comparison of a CSRF token from a form or header with the cookie's; any text
    (a client may send bytes that are not ASCII) is compared, never an error."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )
