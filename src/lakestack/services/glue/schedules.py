"""Crawler schedules: Glue's `cron(Minutes Hours Day-of-month Month Day-of-week Year)`, and
the background thread that starts crawls when they fall due.

Glue's cron differs from Unix cron: six fields (the sixth is the year), days of the week
numbered 1-7 from Sunday, and `?` required in exactly one of day-of-month and day-of-week.
https://docs.aws.amazon.com/glue/latest/dg/monitor-data-warehouse-schedule.html
The five Unix-like fields are translated for croniter, which computes the next time; the
year is checked here. Times are UTC, as on AWS.
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from croniter import croniter

from lakestack.services.glue.errors import invalid_input

log = logging.getLogger("lakestack.glue")

_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_MONTHS = {m: i for i, m in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1)}
_FIELD = re.compile(r"^[0-9A-Za-z*?/,#L-]+$")
YEARS = (1970, 2199)


class CronError(ValueError):
    pass


def _number(text: str, names: dict[str, int], low: int, high: int) -> int:
    value = names.get(text.upper()) if not text.isdigit() else int(text)
    if value is None or not low <= value <= high:
        raise CronError(f"{text!r} is out of range {low}-{high}")
    return value


def _plain_field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> str:
    """Check a minutes/hours/month field and return it with names replaced by numbers."""
    names = names or {}
    out = []
    for part in text.split(","):
        base, _, step = part.partition("/")
        if step and (not step.isdigit() or int(step) == 0):
            raise CronError(f"bad step in {part!r}")
        if base == "*":
            out.append(part)
            continue
        bounds = [_number(b, names, low, high) for b in base.split("-")]
        if len(bounds) > 2:
            raise CronError(f"bad range {base!r}")
        out.append("-".join(map(str, bounds)) + (f"/{step}" if step else ""))
    return ",".join(out)


def _day_of_month(text: str) -> str:
    if text in ("?", "*"):
        return "*"
    if "W" in text.upper():
        # croniter has no nearest-weekday rule; refuse rather than fire on the wrong day.
        raise CronError("the W (nearest weekday) modifier is not supported")
    if text.upper() == "L":
        return "L"
    return _plain_field(text, 1, 31)


def _day_of_week(text: str) -> str:
    """Glue numbers days 1-7 from Sunday; croniter 0-6 from Sunday."""
    if text in ("?", "*"):
        return "*"
    out = []
    for part in text.split(","):
        upper = part.upper()
        if upper == "L":  # the last day of the week: Saturday
            out.append("6")
        elif "#" in upper:
            day, _, nth = upper.partition("#")
            if not nth.isdigit() or not 1 <= int(nth) <= 5:
                raise CronError(f"bad #-modifier in {part!r}")
            out.append(f"{_number(day, _DAYS, 1, 7) - 1}#{nth}")
        elif upper.endswith("L"):  # e.g. 6L: the last Friday of the month
            out.append(f"L{_number(upper[:-1], _DAYS, 1, 7) - 1}")
        else:
            base, _, step = upper.partition("/")
            if step and (not step.isdigit() or int(step) == 0):
                raise CronError(f"bad step in {part!r}")
            if base == "*":
                out.append(part)
                continue
            bounds = [_number(b, _DAYS, 1, 7) - 1 for b in base.split("-")]
            if len(bounds) > 2:
                raise CronError(f"bad range {base!r}")
            out.append("-".join(map(str, bounds)) + (f"/{step}" if step else ""))
    return ",".join(out)


def _year_test(text: str) -> Callable[[int], bool]:
    if text == "*":
        return lambda year: YEARS[0] <= year <= YEARS[1]
    tests = []
    for part in text.split(","):
        base, _, step = part.partition("/")
        every = int(step) if step else 1
        if step and (not step.isdigit() or every == 0):
            raise CronError(f"bad step in {part!r}")
        if base == "*":
            first, last = YEARS
        else:
            bounds = [_number(b, {}, *YEARS) for b in base.split("-")]
            if len(bounds) > 2:
                raise CronError(f"bad range {base!r}")
            first = bounds[0]
            last = bounds[-1] if len(bounds) == 2 or step else first
            if step and len(bounds) == 1:
                last = YEARS[1]
        tests.append((first, last, every))
    return lambda year: any(f <= year <= last and (year - f) % e == 0 for f, last, e in tests)


@dataclass(frozen=True)
class GlueCron:
    expression: str
    unix: str  # the five fields croniter reads
    year_ok: Callable[[int], bool]

    def next_after(self, moment: dt.datetime) -> dt.datetime | None:
        """The first firing strictly after `moment` (UTC), or None if there is none."""
        moment = moment.astimezone(dt.UTC)
        itr = croniter(self.unix, moment)
        while True:
            candidate = itr.get_next(dt.datetime)
            if candidate.year > YEARS[1]:
                return None
            if self.year_ok(candidate.year):
                return candidate
            # Jump to the next year the year field allows instead of walking minute by minute.
            year = next((y for y in range(candidate.year + 1, YEARS[1] + 1) if self.year_ok(y)), None)
            if year is None:
                return None
            itr = croniter(self.unix, dt.datetime(year, 1, 1, tzinfo=dt.UTC) - dt.timedelta(seconds=1))


def parse_schedule(expression: str) -> GlueCron:
    """Parse `cron(...)`; raises InvalidInputException when it is not a valid Glue schedule."""
    try:
        return _parse(expression)
    except CronError as exc:
        raise invalid_input(f"Invalid schedule expression: {expression} ({exc})") from None


def _parse(expression: str) -> GlueCron:
    text = expression.strip()
    if not (text.startswith("cron(") and text.endswith(")")):
        raise CronError("a schedule must look like cron(Minutes Hours Day-of-month Month Day-of-week Year)")
    fields = text[5:-1].split()
    if len(fields) != 6:
        raise CronError("cron needs six fields")
    if not all(_FIELD.match(f) for f in fields):
        raise CronError("unexpected characters")
    minutes, hours, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise CronError("use ? in exactly one of day-of-month and day-of-week")
    unix = " ".join([
        _plain_field(minutes, 0, 59),
        _plain_field(hours, 0, 23),
        _day_of_month(dom),
        _plain_field(month, 1, 12, _MONTHS),
        _day_of_week(dow),
    ])
    if not croniter.is_valid(unix):
        raise CronError("not a valid schedule")
    return GlueCron(expression, unix, _year_test(year))


class Scheduler:
    """One background thread that sleeps until the next scheduled crawl is due.

    `due()` returns (name, key, cron) for every scheduled crawler; `fire(key)` starts a crawl
    (and must not raise when the crawler is already running). `refresh()` is called after
    any change to schedules.
    """

    def __init__(self, due: Callable[[], list[tuple[object, GlueCron]]], fire: Callable[[object], None],
                 clock: Callable[[], dt.datetime] | None = None):
        self._due = due
        self._fire = fire
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._heap: list[tuple[dt.datetime, int, object, GlueCron]] = []

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="glue-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def refresh(self) -> None:
        self._wake.set()

    def _load(self) -> None:
        now = self._clock()
        self._heap = []
        for i, (key, cron) in enumerate(self._due()):
            when = cron.next_after(now)
            if when is not None:
                self._heap.append((when, i, key, cron))
        heapq.heapify(self._heap)

    def run_pending(self) -> float:
        """Fire whatever is due; return seconds until the next firing (for tests and the loop)."""
        now = self._clock()
        while self._heap and self._heap[0][0] <= now:
            when, i, key, cron = heapq.heappop(self._heap)
            try:
                self._fire(key)
            except Exception:  # one crawler's failure to start must not stop the others
                log.exception("scheduled start of crawler %s failed", key)
            # After a pause (a suspended laptop), missed firings are not made up one by one.
            following = cron.next_after(max(when, now))
            if following is not None:
                heapq.heappush(self._heap, (following, i, key, cron))
        if not self._heap:
            return 3600.0
        return max(0.0, (self._heap[0][0] - now).total_seconds())

    def _run(self) -> None:
        self._load()
        while not self._stop.is_set():
            delay = self.run_pending()
            if self._wake.wait(timeout=min(delay, 60.0)):
                self._wake.clear()
                if self._stop.is_set():
                    return
                self._load()
