"""The SQLite state store: readers are a small pool, not one connection per thread."""

import threading

from lakestack.runtime.state import IDLE_READERS, StateStore


def test_readers_are_pooled_not_kept_per_thread(tmp_path):
    store = StateStore(tmp_path / "s.db", "CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER);")
    with store.transaction() as db:
        db.executemany("INSERT INTO t VALUES (?, ?)", [(f"k{i}", i) for i in range(100)])
    results = []

    def read(i):
        results.append((store.query_one("SELECT v FROM t WHERE k = ?", (f"k{i}",))["v"],
                        len(store.query("SELECT * FROM t WHERE v < ?", (i,)))))

    for wave in range(5):  # 5 × 20 short-lived threads: 100 threads have read
        threads = [threading.Thread(target=read, args=(wave * 20 + i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(results) == [(i, i) for i in range(100)]
    assert 1 <= len(store._idle) <= IDLE_READERS
    # A reader sees what was committed after it was last used.
    with store.transaction() as db:
        db.execute("UPDATE t SET v = -1 WHERE k = 'k5'")
    assert store.query_one("SELECT v FROM t WHERE k = 'k5'")["v"] == -1
    store.close()
    assert store._idle == []
