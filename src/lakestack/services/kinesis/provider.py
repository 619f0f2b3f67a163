"""Kinesis Data Streams: thin glue from typed params to streams, records and consumers.

Metadata lives in `<state>/kinesis.db` (streams.py); records in the stream log engine the
settings choose (engines/streams: embedded segment files, or NATS JetStream).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import os
import re
import uuid

from lakestack.aws.errors import AwsError
from lakestack.engines.streams import open_stream_log
from lakestack.runtime.state import StateStore
from lakestack.services.base import Provider
from lakestack.services.kinesis import consumers, errors, resharding
from lakestack.services.kinesis.clock import Clock
from lakestack.services.kinesis.hashing import even_ranges
from lakestack.services.kinesis.iterators import Iterators
from lakestack.services.kinesis.records import MAX_GET_BYTES, MAX_GET_RECORDS, READABLE, Records
from lakestack.services.kinesis.retention import Retention
from lakestack.services.kinesis.streams import (
    SCHEMA,
    Catalog,
    Shard,
    Stream,
    parse_shard_id,
    shard_id,
    stream_arn,
)
from lakestack.services.kinesis.subscriptions import Subscriptions
from lakestack.services.kinesis.throughput import Throughput

# https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html
SHARD_LIMIT = 500  # open shards per account and region (AWS: 500 in the largest regions, 200 elsewhere)
MAX_TAGS = 50
MIN_RETENTION, MAX_RETENTION = 24, 8760
NEXT_TOKEN_SECONDS = 300
# A small PutRecord runs on the event loop thread (Provider.runs_inline) while the embedded
# log's small appends (write + fdatasync) average under this: a worker thread's GIL
# hand-offs cost ~0.1 ms of CPU per call. A slower disk would hold every other connection
# up for as long, so then they go back to worker threads (as S3's small objects do).
INLINE_APPEND_SECONDS = 0.001
INLINE_RECORD_BYTES = 64 * 1024
ALL_METRICS = ["IncomingBytes", "IncomingRecords", "OutgoingBytes", "OutgoingRecords", "WriteProvisionedThroughputExceeded",
               "ReadProvisionedThroughputExceeded", "IteratorAgeMilliseconds"]
_STREAM_ARN = re.compile(r"^arn:aws[a-z-]*:kinesis:([^:]+):(\d{12}):stream/([a-zA-Z0-9_.-]+)$")


def _when(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def _token(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def _untoken(text: str) -> dict:
    try:
        data = json.loads(base64.urlsafe_b64decode(text.encode()))
        if isinstance(data, dict):
            return data
    except ValueError:
        pass
    raise errors.invalid_argument(f"Invalid NextToken: {text}")


class KinesisProvider(Provider):
    service = "kinesis"
    # How long CREATING, UPDATING and DELETING last (AWS: seconds to minutes). Tests may shorten it.
    transition_seconds = 0.5

    def __init__(self, stack):
        super().__init__(stack)
        settings = stack.settings
        self.clock = Clock()
        self.store = StateStore(settings.state_dir / "kinesis.db", SCHEMA)
        self.catalog = Catalog(self.store, self.clock)
        self.engine = open_stream_log(settings)
        self.throughput = Throughput(self.clock, settings.kinesis_enforce_limits)
        self.records = Records(self.engine, self.clock, self.throughput)
        self._inline_puts = settings.stream_engine == "embedded"  # JetStream waits on the network
        self.iterators = Iterators(self.catalog.secret("shard-iterator-key", lambda: os.urandom(32)))
        self.subscriptions = Subscriptions(self.records, self.clock)
        self.retention = Retention(self)

    def start(self) -> None:
        self.retention.start()

    def stop(self) -> None:
        self.retention.stop()
        self.engine.close()
        self.store.close()

    def runs_inline(self, ctx, params) -> bool:
        return (ctx.operation == "PutRecord" and self._inline_puts
                and self.records.small_append_seconds <= INLINE_APPEND_SECONDS
                and len(params.get("Data") or b"") <= INLINE_RECORD_BYTES)

    # -- IAM -------------------------------------------------------------------------------

    def authorization(self, ctx, params):
        return [(f"kinesis:{ctx.operation}", self._resource(ctx, params))]

    def _resource(self, ctx, params) -> str:
        if params.get("ConsumerARN"):
            return params["ConsumerARN"]
        if params.get("ResourceARN"):
            return params["ResourceARN"]
        if params.get("StreamARN"):
            return params["StreamARN"]
        if params.get("StreamName"):
            return stream_arn(ctx.region, ctx.account_id, params["StreamName"])
        if ctx.operation == "GetRecords":
            name = Iterators.peek_stream_name(params.get("ShardIterator", ""))
            if name:
                return stream_arn(ctx.region, ctx.account_id, name)
        return "*"

    # -- finding things ------------------------------------------------------------------------

    def _locate(self, ctx, params) -> tuple[str, str, str]:
        """(account, region, stream name) from StreamARN and/or StreamName."""
        name, arn = params.get("StreamName"), params.get("StreamARN")
        if arn:
            match = _STREAM_ARN.match(arn)
            if match is None:
                raise errors.invalid_argument(f"StreamARN {arn} is not a valid stream ARN.")
            region, account, arn_name = match.groups()
            if name and name != arn_name:
                raise errors.invalid_argument(f"StreamARN {arn} and StreamName {name} refer to different streams.")
            return account, region, arn_name
        if not name:
            raise errors.invalid_argument("Either StreamName or StreamARN should be provided.")
        return ctx.account_id, ctx.region, name

    def _stream(self, ctx, params, readable: bool = False, deleting: bool = False) -> Stream:
        """The stream named; `readable` ones only (ACTIVE, UPDATING) for record operations, and
        a DELETING one only to describe it."""
        account, region, name = self._locate(ctx, params)
        # Cross-account access needs resource policies, which lakestack does not evaluate yet.
        stream = self.catalog.get(account, region, name) if account == ctx.account_id else None
        if (stream is None or (stream.status == "DELETING" and not deleting)
                or (readable and stream.status not in READABLE)):
            raise errors.stream_not_found(name, account)
        return stream

    def _active(self, ctx, params) -> Stream:
        stream = self._stream(ctx, params)
        if stream.status != "ACTIVE":
            raise errors.stream_not_active(stream.name, stream.account, stream.status)
        return stream

    def _shard(self, stream: Stream, text: str, for_reshard: bool = False) -> Shard:
        index = parse_shard_id(text)
        shard = stream.shard(index) if index is not None else None
        if shard is None:
            make = errors.shard_not_found_for_reshard if for_reshard else errors.shard_not_found
            raise make(text, stream.name, stream.account)
        return shard

    def _consumer_stream(self, ctx, arn: str) -> tuple[Stream, str]:
        parsed = consumers.parse_arn(arn)
        if parsed is None:
            raise errors.invalid_argument(f"ConsumerARN {arn} is not a valid consumer ARN.")
        region, account, stream_name, name, _ = parsed
        stream = self.catalog.get(account, region, stream_name) if account == ctx.account_id else None
        if stream is None or stream.status == "DELETING":
            raise errors.consumer_not_found(arn)
        return stream, name

    def _transition(self, stream: Stream, status: str) -> None:
        stream.status = status
        stream.status_until = self.clock.now() + self.transition_seconds

    def _close(self, stream: Stream):
        def close(shard: Shard) -> None:
            shard.ending_position = self.engine.bounds(stream.ref(shard))[1]

        return close

    def _check_shard_limit(self, ctx, adding: int) -> None:
        current = self.catalog.open_shard_count(ctx.account_id, ctx.region)
        if current + adding > SHARD_LIMIT:
            raise errors.limit_exceeded(
                f"This request would exceed the shard limit for the account {ctx.account_id} in {ctx.region}. "
                f"Current shard count for the account: {current}. Limit: {SHARD_LIMIT}. Number of additional "
                f"shards that would have resulted from this request: {adding}. Refer to the AWS Service Limits "
                "page (https://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current "
                "limits and how to request higher limits.")

    # -- streams -----------------------------------------------------------------------------

    def create_stream(self, ctx, params):
        name = params["StreamName"]
        mode = (params.get("StreamModeDetails") or {}).get("StreamMode", "PROVISIONED")
        count = params.get("ShardCount")
        if mode == "PROVISIONED" and count is None:
            raise errors.invalid_argument("ShardCount is required for a stream in PROVISIONED mode.")
        if mode == "ON_DEMAND":
            if count is not None:
                raise errors.invalid_argument("ShardCount cannot be specified for a stream in ON_DEMAND mode.")
            count = 4  # what Kinesis starts an on-demand stream with
        tags = params.get("Tags") or {}
        if len(tags) > MAX_TAGS:
            raise errors.invalid_argument(f"Failed to create stream {name} under account {ctx.account_id} because "
                                          f"a given stream cannot have more than {MAX_TAGS} tags.")
        self._check_shard_limit(ctx, count)
        now = self.clock.now()
        created_ms = int(now * 1000)
        shards = [Shard(i, start, end, created_ms) for i, (start, end) in enumerate(even_ranges(count))]
        stream = Stream(uuid.uuid4().hex, ctx.account_id, ctx.region, name, now, mode=mode, status="CREATING",
                        status_until=now + self.transition_seconds, tags=dict(tags), next_shard_index=count,
                        shards=shards, max_record_kib=params.get("MaxRecordSizeInKiB") or 1024)
        if not self.catalog.add(stream):
            raise errors.stream_exists(name, ctx.account_id)
        self.engine.drop_leftovers(ctx.account_id, ctx.region, name)
        return {}

    def delete_stream(self, ctx, params):
        stream = self._stream(ctx, params)
        if stream.consumers and not params.get("EnforceConsumerDeletion"):
            raise AwsError("ResourceInUseException",
                           f"Stream {stream.name} under account {stream.account} has registered consumers. "
                           "Deregister them first or set EnforceConsumerDeletion.")
        with stream.lock.exclusive():
            self._transition(stream, "DELETING")
            self.catalog.save(stream)
            self.engine.drop([stream.ref(s) for s in stream.shards])
        self.throughput.forget(stream.id)
        self.records.arrivals.forget(stream.id)
        return {}

    def _summary(self, stream: Stream) -> dict:
        out = {
            "StreamName": stream.name,
            "StreamARN": stream.arn,
            "StreamStatus": stream.status,
            "StreamModeDetails": {"StreamMode": stream.mode},
            "RetentionPeriodHours": stream.retention_hours,
            "StreamCreationTimestamp": _when(stream.created),
            "EnhancedMonitoring": [{"ShardLevelMetrics": list(stream.shard_metrics)}],
            "EncryptionType": stream.encryption_type,
        }
        if stream.key_id:
            out["KeyId"] = stream.key_id
        return out

    def describe_stream(self, ctx, params):
        stream = self._stream(ctx, params, deleting=True)
        shards = sorted(stream.shards, key=lambda s: s.index)
        start = params.get("ExclusiveStartShardId")
        if start:
            after = parse_shard_id(start)
            shards = [s for s in shards if after is None or s.index > after]
        limit = params.get("Limit") or 100
        description = self._summary(stream)
        description["Shards"] = [s.describe() for s in shards[:limit]]
        description["HasMoreShards"] = len(shards) > limit
        return {"StreamDescription": description}

    def describe_stream_summary(self, ctx, params):
        stream = self._stream(ctx, params, deleting=True)
        summary = self._summary(stream)
        summary["OpenShardCount"] = len(stream.open_shards)
        summary["ConsumerCount"] = len(stream.consumers)
        summary["MaxRecordSizeInKiB"] = stream.max_record_kib
        return {"StreamDescriptionSummary": summary}

    def list_streams(self, ctx, params):
        streams = self.catalog.list(ctx.account_id, ctx.region)
        after = params.get("ExclusiveStartStreamName")
        if params.get("NextToken"):
            after = _untoken(params["NextToken"]).get("after")
        if after:
            streams = [s for s in streams if s.name > after]
        limit = params.get("Limit") or 100
        page, more = streams[:limit], len(streams) > limit
        out = {
            "StreamNames": [s.name for s in page],
            "HasMoreStreams": more,
            "StreamSummaries": [{"StreamName": s.name, "StreamARN": s.arn, "StreamStatus": s.status,
                                 "StreamModeDetails": {"StreamMode": s.mode},
                                 "StreamCreationTimestamp": _when(s.created)} for s in page],
        }
        if more:
            out["NextToken"] = _token({"after": page[-1].name})
        return out

    def list_shards(self, ctx, params):
        token = params.get("NextToken")
        if token and (params.get("StreamName") or params.get("StreamARN")):
            raise errors.invalid_argument("NextToken and StreamName cannot be provided together.")
        if token:
            state = _untoken(token)
            if self.clock.now() - state.get("issued", 0) > NEXT_TOKEN_SECONDS:
                raise AwsError("ExpiredNextTokenException", "The timestamp provided in the NextToken has expired.")
            stream = self.catalog.by_id(state.get("stream", ""))
            if stream is None or stream.account != ctx.account_id:
                raise errors.invalid_argument(f"Invalid NextToken: {token}")
            after, shard_filter = state.get("after"), state.get("filter")
        else:
            stream = self._stream(ctx, params)
            start = params.get("ExclusiveStartShardId")
            after = parse_shard_id(start) if start else None
            shard_filter = params.get("ShardFilter")
            if shard_filter and shard_filter.get("Timestamp") is not None:
                shard_filter = {**shard_filter, "Timestamp": shard_filter["Timestamp"].timestamp()}
        shards = self._filter_shards(stream, shard_filter)
        if after is not None:
            shards = [s for s in shards if s.index > after]
        limit = params.get("MaxResults") or 1000
        page = shards[:limit]
        out = {"Shards": [s.describe() for s in page]}
        if len(shards) > limit:
            out["NextToken"] = _token({"stream": stream.id, "after": page[-1].index, "filter": shard_filter,
                                       "issued": self.clock.now()})
        return out

    def _filter_shards(self, stream: Stream, shard_filter: dict | None) -> list[Shard]:
        shards = sorted(stream.shards, key=lambda s: s.index)
        if not shard_filter:
            return shards
        kind = shard_filter["Type"]
        present = {s.index for s in shards}
        roots = [s for s in shards if s.parent not in present and s.adjacent_parent not in present]
        if kind == "AFTER_SHARD_ID":
            if not shard_filter.get("ShardId"):
                raise errors.invalid_argument("ShardId must be specified for ShardFilter type AFTER_SHARD_ID.")
            after = parse_shard_id(shard_filter["ShardId"])
            return [s for s in shards if after is None or s.index > after]
        if kind == "AT_TRIM_HORIZON":
            return roots
        if kind == "FROM_TRIM_HORIZON":
            return shards
        if kind == "AT_LATEST":
            return [s for s in shards if s.is_open]
        if kind in ("AT_TIMESTAMP", "FROM_TIMESTAMP"):
            if shard_filter.get("Timestamp") is None:
                raise errors.invalid_argument(f"Timestamp must be specified for ShardFilter type {kind}.")
            at_ms = int(shard_filter["Timestamp"] * 1000)
            alive = [s for s in shards if s.closed_ms is None or s.closed_ms > at_ms]
            if kind == "FROM_TIMESTAMP":
                return alive
            opened = [s for s in alive if s.created_ms <= at_ms]
            return opened or [s for s in roots if s in alive]
        raise errors.invalid_argument(f"Unknown ShardFilter type {kind}")

    def update_stream_mode(self, ctx, params):
        stream = self._active(ctx, params)
        mode = params["StreamModeDetails"]["StreamMode"]
        if mode != stream.mode:
            with stream.lock.exclusive():
                stream.mode = mode
                self._transition(stream, "UPDATING")
                self.catalog.save(stream)
        return {}

    def describe_limits(self, ctx, params):
        streams = self.catalog.list(ctx.account_id, ctx.region)
        return {"ShardLimit": SHARD_LIMIT, "OpenShardCount": sum(len(s.open_shards) for s in streams),
                "OnDemandStreamCount": sum(s.mode == "ON_DEMAND" for s in streams), "OnDemandStreamCountLimit": 50}

    # -- retention, encryption, monitoring, record size ----------------------------------------

    def increase_stream_retention_period(self, ctx, params):
        return self._retention(ctx, params, increase=True)

    def decrease_stream_retention_period(self, ctx, params):
        return self._retention(ctx, params, increase=False)

    def _retention(self, ctx, params, increase: bool):
        stream = self._active(ctx, params)
        hours = params["RetentionPeriodHours"]
        if hours < MIN_RETENTION:
            raise errors.invalid_argument(f"Minimum allowed retention period is {MIN_RETENTION} hours. Requested "
                                          f"retention period ({hours} hours) is too short.")
        if hours > MAX_RETENTION:
            raise errors.invalid_argument(f"Maximum allowed retention period is {MAX_RETENTION} hours. Requested "
                                          f"retention period ({hours} hours) is too long.")
        if increase and hours < stream.retention_hours:
            raise errors.invalid_argument(
                f"Requested retention period ({hours} hours) for stream {stream.name} can not be shorter than "
                f"existing retention period ({stream.retention_hours} hours). Use DecreaseRetentionPeriod API.")
        if not increase and hours > stream.retention_hours:
            raise errors.invalid_argument(
                f"Requested retention period ({hours} hours) for stream {stream.name} can not be longer than "
                f"existing retention period ({stream.retention_hours} hours). Use IncreaseRetentionPeriod API.")
        with stream.lock.exclusive():
            stream.retention_hours = hours
            self.catalog.save(stream)
        if not increase:
            self.retention.wake()
        return {}

    def start_stream_encryption(self, ctx, params):
        # The flags are recorded; records are encrypted at rest once lakestack has KMS.
        stream = self._active(ctx, params)
        if params["EncryptionType"] != "KMS":
            raise errors.invalid_argument("EncryptionType must be KMS to start encryption.")
        with stream.lock.exclusive():
            stream.encryption_type, stream.key_id = "KMS", params["KeyId"]
            self._transition(stream, "UPDATING")
            self.catalog.save(stream)
        return {}

    def stop_stream_encryption(self, ctx, params):
        stream = self._active(ctx, params)
        with stream.lock.exclusive():
            stream.encryption_type, stream.key_id = "NONE", None
            self._transition(stream, "UPDATING")
            self.catalog.save(stream)
        return {}

    def enable_enhanced_monitoring(self, ctx, params):
        return self._monitoring(ctx, params, enable=True)

    def disable_enhanced_monitoring(self, ctx, params):
        return self._monitoring(ctx, params, enable=False)

    def _monitoring(self, ctx, params, enable: bool):
        stream = self._active(ctx, params)
        asked = set(ALL_METRICS) if "ALL" in params["ShardLevelMetrics"] else set(params["ShardLevelMetrics"])
        current = list(stream.shard_metrics)
        desired = set(current) | asked if enable else set(current) - asked
        with stream.lock.exclusive():
            stream.shard_metrics = [m for m in ALL_METRICS if m in desired]
            self.catalog.save(stream)
        return {"StreamName": stream.name, "StreamARN": stream.arn, "CurrentShardLevelMetrics": current,
                "DesiredShardLevelMetrics": list(stream.shard_metrics)}

    def update_max_record_size(self, ctx, params):
        stream = self._active(ctx, params)
        with stream.lock.exclusive():
            stream.max_record_kib = params["MaxRecordSizeInKiB"]
            self.catalog.save(stream)
        return {}

    # -- tags and resource policies ------------------------------------------------------------

    def add_tags_to_stream(self, ctx, params):
        stream = self._stream(ctx, params, readable=True)
        self._tag(stream, stream.tags, params["Tags"], f"stream {stream.name}")
        return {}

    def _tag(self, stream: Stream, tags: dict, new: dict, what: str) -> None:
        if len(set(tags) | set(new)) > MAX_TAGS:
            raise errors.invalid_argument(f"Failed to add tags to {what} under account {stream.account} because a "
                                          f"given stream cannot have more than {MAX_TAGS} tags.")
        with stream.lock.exclusive():
            tags.update(new)
            self.catalog.save(stream)

    def remove_tags_from_stream(self, ctx, params):
        stream = self._stream(ctx, params, readable=True)
        with stream.lock.exclusive():
            for key in params["TagKeys"]:
                stream.tags.pop(key, None)
            self.catalog.save(stream)
        return {}

    def list_tags_for_stream(self, ctx, params):
        stream = self._stream(ctx, params)
        keys = sorted(stream.tags)
        start = params.get("ExclusiveStartTagKey")
        if start:
            keys = [k for k in keys if k > start]
        limit = params.get("Limit") or 50
        return {"Tags": [{"Key": k, "Value": stream.tags[k]} for k in keys[:limit]], "HasMoreTags": len(keys) > limit}

    def _tagged(self, ctx, arn: str) -> tuple[Stream, dict, object]:
        """The stream and the tag map (and the object holding a policy) a ResourceARN names."""
        if "/consumer/" in arn:
            stream, name = self._consumer_stream(ctx, arn)
            consumer = consumers.find(stream, None, arn)
            return stream, consumer.tags, consumer
        stream = self._stream(ctx, {"StreamARN": arn})
        return stream, stream.tags, stream

    def tag_resource(self, ctx, params):
        stream, tags, _ = self._tagged(ctx, params["ResourceARN"])
        self._tag(stream, tags, params["Tags"], params["ResourceARN"])
        return {}

    def untag_resource(self, ctx, params):
        stream, tags, _ = self._tagged(ctx, params["ResourceARN"])
        with stream.lock.exclusive():
            for key in params["TagKeys"]:
                tags.pop(key, None)
            self.catalog.save(stream)
        return {}

    def list_tags_for_resource(self, ctx, params):
        _, tags, _ = self._tagged(ctx, params["ResourceARN"])
        return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}

    def put_resource_policy(self, ctx, params):
        # Stored and returned; lakestack's IAM does not evaluate Kinesis resource policies yet.
        try:
            json.loads(params["Policy"])
        except ValueError:
            raise errors.invalid_argument("Policy is not valid JSON.") from None
        stream, _, holder = self._tagged(ctx, params["ResourceARN"])
        with stream.lock.exclusive():
            holder.policy = params["Policy"]
            self.catalog.save(stream)
        return {}

    def get_resource_policy(self, ctx, params):
        _, _, holder = self._tagged(ctx, params["ResourceARN"])
        return {"Policy": holder.policy or "{}"}

    def delete_resource_policy(self, ctx, params):
        stream, _, holder = self._tagged(ctx, params["ResourceARN"])
        if holder.policy is None:
            raise AwsError("ResourceNotFoundException", f"No resource policy found for {params['ResourceARN']}.")
        with stream.lock.exclusive():
            holder.policy = None
            self.catalog.save(stream)
        return {}

    # -- records -------------------------------------------------------------------------------

    def put_record(self, ctx, params):
        stream = self._stream(ctx, params, readable=True)
        entry = {k: params.get(k) for k in ("Data", "PartitionKey", "ExplicitHashKey")}
        self.records.check_sizes(stream, [entry], "")
        result = self.records.put(stream, [entry])[0]
        if "ErrorCode" in result:
            raise AwsError(result["ErrorCode"], result["ErrorMessage"])
        return result

    def put_records(self, ctx, params):
        stream = self._stream(ctx, params, readable=True)
        entries = params["Records"]
        self.records.check_sizes(stream, entries, "records")
        results = self.records.put(stream, entries)
        return {"FailedRecordCount": sum("ErrorCode" in r for r in results), "Records": results,
                **({"EncryptionType": stream.encryption_type} if stream.encryption_type != "NONE" else {})}

    def get_shard_iterator(self, ctx, params):
        stream = self._stream(ctx, params, readable=True)
        shard = self._shard(stream, params["ShardId"])
        position = self.records.starting_position(stream, shard, params["ShardIteratorType"],
                                                  params.get("StartingSequenceNumber"), params.get("Timestamp"))
        return {"ShardIterator": self.iterators.issue(stream.id, stream.name, shard.index, position,
                                                      self.clock.now_ms())}

    def get_records(self, ctx, params):
        now_ms = self.clock.now_ms()
        position = self.iterators.open(params["ShardIterator"])
        self.iterators.check_fresh(position, now_ms)
        stream = self.catalog.by_id(position.stream_id)
        if stream is None or stream.account != ctx.account_id or stream.status not in READABLE:
            raise errors.shard_not_found(shard_id(position.shard_index), position.stream_name, ctx.account_id)
        shard = stream.shard(position.shard_index)
        if shard is None:
            raise errors.shard_not_found(shard_id(position.shard_index), stream.name, stream.account)
        key = (stream.id, shard.index)
        limited = stream.mode == "PROVISIONED"
        if limited and not self.throughput.admit_read(key):
            raise errors.rate_exceeded(shard.shard_id, stream.name, stream.account)
        max_bytes = min(self.throughput.read_allowance(key), MAX_GET_BYTES) if limited else MAX_GET_BYTES
        result = self.records.read(stream, shard, position.position, params.get("Limit") or MAX_GET_RECORDS,
                                   max_bytes)
        if limited:
            self.throughput.spent_read(key, result.size)
        out = {"Records": result.records, "MillisBehindLatest": result.millis_behind}
        if result.at_end:
            out["ChildShards"] = result.children
        else:
            out["NextShardIterator"] = self.iterators.issue(stream.id, stream.name, shard.index,
                                                            result.next_position, now_ms)
        return out

    # -- resharding ----------------------------------------------------------------------------

    def split_shard(self, ctx, params):
        stream = self._active(ctx, params)
        shard = self._shard(stream, params["ShardToSplit"], for_reshard=True)
        self._check_shard_limit(ctx, 1)
        with stream.lock.exclusive():
            if stream.status != "ACTIVE":
                raise errors.stream_not_active(stream.name, stream.account, stream.status)
            resharding.split(stream, shard, int(params["NewStartingHashKey"]), self.clock.now_ms(),
                             self._close(stream))
            self._transition(stream, "UPDATING")
            self.catalog.save(stream)
        return {}

    def merge_shards(self, ctx, params):
        stream = self._active(ctx, params)
        shard = self._shard(stream, params["ShardToMerge"], for_reshard=True)
        adjacent = self._shard(stream, params["AdjacentShardToMerge"], for_reshard=True)
        with stream.lock.exclusive():
            if stream.status != "ACTIVE":
                raise errors.stream_not_active(stream.name, stream.account, stream.status)
            resharding.merge(stream, shard, adjacent, self.clock.now_ms(), self._close(stream))
            self._transition(stream, "UPDATING")
            self.catalog.save(stream)
        return {}

    def update_shard_count(self, ctx, params):
        stream = self._active(ctx, params)
        if stream.mode != "PROVISIONED":
            raise errors.validation("UpdateShardCount is only supported for streams in PROVISIONED mode.")
        current, target = len(stream.open_shards), params["TargetShardCount"]
        if target > 2 * current:
            raise errors.limit_exceeded(
                "UpdateShardCount cannot scale up over double your current open shard count. Current open shard "
                f"count: {current}, Target shard count: {target}")
        if target < math.ceil(current / 2):
            raise errors.limit_exceeded(
                "UpdateShardCount cannot scale down below half your current open shard count. Current open shard "
                f"count: {current}, Target shard count: {target}")
        self._check_shard_limit(ctx, max(target - current, 0))
        if target != current:
            with stream.lock.exclusive():
                resharding.uniform_scale(stream, target, self.clock.now_ms(), self._close(stream))
                self._transition(stream, "UPDATING")
                self.catalog.save(stream)
        return {"StreamName": stream.name, "StreamARN": stream.arn, "CurrentShardCount": current,
                "TargetShardCount": target}

    # -- enhanced fan-out ----------------------------------------------------------------------

    def register_stream_consumer(self, ctx, params):
        stream = self._stream(ctx, {"StreamARN": params["StreamARN"]}, readable=True)
        with stream.lock.exclusive():
            consumer = consumers.register(stream, params["ConsumerName"], params.get("Tags"), self.clock.now(),
                                          self.transition_seconds)
            self.catalog.save(stream)
        return {"Consumer": consumers.describe(stream, consumer, with_stream=False)}

    def _find_consumer(self, ctx, params):
        if params.get("ConsumerARN"):
            stream, _ = self._consumer_stream(ctx, params["ConsumerARN"])
            return stream, consumers.find(stream, None, params["ConsumerARN"])
        if not (params.get("StreamARN") and params.get("ConsumerName")):
            raise errors.invalid_argument("Either ConsumerARN, or StreamARN and ConsumerName, must be provided.")
        stream = self._stream(ctx, {"StreamARN": params["StreamARN"]})
        return stream, consumers.find(stream, params["ConsumerName"], None)

    def describe_stream_consumer(self, ctx, params):
        stream, consumer = self._find_consumer(ctx, params)
        return {"ConsumerDescription": consumers.describe(stream, consumer)}

    def list_stream_consumers(self, ctx, params):
        stream = self._stream(ctx, {"StreamARN": params["StreamARN"]})
        found = sorted(stream.consumers.values(), key=lambda c: c.name)
        if params.get("NextToken"):
            after = _untoken(params["NextToken"]).get("after", "")
            found = [c for c in found if c.name > after]
        limit = params.get("MaxResults") or 100
        out = {"Consumers": [consumers.describe(stream, c, with_stream=False) for c in found[:limit]]}
        if len(found) > limit:
            out["NextToken"] = _token({"after": found[limit - 1].name})
        return out

    def deregister_stream_consumer(self, ctx, params):
        stream, consumer = self._find_consumer(ctx, params)
        with stream.lock.exclusive():
            consumer.status = "DELETING"
            consumer.status_until = self.clock.now() + self.transition_seconds
            self.catalog.save(stream)
        return {}

    def subscribe_to_shard(self, ctx, params):
        arn = params["ConsumerARN"]
        stream, _ = self._consumer_stream(ctx, arn)
        consumer = consumers.find(stream, None, arn)
        if consumer.status != "ACTIVE":
            raise AwsError("ResourceInUseException", f"Consumer {arn} is not ACTIVE, instead in state "
                                                     f"{consumer.status}")
        if stream.status not in READABLE:
            raise errors.stream_not_found(stream.name, stream.account)
        shard = self._shard(stream, params["ShardId"])
        start = params["StartingPosition"]
        position = self.records.starting_position(stream, shard, start["Type"], start.get("SequenceNumber"),
                                                  start.get("Timestamp"), "SubscribeToShard")
        token = self.subscriptions.claim(arn, shard.index)
        return {"EventStream": self.subscriptions.events(stream, shard, arn, position, token)}
