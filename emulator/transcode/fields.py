"""Reading template fields into Python values; an invalid one fails the task naming the field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from emulator.errors import TRANSCODE_FAILED, TaskFailed


def invalid(field: str, value: Any, expected: str) -> NoReturn:
    raise TaskFailed(TRANSCODE_FAILED, f"template field {field} is invalid: {value!r} ({expected})")


def given(value: Any) -> bool:
    """False for a zero value: the Go SDK sends every field of its struct, unset ones as zero."""
    if isinstance(value, Mapping):
        return any(given(item) for item in value.values())
    if isinstance(value, list | tuple):
        return len(value) > 0
    return value not in (None, "", 0, False)


def choice(
    template: Mapping[str, Any], field: str, default: str, allowed: Mapping[str, Any]
) -> str:
    value = template.get(field)
    text = default if value is None or value == "" else str(value).strip().lower()
    if text not in allowed:
        invalid(field, value, f"expected one of {', '.join(allowed)}")
    return "aac" if text == "acc" else text


def integer(template: Mapping[str, Any], field: str, default: int, low: int, high: int) -> int:
    value = template.get(field)
    if value is None or value == "":
        return default
    try:
        if isinstance(value, bool):
            raise ValueError
        number = int(str(value).strip())
    except ValueError:
        invalid(field, value, "expected an integer")
    if not low <= number <= high:
        invalid(field, value, f"expected {low} to {high}")
    return number


def number(
    template: Mapping[str, Any], field: str, default: float, low: float, high: float
) -> float:
    """A float field; `default` when absent or zero (zero means "not given" on v1)."""
    value = template.get(field)
    if value is None or value == "" or value == 0:
        return default
    try:
        if isinstance(value, bool):
            raise ValueError
        result = float(str(value).strip())
    except ValueError:
        invalid(field, value, "expected a number")
    if not low <= result <= high:
        invalid(field, value, f"expected {low:g} to {high:g}")
    return result


def mapping(template: Mapping[str, Any], field: str) -> Mapping[str, Any]:
    """An object field ({} when absent or null)."""
    value = template.get(field)
    if value is None or value == "":
        return {}
    if not isinstance(value, Mapping):
        invalid(field, value, "expected an object")
    return value
