"""Lambda's paging for List* operations: Marker is the offset of the next page, MaxItems
its size (50 when not given)."""

from __future__ import annotations


def page(items: list, params: dict) -> tuple[list, str | None]:
    """(this page, NextMarker or None) of `items` for the request's Marker and MaxItems."""
    start = int(params["Marker"]) if (params.get("Marker") or "").isdigit() else 0
    size = params.get("MaxItems") or 50
    chunk = items[start:start + size]
    return chunk, str(start + size) if start + size < len(items) else None
