"""The load mix: N clients reading and updating at full speed while tasks are created at a rate."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from emulator.signing import sign_request


@dataclass
class LoadStats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    status_5xx: int = 0
    locked: int = 0
    errors: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    def p99_ms(self) -> dict[str, float]:
        out = {}
        for route, values in sorted(self.latencies.items()):
            ordered = sorted(values)
            out[route] = round(1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1)
        return out


@dataclass(frozen=True)
class Api:
    base_url: str
    access_key_id: str
    access_key_secret: str

    def call(
        self, http: httpx.Client, stats: LoadStats, method: str, path: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        query = params if method == "GET" else None
        body = b"" if method == "GET" else json.dumps(params).encode()
        headers = sign_request(
            method=method,
            path=path,
            access_key_id=self.access_key_id,
            access_key_secret=self.access_key_secret,
            query={k: str(v) for k, v in (query or {}).items()},
            body=body,
        )
        url = self.base_url + path + (f"?{urlencode(query)}" if query else "")
        started = time.monotonic()
        response = http.request(method, url, content=body, headers=headers, timeout=60)
        elapsed = time.monotonic() - started
        envelope: dict[str, Any] = response.json() if response.status_code < 500 else {}
        with stats.lock:
            stats.latencies[path.rsplit("/", 1)[1]].append(elapsed)
            if response.status_code >= 500:
                stats.status_5xx += 1
                stats.errors.append(f"{method} {path}: HTTP {response.status_code}")
            if "database is locked" in response.text:
                stats.locked += 1
            if envelope.get("code") not in (0, 1004):
                stats.errors.append(f"{method} {path}: {response.text[:200]}")
        return envelope


WINDOW = {"start_time": 1600000000, "end_time": 4000000000, "count": 20}


def reader(api: Api, stats: LoadStats, stop: threading.Event, n: int) -> None:
    """One client: query_task, list_task, list_template and update_template at full speed."""
    rng = random.Random(n)
    with httpx.Client() as http:
        while not stop.is_set():
            pick = rng.random()
            if pick < 0.4 and stats.created:
                api.call(
                    http, stats, "GET", "/api/query_task", {"task_id": rng.choice(stats.created)}
                )
            elif pick < 0.6:
                api.call(http, stats, "GET", "/api/list_task", WINDOW)
            elif pick < 0.8:
                api.call(http, stats, "GET", "/api/list_template", {})
            else:
                quality = rng.randint(1, 10)
                api.call(
                    http, stats, "PUT", "/api/update_template", {"name": "load", "quality": quality}
                )


def creator(
    api: Api, stats: LoadStats, stop: threading.Event, task: dict[str, Any], rate: float
) -> None:
    """create_task at `rate` per second on a fixed schedule."""
    with httpx.Client() as http:
        started, n = time.monotonic(), 0
        while not stop.is_set():
            envelope = api.call(
                http, stats, "POST", "/api/create_task", {**task, "output": f"load/{n}.mp4"}
            )
            if envelope.get("code") == 0:
                with stats.lock:
                    stats.created.append(envelope["data"]["task_id"])
            n += 1
            stop.wait(max(0.0, started + n / rate - time.monotonic()))


def run_load(
    api: Api, *, seconds: float, clients: int, rate: float, task: dict[str, Any]
) -> LoadStats:
    """`clients` readers plus one creator for `seconds`; the template `load` must exist."""
    stats, stop = LoadStats(), threading.Event()
    threads = [threading.Thread(target=creator, args=(api, stats, stop, task, rate))]
    threads += [threading.Thread(target=reader, args=(api, stats, stop, n)) for n in range(clients)]
    for thread in threads:
        thread.start()
    stop.wait(seconds)
    stop.set()
    for thread in threads:
        thread.join(120)
    return stats


def final_statuses(api: Api, task_ids: list[str], timeout_s: float) -> dict[str, str]:
    """Each created task's status once all are final (or the timeout passes)."""
    stats, deadline = LoadStats(), time.monotonic() + timeout_s
    statuses: dict[str, str] = {}
    with httpx.Client() as http:
        while True:
            for task_id in task_ids:
                if statuses.get(task_id) not in ("success", "fail"):
                    data = api.call(http, stats, "GET", "/api/query_task", {"task_id": task_id})
                    statuses[task_id] = (data.get("data") or {}).get("status", "missing")
            if all(s in ("success", "fail") for s in statuses.values()):
                return statuses
            if time.monotonic() > deadline:
                return statuses
            time.sleep(0.2)
