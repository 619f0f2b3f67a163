"""Reading a Kinesis stream for an event source mapping: one thread per shard, records in
order, batches to the function, a checkpoint after each batch.
https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html

- The stream is read through Kinesis' public operations (ListShards, GetShardIterator,
  GetRecords) as the function's execution role, like any other client.
- A shard is read only once its parent shards are finished (read to their end), so
  records of a key stay in order across resharding; children are read from their start.
- A batch goes to the function when BatchSize records are there, or when
  MaximumBatchingWindowInSeconds has passed since its first record (at once when 0), or
  before the payload would pass 6 MB.
- After the function returns without error the last sequence number of the batch is
  written to `shard_checkpoints` (fsync'd): after a restart, reading resumes after it.
- On a function error the batch is retried (MaximumRetryAttempts, -1 = until the records
  expire; MaximumRecordAgeInSeconds), split in halves first with
  BisectBatchOnFunctionError. With FunctionResponseTypes=[ReportBatchItemFailures] a
  response {"batchItemFailures": [{"itemIdentifier": seq}]} checkpoints before the first
  failed record and retries from it. A batch given up on is skipped (logged).
- Records are delivered as Kinesis stores them: KPL-aggregated records arrive aggregated,
  as on AWS, where functions de-aggregate them themselves.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import threading
import time
import uuid
from typing import TYPE_CHECKING

from lakestack.aws.errors import AwsError

if TYPE_CHECKING:
    from lakestack.services.awslambda.event_source_mappings import EventSourceMappings, Mapping

log = logging.getLogger("lakestack.lambda")

MAX_PAYLOAD = 6 * 1024 * 1024
RECORD_OVERHEAD = 600  # the JSON around each record's data in the event
GET_LIMIT = 10000


class StreamPoller:
    """All the shards of one mapping."""

    discovery_seconds = 1.0

    def __init__(self, mappings: EventSourceMappings, mapping: Mapping):
        self.mappings = mappings
        self.mapping = mapping
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"esm-{mapping.uuid[:8]}", daemon=True)
        self._readers: dict[str, ShardReader] = {}

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()

    def join(self, timeout: float = 30.0) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)
        for reader in list(self._readers.values()):
            reader.join(timeout)

    # -- Kinesis, as the function's role -------------------------------------------------------

    def call(self, operation: str, params: dict, name_stream: bool = True) -> dict:
        stream_arn = self.mapping.document["EventSourceArn"]
        principal = self.mappings.role_principal(self.mapping)
        if name_stream:
            params = {"StreamARN": stream_arn, **params}
        return self.mappings.provider.stack.call("kinesis", operation, params, principal,
                                                 region=stream_arn.split(":")[3])

    # -- checkpoints ---------------------------------------------------------------------------

    def checkpoints(self) -> dict[str, tuple[str | None, bool]]:
        rows = self.mappings.db.query("SELECT shard_id, sequence_number, finished FROM shard_checkpoints "
                                      "WHERE uuid = ?", (self.mapping.uuid,))
        return {r["shard_id"]: (r["sequence_number"], bool(r["finished"])) for r in rows}

    def checkpoint(self, shard_id: str, sequence_number: str | None, finished: bool = False) -> None:
        with self.mappings.db.transaction() as db:
            if self.mappings.current(self.mapping.uuid) is not self.mapping:
                return  # deleted meanwhile
            db.execute("INSERT INTO shard_checkpoints (uuid, shard_id, sequence_number, finished) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT (uuid, shard_id) DO UPDATE SET sequence_number = coalesce(excluded.sequence_number, "
                       "sequence_number), finished = excluded.finished",
                       (self.mapping.uuid, shard_id, sequence_number, int(finished)))

    # -- discovery -----------------------------------------------------------------------------

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._discover()
            except AwsError as exc:
                self.mappings.record_result(self.mapping, f"PROBLEM: {exc.message or exc.code}")
            except Exception:
                log.exception("event source mapping %s", self.mapping.uuid)
            self.stopping.wait(self.discovery_seconds)

    def _discover(self) -> None:
        shards, token = [], None
        while True:
            # A NextToken already names the stream; Kinesis refuses both together.
            page = self.call("ListShards", {"NextToken": token}, name_stream=False) if token else \
                self.call("ListShards", {})
            shards.extend(page.get("Shards") or [])
            token = page.get("NextToken")
            if not token:
                break
        present = {s["ShardId"] for s in shards}
        progress = self.checkpoints()
        for shard in shards:
            shard_id = shard["ShardId"]
            reader = self._readers.get(shard_id)
            if reader is not None and reader.is_alive():
                continue
            if progress.get(shard_id, (None, False))[1]:
                continue  # finished
            parents = [p for p in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId")) if p]
            # A parent still in the stream must be finished first; one trimmed away is done.
            if any(p in present and not progress.get(p, (None, False))[1] for p in parents):
                continue
            child_of_known = any(p in present for p in parents)
            reader = ShardReader(self, shard_id, progress.get(shard_id, (None, False))[0], child_of_known)
            self._readers[shard_id] = reader
            reader.start()


class ShardReader(threading.Thread):
    retry_base_seconds = 0.5
    retry_max_seconds = 30.0
    idle_poll_seconds = 0.25

    def __init__(self, poller: StreamPoller, shard_id: str, checkpoint: str | None, from_start: bool):
        super().__init__(name=f"esm-{poller.mapping.uuid[:8]}-{shard_id[-6:]}", daemon=True)
        self.poller = poller
        self.shard_id = shard_id
        self.last_done = checkpoint  # the last sequence number delivered
        self.from_start = from_start  # a child shard: read it from its beginning
        self.buffer: list[dict] = []
        self.iterator: str | None = None
        self.batch_started: float | None = None

    @property
    def config(self) -> dict:
        return self.poller.mapping.document

    def run(self) -> None:
        stopping = self.poller.stopping
        while not stopping.is_set():
            try:
                if not self._step():
                    return
            except AwsError as exc:
                if exc.code == "ExpiredIteratorException":
                    self.iterator = None
                    continue
                self.poller.mappings.record_result(self.poller.mapping, f"PROBLEM: {exc.message or exc.code}")
                stopping.wait(1.0)
            except Exception:
                log.exception("reading %s for mapping %s", self.shard_id, self.poller.mapping.uuid)
                stopping.wait(1.0)

    # -- one round: read, maybe deliver ---------------------------------------------------------

    def _step(self) -> bool:
        """False once the shard is finished."""
        if self.iterator is None:
            self.iterator = self._new_iterator()
        try:
            page = self.poller.call("GetRecords", {"ShardIterator": self.iterator, "Limit": GET_LIMIT},
                                    name_stream=False)
        except AwsError as exc:
            if exc.code in ("ProvisionedThroughputExceededException", "LimitExceededException"):
                self.poller.stopping.wait(0.5)
                return True
            raise
        records = page.get("Records") or []
        if records and self.batch_started is None:
            self.batch_started = time.monotonic()
        self.buffer.extend(records)
        self.iterator = page.get("NextShardIterator")
        at_end = self.iterator is None
        self._deliver_ready(flush=at_end)
        if at_end and not self.buffer:
            self.poller.checkpoint(self.shard_id, self.last_done, finished=True)
            return False
        if not records:
            self.poller.stopping.wait(self._idle_wait())
        return True

    def _idle_wait(self) -> float:
        window = self.config.get("MaximumBatchingWindowInSeconds") or 0
        if self.buffer and self.batch_started is not None and window:
            remaining = window - (time.monotonic() - self.batch_started)
            return max(0.01, min(self.idle_poll_seconds, remaining))
        return self.idle_poll_seconds

    def _new_iterator(self) -> str:
        if self.buffer:  # the iterator expired while records were still waiting
            params = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber":
                      self.buffer[-1]["SequenceNumber"]}
        elif self.last_done is not None:
            params = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": self.last_done}
        elif self.from_start:
            params = {"ShardIteratorType": "TRIM_HORIZON"}
        else:
            position = self.config["StartingPosition"]
            if position == "TRIM_HORIZON":
                params = {"ShardIteratorType": "TRIM_HORIZON"}
            elif position == "AT_TIMESTAMP":
                params = {"ShardIteratorType": "AT_TIMESTAMP", "Timestamp": dt.datetime.fromtimestamp(
                    self.config["StartingPositionTimestamp"], dt.UTC)}
            else:
                # LATEST means records that arrive after the mapping was created: reading from
                # its creation time loses none that arrive before the poller first looks.
                params = {"ShardIteratorType": "AT_TIMESTAMP",
                          "Timestamp": dt.datetime.fromtimestamp(self.config["_created"], dt.UTC)}
        params["ShardId"] = self.shard_id
        return self.poller.call("GetShardIterator", params)["ShardIterator"]

    def _deliver_ready(self, flush: bool) -> None:
        """Invoke with full batches, and with a partial one when its window has passed."""
        size = self.config["BatchSize"]
        window = self.config.get("MaximumBatchingWindowInSeconds") or 0
        while self.buffer and not self.poller.stopping.is_set():
            count = _fitting(self.buffer, size)
            full = count >= size or count < min(size, len(self.buffer))
            waited = self.batch_started is not None and time.monotonic() - self.batch_started >= window
            if not (full or waited or flush):
                return
            batch, self.buffer = self.buffer[:count], self.buffer[count:]
            self._process(batch)
            self.batch_started = time.monotonic() if self.buffer else None

    # -- invoking, retrying, checkpointing ----------------------------------------------------

    def _process(self, records: list[dict]) -> None:
        pending: list[tuple[list[dict], int]] = [(records, 0)]
        stopping = self.poller.stopping
        while pending and not stopping.is_set():
            batch, attempts = pending.pop(0)
            failed_from = self._invoke(batch)
            if failed_from is None:
                self._done(batch[-1])
                continue
            if failed_from > 0:  # ReportBatchItemFailures: the records before the failure are done
                self._done(batch[failed_from - 1])
                batch = batch[failed_from:]
            if self.config.get("BisectBatchOnFunctionError") and len(batch) > 1:
                middle = len(batch) // 2
                pending[0:0] = [(batch[:middle], attempts), (batch[middle:], attempts)]
                continue
            attempts += 1
            if self._give_up(batch, attempts):
                log.warning("mapping %s: skipping %d records of %s (%s to %s) after %d attempts",
                            self.poller.mapping.uuid, len(batch), self.shard_id, batch[0]["SequenceNumber"],
                            batch[-1]["SequenceNumber"], attempts)
                self._done(batch[-1])
                continue
            delay = min(self.retry_max_seconds, self.retry_base_seconds * 2 ** (attempts - 1))
            stopping.wait(delay)
            pending.insert(0, (batch, attempts))
        if stopping.is_set() and pending:
            # Not delivered: put them back so nothing past the checkpoint is lost in memory;
            # after a restart they are read again from the checkpoint anyway.
            self.buffer[0:0] = [r for batch, _ in pending for r in batch]

    def _give_up(self, batch: list[dict], attempts: int) -> bool:
        limit = self.config.get("MaximumRetryAttempts", -1)
        if limit is not None and limit != -1 and attempts > limit:
            return True
        max_age = self.config.get("MaximumRecordAgeInSeconds", -1)
        if max_age is not None and max_age != -1:
            oldest = batch[0]["ApproximateArrivalTimestamp"].timestamp()
            return time.time() - oldest > max_age
        return False

    def _done(self, record: dict) -> None:
        self.last_done = record["SequenceNumber"]
        self.poller.checkpoint(self.shard_id, self.last_done)

    def _invoke(self, batch: list[dict]) -> int | None:
        """None when the batch succeeded; else the index of the first record to retry."""
        mapping = self.poller.mapping
        mappings = self.poller.mappings
        provider = mappings.provider
        try:
            role_arn = provider.catalog.resolve(mapping.function_ref)[1].config["Role"]
            payload = json.dumps({"Records": [_event_record(r, self.shard_id, mapping, role_arn) for r in batch]})
            outcome = provider.invoke_internal(mapping.function_ref, payload.encode(), str(uuid.uuid4()))
        except AwsError as exc:
            # Throttled, or the function is gone or not ready: the whole batch waits.
            mappings.record_result(mapping, f"PROBLEM: {exc.message or exc.code}")
            return 0
        if outcome.function_error is not None:
            mappings.record_result(mapping, "PROBLEM: Function call failed")
            return 0
        mappings.record_result(mapping, "OK")
        if "ReportBatchItemFailures" in (self.config.get("FunctionResponseTypes") or []):
            return _first_failure(outcome.payload, batch)
        return None


def _event_record(record: dict, shard_id: str, mapping: Mapping, role_arn: str) -> dict:
    """One record in the shape of AWS's Kinesis event.
    https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html#services-kinesis-event-example"""
    arrival = record["ApproximateArrivalTimestamp"]
    source = mapping.document["EventSourceArn"]
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record["PartitionKey"],
            "sequenceNumber": record["SequenceNumber"],
            "data": base64.b64encode(record["Data"]).decode(),
            "approximateArrivalTimestamp": round(arrival.timestamp(), 3),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{record['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": role_arn,
        "awsRegion": source.split(":")[3],
        "eventSourceARN": source,
    }


def _fitting(buffer: list[dict], size: int) -> int:
    """How many of the buffered records make the next batch: at most `size`, and no more
    than fit in a 6 MB payload (at least one)."""
    total, count = 0, 0
    for record in buffer[:size]:
        total += len(record["Data"]) * 4 // 3 + RECORD_OVERHEAD
        if count and total > MAX_PAYLOAD:
            break
        count += 1
    return count


def _first_failure(payload: bytes, batch: list[dict]) -> int | None:
    """The index of the first failed record in a ReportBatchItemFailures response.
    https://docs.aws.amazon.com/lambda/latest/dg/kinesis-batchfailurereporting.html"""
    try:
        response = json.loads(payload)
    except ValueError:
        return 0  # an unreadable response fails the whole batch
    if not isinstance(response, dict):
        return None
    failures = response.get("batchItemFailures")
    if not failures:
        return None
    positions = {r["SequenceNumber"]: i for i, r in enumerate(batch)}
    found = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if identifier not in positions:
            return 0  # an identifier that is not in the batch fails the whole batch
        found.append(positions[identifier])
    return min(found)
