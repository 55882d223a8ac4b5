"""Vendor API from the shell: call (any route, signed or Basic), query-task, create-task, lists."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from emulator import signing
from emulator.cli.options import (
    api_path,
    command,
    guarded,
    json_text,
    param,
    target,
    target_flags,
)
from emulator.cli.table import table

if TYPE_CHECKING:  # imported when a command runs: `serve` starts without httpx's import
    import httpx

    from emulator.clients.api import TranscodeClient

V1_PREFIX = "/vodencoding/v1"


def add_commands(commands: Any) -> None:
    """Add call, query-task, create-task, templates and storages to the CLI's subparsers."""
    call = command(commands, "call", "send one request, print the envelope; exit 1 if code != 0")
    call.add_argument("method", type=str.upper, help="GET, POST, PUT or DELETE")
    call.add_argument("path", type=api_path, help="e.g. /api/list_template")
    call.add_argument(
        "params",
        nargs="*",
        type=param,
        metavar="KEY=VALUE",
        help="a parameter: KEY=text or KEY:=JSON; the query string for GET (and DELETE with"
        " --v1), else a field of the JSON body",
    )
    call.add_argument("--json", dest="body", type=json_text, help="the JSON body, as given")
    _generation_flags(call)
    call.set_defaults(run=_call, more_params=param)

    query = command(commands, "query-task", "print one task's envelope (query_task)", _query)
    query.add_argument("task_id", help="as create_task returned it")
    query.add_argument(
        "--field", help="print only this field of the task (e.g. output_url, status)"
    )
    _generation_flags(query)

    create = command(commands, "create-task", "create a task and print its id alone", _create)
    create.add_argument("--template", required=True, help="template name (e.g. 480p)")
    create.add_argument("--input", required=True, help="input URL (http(s):// or s3://)")
    create.add_argument("--output", required=True, help="output key in the storage's bucket")
    where = create.add_mutually_exclusive_group(required=True)
    where.add_argument("--storage-id", help="an existing storage")
    where.add_argument(
        "--bucket", help="a bucket: reuses the storage on it (no prefix) or adds one"
    )
    create.add_argument("--region", default="cn-hz", help="region of a storage --bucket adds")
    create.add_argument("--type", default="s3", help="type of a storage --bucket adds")
    create.add_argument(
        "--envelope", action="store_true", help="print the whole envelope, not the id alone"
    )
    target_flags(create, token=False)

    templates = command(
        commands, "templates", "a table of the templates, or one as JSON", _templates
    )
    templates.add_argument("name", nargs="?", help="print this template's envelope instead")
    target_flags(templates, token=False)

    storages = command(commands, "storages", "a table of the storages", _storages)
    target_flags(storages, token=False)


def _generation_flags(parser: argparse.ArgumentParser) -> None:
    target_flags(parser, token=False)
    parser.add_argument(
        "--v1",
        action="store_true",
        help=f"HTTP Basic auth, as {V1_PREFIX}/ routes take it (default: signed, as /api/)",
    )
    parser.add_argument(
        "--scheme",
        choices=["primary", "legacy"],
        default="primary",
        help="signature scheme (without --v1)",
    )


@guarded
def _call(args: argparse.Namespace) -> int:
    query: dict[str, Any] = {}
    fields: dict[str, Any] = {}
    in_query = ("GET", "DELETE") if args.v1 else ("GET",)
    for key, value in args.params:
        if args.method in in_query:
            query[key] = signing.legacy_value(value)
        else:
            fields[key] = value
    body = (args.body or "").encode()
    if fields:
        given = json.loads(body) if body else {}
        if not isinstance(given, dict):
            print(
                "transcode-emulator call: KEY=VALUE needs --json to be an object", file=sys.stderr
            )
            return 2
        body = json.dumps({**given, **fields}, separators=(",", ":"), ensure_ascii=False).encode()
    return print_envelope(_send(args, args.method, args.path, query, body))


