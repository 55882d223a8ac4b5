"""A task's input and logo to local files: http(s) streamed with limits, s3/oss via boto3."""

from __future__ import annotations

import contextlib
import errno
import functools
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from emulator.config import Settings
from emulator.db.models import Task
from emulator.errors import INPUT_DOWNLOAD_FAILED, LOGO_FETCH_FAILED, TaskFailed
from emulator.objectstore import ObjectStore, ObjectStoreError, ObjectTooLarge
from emulator.objectstore_urls import parse_object_url

if TYPE_CHECKING:  # imported on first use: importing httpx costs start-up ~70 ms
    import httpx

MAX_REDIRECTS = 5
MAX_LOGO_BYTES = 16 * 1024 * 1024


def input_path(workdir: Path) -> Path:
    """Where fetch_input() puts a task's input."""
    return workdir / "input"


def fetch_input(task: Task, *, workdir: Path, objects: ObjectStore, settings: Settings) -> None:
    """The task's input to input_path(workdir)."""
    _fetch(
        task.input,
        input_path(workdir),
        task=task,
        objects=objects,
        settings=settings,
        max_bytes=settings.max_input_bytes,
        err_code=INPUT_DOWNLOAD_FAILED,
        what="input",
    )


def fetch_logo(
    task: Task, *, workdir: Path, objects: ObjectStore, settings: Settings
) -> Path | None:
    url = str(task.template.get("logo_path") or "")
    if not url:
        return None
    target = workdir / "logo"
    _fetch(
        url,
        target,
        task=task,
        objects=objects,
        settings=settings,
        max_bytes=MAX_LOGO_BYTES,
        err_code=LOGO_FETCH_FAILED,
        what="logo",
    )
    return target


def _fetch(
    url: str,
    target: Path,
    *,
    task: Task,
    objects: ObjectStore,
    settings: Settings,
    max_bytes: int,
    err_code: int,
    what: str,
) -> None:
    """Download `url` to `target`; a full disk fails the task with one plain line."""
    with _disk_full_fails(err_code, f"downloading the {what} ({url})", settings.data_dir):
        located = parse_object_url(url)
        if located is None:
            download_http(
                url,
                target,
                max_bytes=max_bytes,
                timeout_s=settings.input_timeout_s,
                err_code=err_code,
                what=what,
                block_private=settings.block_private_networks == "on",
            )
            return
        bucket, key = located
        store = objects
        if bucket == task.storage.get("bucket"):  # the storage's own bucket: its own keys
            store = objects.client_for(
                task.storage.get("storage_ak"), task.storage.get("storage_sk")
            )
        try:
            store.download_file(bucket, key, target, max_bytes=max_bytes)
        except ObjectTooLarge:
            raise TaskFailed(err_code, f"{what} {url} is larger than {max_bytes} bytes") from None
        except ObjectStoreError as exc:
            raise TaskFailed(err_code, f"{what} download failed: {exc.message}") from None


@contextlib.contextmanager
def _disk_full_fails(err_code: int, doing: str, data_dir: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        raise disk_full(err_code, doing, data_dir) from None


def disk_full(err_code: int, doing: str, data_dir: Path) -> TaskFailed:
    """The one-line failure of a task whose data dir ran out of space."""
    return TaskFailed(err_code, f"no space left in the data dir {data_dir} while {doing}")


def private_address(url: str) -> str | None:
    """Why `url`'s host is loopback, private, link-local or otherwise not public; None if public.

    Every address the host resolves to counts, so a name with one private address is refused.
    """
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        return f"host {host!r} does not resolve: {exc}"
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global or address.is_multicast:
            return (
                f"host {host!r} is the non-public address {address} "
                "(EMULATOR_BLOCK_PRIVATE_NETWORKS=on)"
            )
    return None


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default verification, built once for every client (downloads, callbacks):
    loading the CA bundle takes ~25 ms, longer than downloading a small nearby input."""
    import httpx

    return httpx.create_ssl_context()


class _Refused(Exception):
    """A request (or one of its redirects) to a non-public address, with the reason."""


def _refuse_private(request: httpx.Request) -> None:
    reason = private_address(str(request.url))
    if reason:
        raise _Refused(f"refused {request.url}: {reason}")


def download_http(
    url: str,
    target: Path,
    *,
    max_bytes: int,
    timeout_s: float,
    err_code: int,
    what: str,
    block_private: bool = False,
) -> int:
    """Stream `url` to `target`, following at most 5 http(s) redirects, within size and time."""
    import httpx

    deadline = time.monotonic() + timeout_s
    written = 0
    hooks = {"request": [_refuse_private]} if block_private else {}
    try:
        with (
            httpx.Client(
                follow_redirects=True,
                max_redirects=MAX_REDIRECTS,
                timeout=min(timeout_s, 30),
                event_hooks=hooks,
                verify=tls_context(),
            ) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code >= 400:
                raise TaskFailed(
                    err_code, f"{what} download failed: HTTP {response.status_code} from {url}"
                )
            with target.open("wb") as out:
                # Chunks as they arrive (up to 64 KB): re-chunking to a fixed size copies.
                for chunk in response.iter_bytes():
                    written += len(chunk)
                    if written > max_bytes:
                        raise TaskFailed(err_code, f"{what} {url} is larger than {max_bytes} bytes")
                    if time.monotonic() > deadline:
                        raise TaskFailed(
                            err_code, f"{what} download from {url} took longer than {timeout_s:g} s"
                        )
                    out.write(chunk)
    except _Refused as exc:
        raise TaskFailed(err_code, f"{what} download {exc}") from None
    except httpx.TooManyRedirects:
        raise TaskFailed(
            err_code, f"{what} {url} redirects more than {MAX_REDIRECTS} times"
        ) from None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise TaskFailed(
            err_code, f"{what} {url} redirects to an unsupported scheme: {exc}"
        ) from None
    except httpx.HTTPError as exc:
        raise TaskFailed(
            err_code, f"{what} download failed: {type(exc).__name__}: {exc} ({url})"
        ) from None
    return written
