"""runtime.periodic: the background pass retention sweeps and S3 lifecycle run on."""

import threading

from lakestack.runtime.periodic import Periodic


def test_first_pass_at_start_then_on_demand():
    passes = []
    periodic = Periodic("test-periodic", lambda: passes.append(1), interval=3600)
    periodic.start()
    try:
        assert periodic.run_now(timeout=10)
        count = len(passes)
        assert count >= 1  # the pass at start, and the one asked for (maybe the same)
        assert periodic.run_now(timeout=10)
        assert len(passes) > count  # a pass that started after the call
    finally:
        periodic.stop()
    assert periodic.stopping


def test_no_pass_at_start_when_asked_not_to():
    ran = threading.Event()
    periodic = Periodic("test-periodic", ran.set, interval=3600, run_at_start=False)
    periodic.start()
    try:
        assert not ran.wait(0.3)
        periodic.wake()
        assert ran.wait(10)
    finally:
        periodic.stop()


def test_a_failing_pass_does_not_stop_the_next():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first pass fails")

    periodic = Periodic("test-periodic", flaky, interval=3600, run_at_start=False)
    periodic.start()
    try:
        assert periodic.run_now(timeout=10)
        assert periodic.run_now(timeout=10)
        assert len(calls) == 2
    finally:
        periodic.stop()


def test_interval_runs_passes_unasked():
    ran = threading.Semaphore(0)
    periodic = Periodic("test-periodic", ran.release, interval=0.01, run_at_start=False)
    periodic.start()
    try:
        assert all(ran.acquire(timeout=10) for _ in range(3))
    finally:
        periodic.stop()