@guarded
def _query(args: argparse.Namespace) -> int:
    path = f"{V1_PREFIX}/query_task" if args.v1 else "/api/query_task"
    response = _send(args, "GET", path, {"task_id": args.task_id}, b"")
    if args.field is None:
        return print_envelope(response)
    envelope = response.json()
    data = envelope.get("data") if envelope.get("code") == 0 else None
    if not isinstance(data, dict) or args.field not in data:
        detail = envelope.get("detail") or f"the task has no field {args.field!r}"
        print(f"transcode-emulator query-task: {detail}", file=sys.stderr)
        return 1
    value = data[args.field]
    print(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
    return 0


def _send(
    args: argparse.Namespace, method: str, path: str, query: dict[str, str], body: bytes
) -> httpx.Response:
    import httpx

    to = target(args)
    if args.v1:
        from emulator.clients.v1 import TranscodeClientV1

        with TranscodeClientV1(to.url, to.access_key_id, to.access_key_secret) as v1:
            return v1.http.request(method, path, params=query, content=body)
    headers = signing.sign_request(
        method=method,
        path=path,
        query=query,
        body=body,
        scheme=args.scheme,
        access_key_id=to.access_key_id,
        access_key_secret=to.access_key_secret,
    )
    return httpx.request(
        method, to.url + path, params=query, content=body, headers=headers, timeout=30
    )


def print_envelope(response: httpx.Response) -> int:
    """The envelope, indented, on stdout; exit status 0 only for code 0."""
    try:
        envelope = response.json()
    except ValueError:
        text = response.text[:200]
        print(f"transcode-emulator: HTTP {response.status_code}, not JSON: {text}", file=sys.stderr)
        return 1
    print(json.dumps(envelope, indent=2, ensure_ascii=False))
    return 0 if isinstance(envelope, dict) and envelope.get("code") == 0 else 1


def api_client(args: argparse.Namespace) -> TranscodeClient:
    from emulator.clients.api import TranscodeClient

    to = target(args)
    return TranscodeClient(to.url, to.access_key_id, to.access_key_secret, control_token=to.token)


@guarded
def _create(args: argparse.Namespace) -> int:
    with api_client(args) as api:
        storage_id = args.storage_id or _storage_on(api, args.bucket, args.region, args.type)
        params = {
            "template_name": args.template,
            "input": args.input,
            "output": args.output,
            "storage_id": storage_id,
        }
        response = api.request("POST", "/api/create_task", params)
    if args.envelope:
        return print_envelope(response)
    from emulator.clients.api import unwrap

    print(unwrap(response)["task_id"])  # alone, for TASK=$(transcode-emulator create-task ...)
    return 0


def _storage_on(api: TranscodeClient, bucket: str, region: str, type: str) -> str:
    """The storage on `bucket` with no prefix, else a new one (stderr says which)."""
    for storage in api.list_storage().list:
        if storage.bucket == bucket and not storage.prefix:
            print(f"storage {storage.storage_id} (bucket {bucket})", file=sys.stderr)
            return storage.storage_id
    storage_id = api.add_storage(region, type, bucket).storage_id
    print(f"storage {storage_id} added (bucket {bucket})", file=sys.stderr)
    return storage_id


@guarded
def _templates(args: argparse.Namespace) -> int:
    with api_client(args) as api:
        if args.name:
            return print_envelope(api.request("GET", "/api/query_template", {"name": args.name}))
        found = api.list_template().list
    headers = ["NAME", "FORMAT", "RESOLUTION", "VCODEC", "ACODEC", "QUALITY", "TYPE"]
    rows = [
        [t.name, t.format, t.resolution, t.vcodec, t.acodec, str(t.quality), t.template_type or ""]
        for t in found
    ]
    print(table(headers, rows) if rows else "no templates")
    return 0


@guarded
def _storages(args: argparse.Namespace) -> int:
    with api_client(args) as api:
        found = api.list_storage().list
    rows = [[s.storage_id, s.type, s.region, s.bucket, s.prefix] for s in found]
    print(
        table(["STORAGE ID", "TYPE", "REGION", "BUCKET", "PREFIX"], rows) if rows else "no storages"
    )
    return 0
