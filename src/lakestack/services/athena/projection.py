"""Partition projection: partitions computed from table properties instead of read from the
catalog (https://docs.aws.amazon.com/athena/latest/ug/partition-projection.html).

    projection.enabled = true
    projection.<col>.type = enum | integer | date | injected
    projection.<col>.values = a,b,c                     (enum)
    projection.<col>.range = 1,100 | 2020-01-01,NOW     (integer | date)
    projection.<col>.interval, .digits, .format, .interval.unit
    storage.location.template = s3://bucket/prefix/${col}/…

Each column's values are enumerated, narrowed by the query's predicates on that column, and
combined; `injected` columns take their values from the query's equality predicates only.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re

from lakestack.engines.sql import joda
from lakestack.engines.sql.errors import QueryError

MAX_PARTITIONS = 1_000_000
_UNITS = {"YEARS": "years", "MONTHS": "months", "WEEKS": "weeks", "DAYS": "days", "HOURS": "hours",
          "MINUTES": "minutes", "SECONDS": "seconds"}


def enabled(parameters: dict) -> bool:
    return str(parameters.get("projection.enabled", "")).lower() == "true"


def _error(message: str) -> QueryError:
    return QueryError("HIVE_INVALID_METADATA", message)


def _add(moment: dt.datetime, amount: int, unit: str) -> dt.datetime:
    if unit == "years":
        return _add(moment, amount * 12, "months")
    if unit == "months":
        month = moment.month - 1 + amount
        year = moment.year + month // 12
        month = month % 12 + 1
        day = min(moment.day, [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28, 31, 30, 31, 30,
                               31, 31, 30, 31, 30, 31][month - 1])
        return moment.replace(year=year, month=month, day=day)
    return moment + dt.timedelta(**{unit: amount})


def _default_unit(pattern: str) -> str:
    if "s" in pattern:
        return "seconds"
    if "m" in pattern:
        return "minutes"
    if "H" in pattern or "h" in pattern:
        return "hours"
    if "d" in pattern:
        return "days"
    if "M" in pattern:
        return "months"
    return "years"


def _date_bound(text: str, fmt: str, now: dt.datetime) -> dt.datetime:
    text = text.strip()
    match = re.fullmatch(r"NOW(?:\s*([+-])\s*(\d+)\s*(\w+?)S?)?", text, re.IGNORECASE)
    if match:
        if not match.group(1):
            return now
        unit = _UNITS.get(match.group(3).upper() + "S")
        if unit is None:
            raise _error(f"Unsupported unit in projection range: {text}")
        amount = int(match.group(2)) * (1 if match.group(1) == "+" else -1)
        return _add(now, amount, unit)
    try:
        return dt.datetime.strptime(text, fmt)
    except ValueError:
        raise _error(f"Projection range value '{text}' does not match format") from None


def column_values(column: str, parameters: dict, now: dt.datetime | None = None) -> list[str] | None:
    """Every value a projected column can take, as text; None for `injected` columns."""
    prefix = f"projection.{column}."
    kind = str(parameters.get(prefix + "type", "")).lower()
    if kind == "enum":
        return [v.strip() for v in str(parameters.get(prefix + "values", "")).split(",") if v.strip()]
    if kind == "integer":
        low, _, high = str(parameters.get(prefix + "range", "")).partition(",")
        step = int(parameters.get(prefix + "interval", 1) or 1)
        digits = int(parameters.get(prefix + "digits", 0) or 0)
        try:
            values = range(int(low), int(high) + 1, step)
        except ValueError:
            raise _error(f"Invalid projection range for {column}") from None
        if len(values) > MAX_PARTITIONS:
            raise _error(f"Projection of {column} has too many values")
        return [str(v).zfill(digits) if digits else str(v) for v in values]
    if kind == "date":
        java = str(parameters.get(prefix + "format", "yyyy-MM-dd"))
        fmt = joda.to_strftime(java, parsing=True)
        now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
        low, _, high = str(parameters.get(prefix + "range", "")).partition(",")
        start, end = _date_bound(low, fmt, now), _date_bound(high, fmt, now)
        step = int(parameters.get(prefix + "interval", 1) or 1)
        unit = _UNITS.get(str(parameters.get(prefix + "interval.unit", "")).upper()) or _default_unit(java)
        out_fmt = joda.to_strftime(java)
        values, moment = [], start
        while moment <= end:
            values.append(moment.strftime(out_fmt))
            if len(values) > MAX_PARTITIONS:
                raise _error(f"Projection of {column} has too many values")
            moment = _add(moment, step, unit)
        return values
    if kind == "injected":
        return None
    raise _error(f"Column {column} has no valid projection.{column}.type")


def locations(table: dict, columns: list[str], combos: list[tuple[str, ...]]) -> list[str]:
    parameters = table.get("Parameters") or {}
    template = parameters.get("storage.location.template")
    base = (table.get("StorageDescriptor") or {}).get("Location", "")
    out = []
    for values in combos:
        if template:
            location = template
            for name, value in zip(columns, values, strict=True):
                location = location.replace("${" + name + "}", value)
        else:
            location = base.rstrip("/") + "/" + "/".join(f"{n}={v}" for n, v in zip(columns, values, strict=True))
        out.append(location)
    return out


def combinations(per_column: list[list[str]]) -> list[tuple[str, ...]]:
    total = 1
    for values in per_column:
        total *= max(len(values), 1)
        if total > MAX_PARTITIONS:
            raise QueryError("HIVE_EXCEEDED_PARTITION_LIMIT",
                             f"Query over table with partition projection would read more than {MAX_PARTITIONS} "
                             "partitions; add predicates on the partition columns")
    return list(itertools.product(*per_column))
