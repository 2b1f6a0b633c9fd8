"""`farmhand-monitor`: the executable the deadline config's `deadline-cloud-monitor.path` names.

The AWS `deadline` CLI (`deadline auth login/logout`) and `api.login/logout` of both clients run
`<path> login --profile NAME` and `<path> logout --profile NAME`; a sign-in profile's
`credential_process` runs `<path> credentials --profile NAME`. With no terminal to type a password
into (those callers pipe its output), login shows a device code: it prints the sign-in page's
address and the code, opens the page in a browser when there is one, and waits for the approval.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import sys
import webbrowser

from ..exceptions import DeadlineOperationError
from ._flows import DeviceCode, process_credentials, sign_in_with_device, sign_in_with_password, sign_out

__all__ = ["device_code_lines", "main", "open_in_browser"]


def device_code_lines(code: DeviceCode) -> str:
    """What a person reads to approve the sign-in (also parsed by `api.login`)."""
    minutes = max(1, code.expires_in // 60)
    return (
        f"To sign in, open {code.verification_uri_complete}\n"
        f"and approve the code {code.user_code} (it expires in {minutes} min).\n"
    )


def open_in_browser(url: str) -> None:
    """Open the page in the user's browser: one named by BROWSER, or a desktop's default browser.

    Never a text-mode browser in the terminal (which the caller's pipe would swallow).
    """
    desktop = (
        sys.platform in ("darwin", "win32") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
    if not (os.environ.get("BROWSER") or desktop):
        return
    with contextlib.suppress(Exception):  # the printed address still works
        webbrowser.open(url)


def _login(profile: str, password_stdin: bool) -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        stored = sign_in_with_password(profile, password)
    elif sys.stdin.isatty() and sys.stdout.isatty():
        stored = sign_in_with_password(profile, getpass.getpass("Password: "))
    else:

        def show(code: DeviceCode) -> None:
            sys.stdout.write(device_code_lines(code))
            sys.stdout.flush()
            open_in_browser(code.verification_uri_complete)

        stored = sign_in_with_device(profile, show)
    return f"Signed in to {stored.url} as {stored.user_name} (profile {profile})."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="farmhand-monitor", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    login = commands.add_parser(
        "login", help="Sign in a profile (password in a terminal, else a device code)."
    )
    login.add_argument("--profile", required=True)
    login.add_argument("--password-stdin", action="store_true", help="Read the password from stdin.")
    logout = commands.add_parser("logout", help="Revoke the profile's sign-in and forget it.")
    logout.add_argument("--profile", required=True)
    credentials = commands.add_parser("credentials", help="Print credentials (credential_process).")
    credentials.add_argument("--profile", required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "credentials":
            sys.stdout.write(json.dumps(process_credentials(args.profile)) + "\n")
        elif args.command == "login":
            print(_login(args.profile, args.password_stdin))
        else:
            print(sign_out(args.profile))
    except DeadlineOperationError as error:
        # stdout: `deadline auth login` shows a failed monitor's stdout; stderr: credential_process.
        stream = sys.stderr if args.command == "credentials" else sys.stdout
        print(f"Error: {error}", file=stream)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def console_main() -> None:
    sys.exit(main())
