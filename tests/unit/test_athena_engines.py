"""Athena's DuckDB database is made anew every so many queries (DuckDB's eviction queues
grow ~1 KB per query for a long while); a replaced one closes when its last query ends."""

import threading

from lakestack.services.athena.engines import Engines


class FakeEngine:
    def __init__(self, temp_dir):
        self.temp_dir, self.closed = temp_dir, False
        temp_dir.mkdir(parents=True)

    def close(self):
        self.closed = True


def wait_for_renewal(engines, old):
    for thread in threading.enumerate():
        if thread.name == "lakestack-athena-engine":
            thread.join()
    assert engines.current is not old


def test_the_database_is_renewed_and_the_old_one_closed_after_its_last_query(tmp_path):
    made = []
    engines = Engines(lambda temp_dir: made.append(FakeEngine(temp_dir)) or made[-1], tmp_path, renew_after=3)
    first = engines.current
    with engines.lease() as a, engines.lease() as b:
        assert a is b is first
    with engines.lease() as long_running:  # the third query: a new database is made meanwhile
        wait_for_renewal(engines, first)
        with engines.lease() as next_query:
            assert next_query is made[1] and long_running is first
        assert not first.closed  # still in use
    assert first.closed and not first.temp_dir.exists()  # closed with its last query, spill folder gone
    assert not made[1].closed and made[1].temp_dir != first.temp_dir
    engines.close()
    assert made[1].closed and len(made) == 2
