"""SubscribeToShard: records pushed to an enhanced fan-out consumer as an event stream.

One subscription per consumer and shard at a time. A second call within 5 seconds is
refused (ResourceInUseException); a later one takes over, and the older subscription ends
with that error. A subscription lasts 5 minutes of service-clock time, ends after the
event carrying a closed shard's ChildShards, and sends an event at least every few
seconds even when no records arrive.
https://docs.aws.amazon.com/kinesis/latest/APIReference/API_SubscribeToShard.html
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from lakestack.aws.errors import AwsError
from lakestack.services.kinesis.records import Records
from lakestack.services.kinesis.streams import Shard, Stream

LIFETIME_SECONDS = 5 * 60
TAKEOVER_SECONDS = 5
EVENT_BYTES = 2 << 20  # one event carries at most a second's worth of a shard's fan-out
HEARTBEAT_SECONDS = 5
POLL_SECONDS = 0.5  # also how soon a subscription notices that its client went away


class Subscriptions:
    def __init__(self, records: Records, clock):
        self.records = records
        self.clock = clock
        self._lock = threading.Lock()
        self._active: dict[tuple[str, int], tuple[float, object]] = {}  # (consumer arn, shard) → (start, token)

    def claim(self, consumer_arn: str, shard_index: int) -> object:
        now = self.clock.now()
        with self._lock:
            current = self._active.get((consumer_arn, shard_index))
            if current is not None and now - current[0] < TAKEOVER_SECONDS:
                raise AwsError("ResourceInUseException",
                               f"Another active subscription exists for consumer {consumer_arn} on shard "
                               f"shardId-{shard_index:012d}.")
            token = object()
            self._active[(consumer_arn, shard_index)] = (now, token)
            return token

    def _holds(self, consumer_arn: str, shard_index: int, token: object) -> bool:
        current = self._active.get((consumer_arn, shard_index))
        return current is not None and current[1] is token

    def _release(self, consumer_arn: str, shard_index: int, token: object) -> None:
        with self._lock:
            if self._holds(consumer_arn, shard_index, token):
                del self._active[(consumer_arn, shard_index)]

    def events(self, stream: Stream, shard: Shard, consumer_arn: str, position: int, token: object) -> Iterator[dict]:
        """SubscribeToShardEvent payloads; `{}` when idle (lets the gateway notice a
        disconnect)."""
        deadline = self.clock.now() + LIFETIME_SECONDS
        key = (stream.id, shard.index)
        last_sent = 0.0
        try:
            while self.clock.now() < deadline:
                if not self._holds(consumer_arn, shard.index, token):
                    raise AwsError("ResourceInUseException",
                                   f"Subscription to shard {shard.shard_id} for consumer {consumer_arn} was taken "
                                   "over by a newer SubscribeToShard call.")
                if stream.status not in ("ACTIVE", "UPDATING"):
                    raise AwsError("ResourceNotFoundException",
                                   f"Stream {stream.name} under account {stream.account} not found.")
                seen = self.records.arrivals.version(key)
                result = self.records.read(stream, shard, position, 10_000, EVENT_BYTES)
                if result.records or result.at_end or time.monotonic() - last_sent >= HEARTBEAT_SECONDS:
                    position = result.next_position
                    event = {"Records": result.records, "MillisBehindLatest": result.millis_behind}
                    if result.at_end:
                        event["ChildShards"] = result.children
                    else:
                        event["ContinuationSequenceNumber"] = (
                            result.records[-1]["SequenceNumber"] if result.records
                            else shard.sequence_number(max(position - 1, 0)))
                    yield {"SubscribeToShardEvent": event}
                    last_sent = time.monotonic()
                    if result.at_end:
                        return
                    if result.records:
                        continue
                self.records.arrivals.wait(key, seen, POLL_SECONDS)
                yield {}
        finally:
            self._release(consumer_arn, shard.index, token)
