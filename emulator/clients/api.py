"""Python client of the vendor API: signs with emulator.signing, raises ApiError subclasses.

Nothing in the API calls is emulator-specific, so it works against the real service too.
`client.control` (emulator.clients.control) drives the emulator's own /_emulator/ routes.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterable
from datetime import datetime
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar
from urllib.parse import urljoin

import httpx
from pydantic import BaseModel

from emulator import signing
from emulator.clients.control import ControlClient, NoLongPoll
from emulator.clients.models import (
    Storage,
    StorageCreated,
    StorageList,
    StorageTypes,
    Summary,
    Task,
    TaskCreated,
    TaskList,
    Template,
    TemplateList,
)
from emulator.errors import ERRORS_BY_CODE, ApiError, InternalError

M = TypeVar("M", bound=BaseModel)

__all__ = [
    "ApiError",
    "OutputUnavailable",
    "Storage",
    "Task",
    "TaskTimeout",
    "Template",
    "TranscodeClient",
    "unwrap",
]


class TaskTimeout(TimeoutError):
    """wait_for_task ran out of time; `task` is the task as last seen."""

    def __init__(self, task: Task, timeout_s: float) -> None:
        super().__init__(f"task {task.task_id} still {task.status} after {timeout_s:g} s")
        self.task = task
        self.task_id = task.task_id
        self.last_status = task.status


class OutputUnavailable(RuntimeError):
    """download_output on a task that has not succeeded (or has no output_url)."""


class TranscodeClient:
    def __init__(
        self,
        base_url: str,
        access_key_id: str,
        access_key_secret: str,
        *,
        timeout: float = 30.0,
        scheme: signing.Scheme = "primary",
        control_token: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.scheme = scheme
        # A library has no Settings: the environment is the documented fallback (README).
        self.control_token = control_token or os.environ.get("EMULATOR_CONTROL_TOKEN") or None
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout)
        self._long_poll: bool | None = None  # unknown until the first wait_for_task

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> TranscodeClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TranscodeClient({self.base_url!r}, {self.access_key_id!r})"

    @cached_property
    def control(self) -> ControlClient:
        """The emulator's control API (reset, keys, faults, holds, clock, request log)."""
        return ControlClient(self.base_url, token=self.control_token, http=self.http)

    # -- transport ---------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        sign: bool = True,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One raw request: query string for GET, JSON body otherwise (as the reference says)."""
        method = method.upper()
        params = {k: v for k, v in (params or {}).items() if v is not None}
        query = {k: _query_value(v) for k, v in params.items()} if method == "GET" else {}
        body = b"" if method == "GET" or not params else _json(params)
        sent = (
            signing.sign_request(
                method=method,
                path=path,
                query=query,
                body=body,
                scheme=self.scheme,
                access_key_id=self.access_key_id,
                access_key_secret=self.access_key_secret,
            )
            if sign
            else ({"Content-Type": signing.JSON_CONTENT_TYPE} if body else {})
        )
        return self.http.request(
            method, path, params=query, content=body, headers={**sent, **(headers or {})}
        )

    def call(self, method: str, path: str, params: dict[str, Any] | None = None) -> Any:
        """`data` of a successful call; an ApiError subclass for any non-zero code."""
        return unwrap(self.request(method, path, params))

    def _typed(self, model: type[M], method: str, path: str, **params: Any) -> M:
        return model.model_validate(self.call(method, path, params))

    # -- storages ----------------------------------------------------------------------------

    def list_storage_types(self) -> StorageTypes:
        """list_storage_type (no signature needed)."""
        return self._typed(StorageTypes, "GET", "/api/list_storage_type")

    def add_storage(
        self,
        region: str,
        type: str,
        bucket: str,
        *,
        prefix: str | None = None,
        storage_ak: str | None = None,
        storage_sk: str | None = None,
    ) -> StorageCreated:
        return self._typed(
            StorageCreated,
            "POST",
            "/api/add_storage",
            region=region,
            type=type,
            bucket=bucket,
            prefix=prefix,
            storage_ak=storage_ak,
            storage_sk=storage_sk,
        )

    def del_storage(self, storage_id: str) -> None:
        self.call("DELETE", "/api/del_storage", {"storage_id": storage_id})

    def list_storage(self) -> StorageList:
        return self._typed(StorageList, "GET", "/api/list_storage")

    # -- templates ---------------------------------------------------------------------------

    def add_template(self, name: str, **fields: Any) -> Template:
        """Fields: description, format, quality, framerate, resolution, vcodec, acodec,
        audio_bitrate, logo_path, logo_size, logo_offset (SPEC.md section 4)."""
        data = self.call("POST", "/api/add_template", {"name": name, **fields})
        # The real service answers data: null; then the template is read back.
        return Template.model_validate(data) if data else self.query_template(name)

    def del_template(self, name: str) -> None:
        self.call("DELETE", "/api/del_template", {"name": name})

    def query_template(self, name: str) -> Template:
        return self._typed(Template, "GET", "/api/query_template", name=name)

    def update_template(self, name: str, **fields: Any) -> Template:
        """Changes only the fields given."""
        data = self.call("PUT", "/api/update_template", {"name": name, **fields})
        return Template.model_validate(data) if data else self.query_template(name)

    def list_template(self) -> TemplateList:
        return self._typed(TemplateList, "GET", "/api/list_template")

    # -- tasks -------------------------------------------------------------------------------

    def create_task(
        self, template_name: str, input: str, output: str, storage_id: str
    ) -> TaskCreated:
        return self._typed(
            TaskCreated,
            "POST",
            "/api/create_task",
            template_name=template_name,
            input=input,
            output=output,
            storage_id=storage_id,
        )

    def del_task(self, task_id: str) -> None:
        self.call("DELETE", "/api/del_task", {"task_id": task_id})

    def query_task(self, task_id: str) -> Task:
        return self._typed(Task, "GET", "/api/query_task", task_id=task_id)

    def list_task(
        self,
        start_time: int | float | datetime,
        end_time: int | float | datetime,
        *,
        status: str | None = None,
        start_num: int | None = None,
        count: int | None = None,
    ) -> TaskList:
        """Tasks created in [start_time, end_time] (unix seconds or aware datetimes)."""
        return self._typed(
            TaskList,
            "GET",
            "/api/list_task",
            start_time=_unix(start_time),
            end_time=_unix(end_time),
            status=status,
            start_num=start_num,
            count=count,
        )

    def list_summary(self, start_time: int | None = None, end_time: int | None = None) -> Summary:
        """Successful tasks per hour between start_time and end_time hours ago (48, 24)."""
        return self._typed(
            Summary, "GET", "/api/list_summary", start_time=start_time, end_time=end_time
        )

    # -- helpers -----------------------------------------------------------------------------

    def wait_for_task(
        self,
        task_id: str,
        timeout: float = 120.0,
        poll: float = 0.5,
        *,
        status: str | Iterable[str] = (),
    ) -> Task:
        """The task once final (success or fail) or in one of `status`; else TaskTimeout.

        Against the emulator this long-polls /_emulator/tasks/{id}/wait (no polling delay);
        elsewhere (the real service, EMULATOR_CONTROL=off) it polls query_task every `poll` s.
        """
        until = {status} if isinstance(status, str) else set(status)
        deadline = time.monotonic() + timeout
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            task = self._wait_once(task_id, until, remaining)
            if task.is_final or task.status in until:
                return task
            if time.monotonic() >= deadline:
                raise TaskTimeout(task, timeout)
            if not self._long_poll:
                time.sleep(min(poll, max(0.0, deadline - time.monotonic())))

    def wait_for_callback(
        self, task_id: str, *, inbox: str, timeout: float = 60.0
    ) -> dict[str, Any]:
        """The callback payload the emulator's inbox `inbox` received for the task (its
        storage's notify set to `control.inbox_url(inbox)`); CallbackTimeout after `timeout` s."""
        return self.control.wait_for_callback(task_id, inbox=inbox, timeout=timeout)

    def _wait_once(self, task_id: str, until: set[str], remaining: float) -> Task:
        if self._long_poll is not False:
            try:
                task = self.control.wait_task(task_id, timeout=min(remaining, 60), status=until)
            except NoLongPoll:
                self._long_poll = False
            else:
                self._long_poll = True
                return task
        return self.query_task(task_id)

    def download_output(self, task_id: str, path: str | os.PathLike[str]) -> Path:
        """Save a successful task's output at `path` (a file, or a directory to put it in).

        An HLS playlist comes with every file it references (segments, variant playlists).
        """
        task = self.query_task(task_id)
        if not task.succeeded or not task.output_url:
            raise OutputUnavailable(
                f"task {task_id} is {task.status}: it has no output to download"
            )
        target = Path(path)
        if target.is_dir():
            target = target / (PurePosixPath(task.objkey).name or "output")
        self._download(task.output_url, target)
        if target.suffix == ".m3u8":
            self._download_references(task.output_url, target, seen={target.resolve()})
        return target

    def _download(self, url: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        with self.http.stream("GET", url) as response:
            if response.status_code != 200:
                raise OutputUnavailable(f"GET {url.split('?')[0]} answered {response.status_code}")
            with target.open("wb") as out:
                for chunk in response.iter_bytes(1024 * 1024):
                    out.write(chunk)

    def _download_references(self, url: str, playlist: Path, *, seen: set[Path]) -> None:
        for relative, absolute in playlist_references(url, playlist.read_text()):
            target = (playlist.parent / relative).resolve()
            if target in seen:
                continue
            seen.add(target)
            self._download(absolute, target)
            if target.suffix == ".m3u8":
                self._download_references(absolute, target, seen=seen)


def unwrap(response: httpx.Response) -> Any:
    try:
        envelope = response.json()
    except ValueError:
        raise InternalError(
            f"HTTP {response.status_code} without a JSON envelope: {response.text[:200]}"
        ) from None
    code = envelope.get("code", 1000)
    if code == 0:
        return envelope.get("data")
    cls = ERRORS_BY_CODE.get(code, ApiError)
    raise cls(
        envelope.get("detail") or envelope.get("msg", ""),
        request_id=envelope.get("request_id") or response.headers.get("X-Wz-Request-Id"),
    )


_URI_ATTRIBUTE = re.compile(r'URI="([^"]+)"')


def playlist_references(url: str, text: str) -> list[tuple[str, str]]:
    """(relative path, absolute URL) of every file an HLS playlist at `url` refers to.

    Only relative references below the playlist's folder count (never `..` or absolute URLs):
    those are what the emulator writes beside a playlist.
    """
    found = []
    for line in text.splitlines():
        line = line.strip()
        refs = _URI_ATTRIBUTE.findall(line) if line.startswith("#") else [line] if line else []
        for ref in refs:
            path = ref.split("?")[0]
            if "://" in ref or path.startswith("/") or ".." in path.split("/"):
                continue
            found.append((path, urljoin(url, ref)))
    return found


def _unix(moment: int | float | datetime) -> int:
    return int(moment.timestamp()) if isinstance(moment, datetime) else int(moment)


def _json(params: dict[str, Any]) -> bytes:
    return json.dumps(params, separators=(",", ":"), ensure_ascii=False).encode()


def _query_value(value: Any) -> str:
    return signing.legacy_value(value)
