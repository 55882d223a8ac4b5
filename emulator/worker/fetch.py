"""A task's input and logo to local files: http(s) streamed with limits, s3/oss via boto3."""

from __future__ import annotations

import contextlib
import errno
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from emulator.config import Settings
from emulator.db.models import Task
from emulator.errors import INPUT_DOWNLOAD_FAILED, LOGO_FETCH_FAILED, TaskFailed
from emulator.netguard import SCHEMES, NetGuard, Refused, tls_context
from emulator.storage.store import ObjectStore, ObjectStoreError, ObjectTooLarge
from emulator.storage.urls import parse_object_url

if TYPE_CHECKING:  # imported on first use: httpx pulls in its CLI's modules (docs/performance.md)
    import httpx

MAX_REDIRECTS = 5
MAX_LOGO_BYTES = 16 * 1024 * 1024


def input_path(workdir: Path) -> Path:
    """Where fetch_input() puts a task's input."""
    return workdir / "input"


def fetch_input(
    task: Task,
    *,
    workdir: Path,
    objects: ObjectStore,
    settings: Settings,
    guard: NetGuard | None = None,
) -> None:
    """The task's input to input_path(workdir); `guard` says where http(s) may connect."""
    _fetch(
        task.input,
        input_path(workdir),
        task=task,
        objects=objects,
        settings=settings,
        guard=guard,
        max_bytes=settings.max_input_bytes,
        err_code=INPUT_DOWNLOAD_FAILED,
        what="input",
    )


def fetch_logo(
    task: Task,
    *,
    workdir: Path,
    objects: ObjectStore,
    settings: Settings,
    guard: NetGuard | None = None,
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
        guard=guard,
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
    guard: NetGuard | None,
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
                guard=guard,
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


def download_http(
    url: str,
    target: Path,
    *,
    max_bytes: int,
    timeout_s: float,
    err_code: int,
    what: str,
    block_private: bool = False,
    guard: NetGuard | None = None,
) -> int:
    """Stream `url` to `target`, following at most 5 http(s) redirects, within size and time.

    `guard` decides where each hop may connect (default: the rules, with private networks
    allowed unless `block_private`).
    """
    import httpx

    guard = guard or NetGuard(block_private=block_private)
    deadline = time.monotonic() + timeout_s
    written = 0
    try:
        with contextlib.ExitStack() as stack:
            response = _get_following_redirects(
                httpx.URL(url), guard=guard, timeout_s=min(timeout_s, 30), stack=stack
            )
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
    except Refused as exc:
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


def _get_following_redirects(
    url: httpx.URL, *, guard: NetGuard, timeout_s: float, stack: contextlib.ExitStack
) -> httpx.Response:
    """The streaming response of GET `url` after its redirects, followed here hop by hop so each
    hop goes to the address the guard checked (httpx would resolve the next name itself)."""
    import httpx

    for _ in range(MAX_REDIRECTS + 1):
        if url.scheme not in SCHEMES:
            raise httpx.UnsupportedProtocol(f"{url.scheme}:// is not http(s)")
        pinned = guard.pin(url)
        # A client per hop: its connection pool is keyed by the address, so a TLS connection
        # verified for one name must not carry a later hop's request for another name.
        client = httpx.Client(timeout=timeout_s, verify=tls_context())
        try:
            request = client.build_request(
                "GET", pinned.url, headers=pinned.headers, extensions=pinned.extensions
            )
            response = client.send(request, stream=True)
        except BaseException:
            client.close()
            raise
        if not response.is_redirect:
            stack.callback(client.close)
            stack.callback(response.close)  # callbacks run last-in first-out: this one first
            return response
        response.close()
        client.close()
        # Relative to the URL as given, not the pinned address, so the next hop keeps the name.
        url = url.join(response.headers["Location"])
    raise httpx.TooManyRedirects(f"more than {MAX_REDIRECTS} redirects")
