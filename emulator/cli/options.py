"""What the client commands share: help that shows defaults, the target's URL and keys, errors.

Defaults come from the same EMULATOR_* variables the server reads (through Settings), so a
shell that started `transcode-emulator serve` with EMULATOR_PORT=8081 reaches it unchanged.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emulator.config import Settings
from emulator.errors import ApiError

Run = Callable[[argparse.Namespace], int]

URL_DEFAULT = "$EMULATOR_PUBLIC_URL, else http://$EMULATOR_HOST:$EMULATOR_PORT (127.0.0.1:8080)"


class Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends `(default: X)` where X says something; None and False ones explain themselves."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False, [], argparse.SUPPRESS):
            return action.help or ""
        return super()._get_help_string(action) or ""


class Parser(argparse.ArgumentParser):
    """Every parser and subparser of the CLI: the same formatter, so every flag shows a default."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", Formatter)
        super().__init__(*args, **kwargs)


def command(commands: Any, name: str, summary: str, run: Run | None = None) -> Parser:
    """A subcommand whose one-line summary shows in the list and atop its own --help."""
    parser: Parser = commands.add_parser(name, help=summary, description=summary)
    if run is not None:
        parser.set_defaults(run=run)
    return parser


def target_flags(
    parser: argparse.ArgumentParser, *, keys: bool = True, token: bool = True, nested: bool = False
) -> None:
    """--url (and --access-key-id/--access-key-secret, --token): where and as whom to send."""
    # Nested parsers must not reset what the parent parsed (argparse applies their defaults).
    default = argparse.SUPPRESS if nested else None
    parser.add_argument(
        "--url", default=default, help=f"the emulator's base URL (default: {URL_DEFAULT})"
    )
    if keys:
        parser.add_argument(
            "--access-key-id",
            default=default,
            help="key id to sign with (default: $EMULATOR_ACCESS_KEY_ID, else the development key)",
        )
        parser.add_argument(
            "--access-key-secret",
            default=default,
            help="its secret (default: $EMULATOR_ACCESS_KEY_SECRET, else the development secret)",
        )
    if token:
        parser.add_argument(
            "--token",
            default=default,
            help="control API token (default: $EMULATOR_CONTROL_TOKEN, else none)",
        )


@dataclass(frozen=True)
class Target:
    url: str
    access_key_id: str
    access_key_secret: str
    token: str | None


def target(args: argparse.Namespace) -> Target:
    """The flags given, else the environment, else the development defaults."""
    settings = Settings()
    return Target(
        url=(getattr(args, "url", None) or settings.api_base_url).rstrip("/"),
        access_key_id=getattr(args, "access_key_id", None) or settings.access_key_id,
        access_key_secret=getattr(args, "access_key_secret", None) or settings.access_key_secret,
        token=getattr(args, "token", None) or settings.control_token,
    )


def guarded(run: Run) -> Run:
    """One line on stderr and exit status 1 for an API error or an emulator out of reach."""

    def wrapped(args: argparse.Namespace) -> int:
        import httpx

        try:
            return int(run(args))
        except ApiError as exc:
            print(f"transcode-emulator: {exc.code} {exc.msg}: {exc.detail}", file=sys.stderr)
        except httpx.TransportError as exc:
            why = str(exc) or type(exc).__name__
            print(
                f"transcode-emulator: cannot reach the emulator at {target(args).url} ({why});"
                " is it running? (--url, EMULATOR_PORT or EMULATOR_PUBLIC_URL)",
                file=sys.stderr,
            )
        return 1

    return wrapped


# -- argument types: a bad value is a usage error (one line, the usage, exit status 2) --------


def api_path(text: str) -> str:
    if not text.startswith("/"):
        raise argparse.ArgumentTypeError(f"{text!r} must start with / (e.g. /api/list_template)")
    return text


def query_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key, value


def param(text: str) -> tuple[str, Any]:
    """KEY=VALUE (a string) or KEY:=JSON (a number, boolean, list, object, null), as httpie."""
    key, sep, value = text.partition("=")
    if not sep or not key or key == ":":
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE or KEY:=JSON")
    if key.endswith(":"):
        try:
            return key[:-1], json.loads(value)
        except json.JSONDecodeError as exc:
            raise argparse.ArgumentTypeError(f"{text!r}: not valid JSON ({exc})") from None
    return key, value


def json_text(text: str) -> str:
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from None
    return text


def positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value
