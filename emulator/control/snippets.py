"""A task's create_task request as code to copy: curl (signed by the CLI), Python and Go.

Pure: parameters and where the emulator is in, text out. A secret is printed only when it is
the public development pair (README, "From the Go SDK or any HTTP client"); any other secret
is read from EMULATOR_ACCESS_KEY_SECRET, the variable the CLI and the server read too.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from emulator.config import DEV_ACCESS_KEY_SECRET

API_PATH = "/api/create_task"
# The vendor's Go SDK has no task calls in its 1.1.4 release (docs/api.md), so the Go program
# uses net/http on the v1 route, which takes HTTP Basic as that SDK sends it.
V1_PATH = "/vodencoding/v1/create_task"
SECRET_ENV = "EMULATOR_ACCESS_KEY_SECRET"
# create_task's parameters in the order the reference lists them.
PARAMS = ("template_name", "input", "output", "storage_id")


@dataclass(frozen=True)
class Snippet:
    lang: str  # "curl", "python" or "go"
    title: str
    code: str


def create_task(
    params: Mapping[str, str], *, base_url: str, access_key_id: str, dev_keys: bool
) -> list[Snippet]:
    """The same create_task request as a shell line, a Python script and a Go program."""
    values = {name: str(params[name]) for name in PARAMS}
    base = base_url.rstrip("/")
    return [
        Snippet("curl", "curl (signed by the CLI)", _curl(values, base, access_key_id, dev_keys)),
        Snippet("python", "Python", _python(values, base, access_key_id, dev_keys)),
        Snippet("go", "Go (net/http)", _go(values, base, access_key_id, dev_keys)),
    ]


def _curl(values: dict[str, str], base: str, access_key_id: str, dev_keys: bool) -> str:
    body = json.dumps(values, separators=(",", ":"), ensure_ascii=False)
    sign = ["transcode-emulator", "sign", "POST", API_PATH, "--curl", base, "--json", body]
    if dev_keys:
        note = "# The CLI signs with the development key pair and prints the curl command."
    else:
        sign += ["--access-key-id", access_key_id]
        note = f"# The CLI signs with ${SECRET_ENV} (the secret of {access_key_id})."
    # eval runs the curl line the CLI prints (README, "A first task from the shell").
    return f'{note}\neval "$({shlex.join(sign)})"\n'


def _python(values: dict[str, str], base: str, access_key_id: str, dev_keys: bool) -> str:
    secret = repr(DEV_ACCESS_KEY_SECRET) if dev_keys else f"os.environ[{SECRET_ENV!r}]"
    args = ",\n        ".join(f"{name}={values[name]!r}" for name in PARAMS)
    lines = [
        *(["import os", ""] if not dev_keys else []),
        "from emulator.client import TranscodeClient",
        "",
        f"with TranscodeClient({base!r}, {access_key_id!r}, {secret}) as client:",
        "    task = client.create_task(",
        f"        {args},",
        "    )",
        "    print(task.task_id)",
    ]
    return "\n".join(lines) + "\n"


def _go(values: dict[str, str], base: str, access_key_id: str, dev_keys: bool) -> str:
    secret = _go_string(DEV_ACCESS_KEY_SECRET) if dev_keys else f'os.Getenv("{SECRET_ENV}")'
    width = max(len(name) for name in PARAMS) + 3  # gofmt aligns the values of a literal
    fields = "".join(
        f"\t\t{(_go_string(name) + ':').ljust(width)} {_go_string(values[name])},\n"
        for name in PARAMS
    )
    imports = ["bytes", "encoding/json", "fmt", "io", "net/http", *([] if dev_keys else ["os"])]
    url = _go_string(base + V1_PATH)
    return f"""// The vendor's Go SDK 1.1.4 has no task calls: net/http on the v1 route, HTTP Basic.
package main

import (
{"".join(f'	"{name}"{chr(10)}' for name in sorted(imports))})

func main() {{
	body, err := json.Marshal(map[string]string{{
{fields}\t}})
	if err != nil {{
		panic(err)
	}}
	req, err := http.NewRequest(http.MethodPost, {url}, bytes.NewReader(body))
	if err != nil {{
		panic(err)
	}}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth({_go_string(access_key_id)}, {secret})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {{
		panic(err)
	}}
	defer resp.Body.Close()
	envelope, err := io.ReadAll(resp.Body)
	if err != nil {{
		panic(err)
	}}
	fmt.Println(string(envelope)) // {{"code":0,"msg":"success","data":{{"task_id":"..."}},...}}
}}
"""


def _go_string(value: str) -> str:
    # A JSON string is a Go interpreted string literal when it is not ASCII-escaped: Go's
    # \\u escapes cannot spell the surrogate pairs json.dumps would write for emoji.
    return json.dumps(value, ensure_ascii=False)
