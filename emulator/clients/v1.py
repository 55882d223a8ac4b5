"""Python client of the vendor's current generation (/vodencoding/v1): HTTP Basic, v1 shapes.

It sends what the vendor's Go SDK sends (`auth-type: use-basic`, `Content-Type:
application/json` on every request, GET and DELETE parameters in the query string), so it
works against the real service too. Errors are the same ApiError subclasses as TranscodeClient's.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx

from emulator.clients.api import unwrap
from emulator.signing import JSON_CONTENT_TYPE, legacy_value

PREFIX = "/vodencoding/v1"
FINAL_STATUSES = ("succeeded", "failed")


def basic_authorization(access_key_id: str, access_key_secret: str) -> str:
    token = base64.b64encode(f"{access_key_id}:{access_key_secret}".encode()).decode()
    return f"Basic {token}"


class TranscodeClientV1:
    def __init__(
        self, base_url: str, access_key_id: str, access_key_secret: str, *, timeout: float = 30.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            headers={
                "Authorization": basic_authorization(access_key_id, access_key_secret),
                "auth-type": "use-basic",
                "Content-Type": JSON_CONTENT_TYPE,
            },
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> TranscodeClientV1:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- transport ---------------------------------------------------------------------------

    def request(self, method: str, op: str, params: dict[str, Any] | None = None) -> httpx.Response:
        """One raw request to `/vodencoding/v1/<op>`: query string for GET/DELETE, else JSON."""
        method = method.upper()
        params = {k: v for k, v in (params or {}).items() if v is not None}
        if method in ("GET", "DELETE"):
            query = {k: legacy_value(v) for k, v in params.items()}
            return self.http.request(method, f"{PREFIX}/{op}", params=query)
        body = json.dumps(params, separators=(",", ":"), ensure_ascii=False).encode()
        return self.http.request(method, f"{PREFIX}/{op}", content=body)

    def call(self, method: str, op: str, params: dict[str, Any] | None = None) -> Any:
        """`data` of a successful call; an ApiError subclass for any non-zero code."""
        return unwrap(self.request(method, op, params))

    # -- storages ----------------------------------------------------------------------------

    def add_storage(self, **params: Any) -> str:
        """type, region, bucket; prefix, notify, storage_ak, storage_sk, extra, name_rule."""
        storage_id: str = self.call("POST", "add_storage", params)["storage_id"]
        return storage_id

    def list_storage(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.call("GET", "list_storage")["list"]
        return rows

    def del_storage(self, storage_id: str) -> None:
        self.call("DELETE", "del_storage", {"storage_id": storage_id})

    def list_storage_type(self) -> list[str]:
        types: list[str] = self.call("GET", "list_storage_type")["list"]
        return types

    # -- templates ---------------------------------------------------------------------------

    def add_template(self, template_name: str, **fields: Any) -> dict[str, Any]:
        data: dict[str, Any] = self.call(
            "POST", "add_template", {"template_name": template_name, **fields}
        )
        return data

    def query_template(self, template_name: str) -> dict[str, Any]:
        data: dict[str, Any] = self.call("GET", "query_template", {"template_name": template_name})
        return data

    def update_template(self, template_name: str, **fields: Any) -> dict[str, Any]:
        """Changes the fields given; zero values (0, "", [], null) leave a field as it is."""
        data: dict[str, Any] = self.call(
            "PUT", "update_template", {"template_name": template_name, **fields}
        )
        return data

    def del_template(self, template_name: str) -> None:
        self.call("DELETE", "del_template", {"template_name": template_name})

    def list_template(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.call("GET", "list_template")["list"]
        return rows

    # -- tasks -------------------------------------------------------------------------------

    def create_task(self, *, template_name: str, storage_id: str, input: str, output: str) -> str:
        """`output`: a key under the storage's prefix, or s3://<the storage's bucket>/<key>."""
        params = {
            "template_name": template_name,
            "storage_id": storage_id,
            "input": input,
            "output": output,
        }
        task_id: str = self.call("POST", "create_task", params)["task_id"]
        return task_id

    def query_task(self, task_id: str) -> dict[str, Any]:
        data: dict[str, Any] = self.call("GET", "query_task", {"task_id": task_id})
        return data

    def list_task(self, *, start_time: int, end_time: int, **params: Any) -> dict[str, Any]:
        """Times in unix seconds or milliseconds; status, count/start_num or limit/skip."""
        data: dict[str, Any] = self.call(
            "GET", "list_task", {"start_time": start_time, "end_time": end_time, **params}
        )
        return data

    def del_task(self, task_id: str) -> None:
        self.call("DELETE", "del_task", {"task_id": task_id})

    def list_summary(self, *, start_time: int = 48, end_time: int = 24) -> dict[str, Any]:
        data: dict[str, Any] = self.call(
            "GET", "list_summary", {"start_time": start_time, "end_time": end_time}
        )
        return data

    def wait_for_task(self, task_id: str, *, timeout_s: float = 60) -> dict[str, Any]:
        """Poll query_task until the task is succeeded or failed."""
        deadline = time.monotonic() + timeout_s
        while True:
            data = self.query_task(task_id)
            if data["status"] in FINAL_STATUSES:
                return data
            if time.monotonic() > deadline:
                raise TimeoutError(f"task {task_id} still {data['status']} after {timeout_s} s")
            time.sleep(0.05)
