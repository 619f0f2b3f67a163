"""Nothing acknowledged is lost: a lakestack server (embedded stream log) killed with
SIGKILL while producers write comes back with every acknowledged record readable at its
sequence number, and no record appears twice."""

import os
import threading
import time
from collections import Counter

import pytest

ENV = {"LAKESTACK_STREAM_ENGINE": "embedded", "LAKESTACK_KINESIS_ENFORCE_LIMITS": "0"}


@pytest.mark.slow
def test_sigkill_during_put_records_loses_nothing_acknowledged(server_process):
    server = server_process(ENV)
    kinesis = server.client("kinesis")
    kinesis.create_stream(StreamName="crash", ShardCount=3)
    while kinesis.describe_stream_summary(StreamName="crash")["StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
        time.sleep(0.05)
    acknowledged: dict[str, bytes] = {}
    sent: set[bytes] = set()
    lock = threading.Lock()
    stop = threading.Event()

    def writer(n: int) -> None:
        i = 0
        while not stop.is_set():
            batch = [{"Data": f"w{n}-b{i}-r{j}-".encode() + os.urandom(200).hex().encode(),
                      "PartitionKey": f"key-{n}-{j % 17}"} for j in range(40)]
            with lock:
                sent.update(r["Data"] for r in batch)
            try:
                if i % 5 == 4:
                    one = kinesis.put_record(StreamName="crash", **batch[0])
                    results = [one]
                    batch = batch[:1]
                else:
                    results = kinesis.put_records(StreamName="crash", Records=batch)["Records"]
            except Exception:
                return  # the server is gone
            with lock:
                for record, result in zip(batch, results, strict=True):
                    assert "SequenceNumber" in result
                    acknowledged[result["SequenceNumber"]] = record["Data"]
            i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    time.sleep(3)
    server.kill()
    stop.set()
    for t in threads:
        t.join()
    assert len(acknowledged) > 200, "the writers barely ran; the test proves nothing"

    server.start()
    stored: dict[str, bytes] = {}
    for shard in kinesis.list_shards(StreamName="crash")["Shards"]:
        iterator = kinesis.get_shard_iterator(StreamName="crash", ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while True:
            page = kinesis.get_records(ShardIterator=iterator)
            for record in page["Records"]:
                assert record["SequenceNumber"] not in stored
                stored[record["SequenceNumber"]] = record["Data"]
            iterator = page["NextShardIterator"]
            if not page["Records"]:
                break
    missing = [s for s in acknowledged if stored.get(s) != acknowledged[s]]
    assert not missing, f"{len(missing)} acknowledged records lost or changed, e.g. {missing[:3]}"
    counts = Counter(stored.values())
    assert max(counts.values()) == 1, "a record appears twice"
    assert set(stored.values()) <= sent, "a record nobody sent appeared"
    # The log keeps taking writes where it was cut.
    after = kinesis.put_record(StreamName="crash", Data=b"after restart", PartitionKey="p")
    assert int(after["SequenceNumber"]) > max(int(s) for s in stored if s[15:27] == after["SequenceNumber"][15:27])
