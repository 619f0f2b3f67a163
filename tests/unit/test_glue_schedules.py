"""Glue's cron schedules and the scheduler thread's timing."""

import datetime as dt

import pytest

from lakestack.aws.errors import AwsError
from lakestack.services.glue.schedules import Scheduler, parse_schedule

UTC = dt.UTC


def at(*parts) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize("expression, after, expected", [
    ("cron(15 12 * * ? *)", at(2024, 1, 1, 0, 0), at(2024, 1, 1, 12, 15)),
    ("cron(15 12 * * ? *)", at(2024, 1, 1, 12, 15), at(2024, 1, 2, 12, 15)),
    ("cron(0/5 * * * ? *)", at(2024, 1, 1, 0, 1), at(2024, 1, 1, 0, 5)),
    ("cron(0 10 ? * MON-FRI *)", at(2024, 1, 6, 0, 0), at(2024, 1, 8, 10, 0)),  # Saturday → Monday
    ("cron(0 10 ? * 2 *)", at(2024, 1, 1, 11, 0), at(2024, 1, 8, 10, 0)),  # 2 is Monday in Glue's cron
    ("cron(0 10 ? * 1 *)", at(2024, 1, 1, 0, 0), at(2024, 1, 7, 10, 0)),  # 1 is Sunday
    ("cron(0 0 L * ? *)", at(2024, 2, 1, 0, 0), at(2024, 2, 29, 0, 0)),
    ("cron(0 0 ? * 6L *)", at(2024, 1, 1, 0, 0), at(2024, 1, 26, 0, 0)),  # last Friday
    ("cron(0 0 ? * 3#2 *)", at(2024, 1, 1, 0, 0), at(2024, 1, 9, 0, 0)),  # second Tuesday
    ("cron(30 8 1 JAN ? 2026)", at(2024, 6, 1, 0, 0), at(2026, 1, 1, 8, 30)),
    ("cron(0 0 1 1 ? 2025-2026)", at(2026, 1, 1, 0, 0), None),
    ("cron(0 0 1 * ? 2030/2)", at(2031, 5, 1, 0, 0), at(2032, 1, 1, 0, 0)),
])
def test_next_firing(expression, after, expected):
    assert parse_schedule(expression).next_after(after) == expected


@pytest.mark.parametrize("expression", [
    "0 12 * * ? *",  # not wrapped in cron(…)
    "cron(0 12 * * ?)",  # five fields
    "cron(0 12 * * * *)",  # no ? in day-of-month or day-of-week
    "cron(0 12 ? * ? *)",  # ? in both
    "cron(61 12 * * ? *)",
    "cron(0 24 * * ? *)",
    "cron(0 12 32 * ? *)",
    "cron(0 12 * 13 ? *)",
    "cron(0 12 ? * 8 *)",
    "cron(0 12 * * ? 1960)",
    "cron(0 12 * FOO ? *)",
    "cron(0/0 12 * * ? *)",
    "cron(0 12 15W * ? *)",  # nearest weekday: not supported, refused rather than misfired
    "rate(5 minutes)",
])
def test_invalid_schedules_are_invalid_input(expression):
    with pytest.raises(AwsError) as info:
        parse_schedule(expression)
    assert info.value.code == "InvalidInputException"


def test_scheduler_fires_when_due_and_reschedules():
    now = [at(2024, 1, 1, 0, 0, 30)]
    fired = []
    cron = parse_schedule("cron(* * * * ? *)")
    scheduler = Scheduler(lambda: [("crawler-a", cron)], fired.append, clock=lambda: now[0])
    scheduler._load()
    assert scheduler.run_pending() == pytest.approx(30)
    assert fired == []
    now[0] = at(2024, 1, 1, 0, 1, 0)
    assert scheduler.run_pending() == pytest.approx(60)
    assert fired == ["crawler-a"]
    now[0] = at(2024, 1, 1, 0, 3, 5)  # two firings were missed: one crawl, not a burst of them
    assert scheduler.run_pending() == pytest.approx(55)
    assert fired == ["crawler-a", "crawler-a"]


def test_scheduler_survives_a_failing_start():
    now = [at(2024, 1, 1, 0, 0, 59)]

    def fire(key):
        raise RuntimeError("boom")

    scheduler = Scheduler(lambda: [("x", parse_schedule("cron(* * * * ? *)"))], fire, clock=lambda: now[0])
    scheduler._load()
    now[0] = at(2024, 1, 1, 0, 1, 0)
    assert scheduler.run_pending() == pytest.approx(60)
