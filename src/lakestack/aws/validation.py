"""Input validation against the model's constraints, with AWS's message style:
"1 validation error detected: Value null at 'streamName' failed to satisfy constraint:
Member must not be null"."""

from __future__ import annotations

import re
from functools import lru_cache


def _wire(name: str) -> str:
    # AWS names members in camelCase in these messages.
    return name[:1].lower() + name[1:]


@lru_cache(maxsize=4096)
def _pattern(regex: str):
    try:
        return re.compile(regex)
    except re.error:  # some model patterns use Java-only syntax; skip those
        return None


def validate(shape, params, path: str = "") -> list[str]:
    problems: list[str] = []
    _check_structure(shape, params, path, problems)
    return problems


def _show(value) -> str:
    return "null" if value is None else str(value)


def _check_structure(shape, value: dict, path: str, problems: list[str]) -> None:
    for name in shape.required_members:
        if value.get(name) is None:
            problems.append(f"Value null at '{path}{_wire(name)}' failed to satisfy constraint: Member must not be null")
    for name, member in shape.members.items():
        if name in value and value[name] is not None:
            _check(member, value[name], f"{path}{_wire(name)}", problems)


def _check(shape, value, path: str, problems: list[str]) -> None:
    meta = shape.metadata
    t = shape.type_name
    if t == "structure" and isinstance(value, dict):
        _check_structure(shape, value, path + ".", problems)
        return
    if t == "list" and isinstance(value, list):
        _length(meta, len(value), value, path, problems)
        for i, item in enumerate(value, 1):
            _check(shape.member, item, f"{path}.{i}.member", problems)
        return
    if t == "map" and isinstance(value, dict):
        _length(meta, len(value), value, path, problems)
        return
    if t == "string" and isinstance(value, str):
        _length(meta, len(value), value, path, problems)
        enum = shape.enum
        if enum and value not in enum:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must satisfy enum value set: [{', '.join(enum)}]")
        pattern = meta.get("pattern")
        if pattern and (rx := _pattern(pattern)) is not None and not rx.fullmatch(value):
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must satisfy regular expression pattern: {pattern}")
        return
    if t == "blob" and isinstance(value, bytes | bytearray):
        _length(meta, len(value), "<binary>", path, problems)
        return
    if t in ("integer", "long", "float", "double") and isinstance(value, int | float):
        if "min" in meta and value < meta["min"]:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must have value less than or equal to {meta['max']}")


def _length(meta: dict, n: int, value, path: str, problems: list[str]) -> None:
    if "min" in meta and n < meta["min"]:
        problems.append(f"Value '{_show(value)}' at '{path}' failed to satisfy constraint: "
                        f"Member must have length greater than or equal to {meta['min']}")
    if "max" in meta and n > meta["max"]:
        problems.append(f"Value '{_show(value)}' at '{path}' failed to satisfy constraint: "
                        f"Member must have length less than or equal to {meta['max']}")


def message(problems: list[str]) -> str:
    n = len(problems)
    head = f"{n} validation error{'s' if n > 1 else ''} detected: "
    return head + "; ".join(problems)
