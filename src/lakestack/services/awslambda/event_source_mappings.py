"""Event source mappings: Lambda reading a Kinesis stream and invoking a function with
batches of its records.
https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html

A mapping is a JSON document (its EventSourceMappingConfiguration plus what lakestack
needs); the per-shard progress lives in `shard_checkpoints` (kinesis_poller.py). Enabled
mappings are polled from the moment they are created and again after a restart, from
their checkpoints.

Kinesis is the one source lakestack maps: SQS, DynamoDB Streams, Kafka and MQ sources
are refused with a message saying so.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
import uuid
from typing import TYPE_CHECKING

from lakestack.aws.errors import AwsError
from lakestack.services.awslambda import errors
from lakestack.services.awslambda.kinesis_poller import StreamPoller
from lakestack.services.awslambda.names import FunctionRef, parse
from lakestack.services.awslambda.roles import RoleSessions

if TYPE_CHECKING:
    from lakestack.services.awslambda.provider import LambdaProvider

_KINESIS_ARN = re.compile(r"^arn:aws[a-z-]*:kinesis:([a-z0-9-]+):(\d{12}):stream/([a-zA-Z0-9_.-]+)$")
# The permissions a mapping's role needs on the stream (AWSLambdaKinesisExecutionRole).
READ_ACTIONS = ("kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:DescribeStream", "kinesis:ListShards")
# Fields of EventSourceMappingConfiguration that UpdateEventSourceMapping may change.
_UPDATABLE = ("BatchSize", "MaximumBatchingWindowInSeconds", "BisectBatchOnFunctionError", "MaximumRetryAttempts",
              "MaximumRecordAgeInSeconds", "FunctionResponseTypes", "DestinationConfig", "ParallelizationFactor",
              "TumblingWindowInSeconds")
# State changes (Creating → Enabled, …) take this long; tests may shorten it.
TRANSITION_SECONDS = 0.2


class Mapping:
    def __init__(self, account: str, region: str, document: dict):
        self.account = account
        self.region = region
        self.document = document  # the configuration as answered, plus "_"-prefixed internals
        self.tags: dict[str, str] = document.setdefault("_tags", {})

    @property
    def uuid(self) -> str:
        return self.document["UUID"]

    @property
    def enabled(self) -> bool:
        return self.document.get("_enabled", True)

    @property
    def function_ref(self) -> FunctionRef:
        return parse(self.document["FunctionArn"], self.account, self.region)

    def output(self) -> dict:
        out = {k: v for k, v in self.document.items() if not k.startswith("_")}
        out["LastModified"] = dt.datetime.fromtimestamp(self.document["_modified"], dt.UTC)
        if "StartingPositionTimestamp" in out:
            out["StartingPositionTimestamp"] = dt.datetime.fromtimestamp(out["StartingPositionTimestamp"], dt.UTC)
        return out


class EventSourceMappings:
    def __init__(self, provider: LambdaProvider):
        self.provider = provider
        self.db = provider.db
        self.roles = RoleSessions(provider.stack)
        self.lock = threading.RLock()
        self._mappings: dict[str, Mapping] = {}
        self._pollers: dict[str, StreamPoller] = {}
        self._stopping = False
        for row in self.db.query("SELECT uuid, account, region, document FROM event_source_mappings"):
            self._mappings[row["uuid"]] = Mapping(row["account"], row["region"], json.loads(row["document"]))

    @staticmethod
    def arn(region: str, account: str, mapping_uuid: str) -> str:
        return f"arn:aws:lambda:{region}:{account}:event-source-mapping:{mapping_uuid}"

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        for mapping in list(self._mappings.values()):
            state = mapping.document.get("State")
            if state == "Deleting":
                self._forget(mapping)
            elif state in ("Creating", "Enabling", "Updating", "Disabling"):
                self._settle(mapping)
            elif mapping.enabled:
                self._start_poller(mapping)

    def signal_stop(self) -> None:
        with self.lock:
            self._stopping = True
            pollers = list(self._pollers.values())
        for poller in pollers:
            poller.stop()

    def stop(self) -> None:
        self.signal_stop()
        with self.lock:
            pollers = list(self._pollers.values())
            self._pollers.clear()
        for poller in pollers:
            poller.join()

    def _start_poller(self, mapping: Mapping) -> None:
        with self.lock:
            if self._stopping or mapping.uuid in self._pollers:
                return
            poller = StreamPoller(self, mapping)
            self._pollers[mapping.uuid] = poller
        poller.start()

    def _detach_poller(self, mapping: Mapping) -> StreamPoller | None:
        """Tell the mapping's poller to stop, without waiting for it (a batch may be running)."""
        with self.lock:
            poller = self._pollers.pop(mapping.uuid, None)
        if poller is not None:
            poller.stop()
        return poller

    def _stop_poller(self, mapping: Mapping) -> None:
        poller = self._detach_poller(mapping)
        if poller is not None:
            poller.join()

    def _settle(self, mapping: Mapping, previous: StreamPoller | None = None) -> None:
        """Finish a state transition in the background, as AWS does: Creating/Enabling/
        Updating → Enabled (polling) or Disabled. A `previous` poller finishes its batch
        first, so the new one starts from its last checkpoint."""
        def settle():
            if previous is not None:
                previous.join()
            time.sleep(TRANSITION_SECONDS)
            with self.lock:
                if self._mappings.get(mapping.uuid) is not mapping or self._stopping:
                    return
                mapping.document["State"] = "Enabled" if mapping.enabled else "Disabled"
                self._save(mapping)
            if mapping.enabled:
                self._start_poller(mapping)
            else:
                self._stop_poller(mapping)

        threading.Thread(target=settle, name=f"esm-settle-{mapping.uuid[:8]}", daemon=True).start()

    # -- operations -------------------------------------------------------------------------

    def create(self, ctx, params: dict) -> dict:
        source = params.get("EventSourceArn")
        if not source:
            raise errors.invalid_parameter("Unsupported event source: lakestack maps Kinesis streams; an "
                                           "EventSourceArn is required.")
        found = _KINESIS_ARN.match(source)
        if found is None:
            raise errors.invalid_parameter(f"Unsupported event source type: {source}. lakestack maps Kinesis data "
                                           "streams to functions (SQS, DynamoDB Streams, Kafka and MQ are not served).")
        ref = parse(params["FunctionName"], ctx.account_id, ctx.region)
        function, _ = self._function(ref)
        position = params.get("StartingPosition")
        if position is None:
            raise errors.invalid_parameter("1 validation error detected: Value null at 'startingPosition' failed to "
                                           "satisfy constraint: Member must not be null")
        if position == "AT_TIMESTAMP" and params.get("StartingPositionTimestamp") is None:
            raise errors.invalid_parameter("StartingPositionTimestamp must be provided when StartingPosition is "
                                           "AT_TIMESTAMP.")
        self._check_limits(params)
        function_arn = ref.arn
        with self.lock:
            for other in list(self._mappings.values()):
                if (other.document["EventSourceArn"] == source and other.document["FunctionArn"] == function_arn
                        and other.account == ctx.account_id):
                    raise errors.conflict(
                        f"The event source arn (\" {source} \") and function (\" {ref.name} \") provided mapping "
                        f"already exists. Please update or delete the existing mapping with UUID {other.uuid}")
        self._check_access(function, ref, source)
        mapping_uuid = str(uuid.uuid4())
        now = time.time()
        document = {
            "UUID": mapping_uuid,
            "StartingPosition": position,
            "BatchSize": params.get("BatchSize") or 100,
            "MaximumBatchingWindowInSeconds": params.get("MaximumBatchingWindowInSeconds") or 0,
            "ParallelizationFactor": params.get("ParallelizationFactor") or 1,
            "EventSourceArn": source,
            "FunctionArn": function_arn,
            "LastProcessingResult": "No records processed",
            "State": "Creating",
            "StateTransitionReason": "User action",
            "DestinationConfig": params.get("DestinationConfig") or {"OnFailure": {}},
            "MaximumRecordAgeInSeconds": params.get("MaximumRecordAgeInSeconds", -1),
            "BisectBatchOnFunctionError": bool(params.get("BisectBatchOnFunctionError")),
            "MaximumRetryAttempts": params.get("MaximumRetryAttempts", -1),
            "TumblingWindowInSeconds": params.get("TumblingWindowInSeconds") or 0,
            "FunctionResponseTypes": params.get("FunctionResponseTypes") or [],
            "EventSourceMappingArn": self.arn(ctx.region, ctx.account_id, mapping_uuid),
            "_enabled": params.get("Enabled", True),
            "_modified": now,
            "_created": now,
            "_tags": dict(params.get("Tags") or {}),
        }
        if position == "AT_TIMESTAMP":
            document["StartingPositionTimestamp"] = params["StartingPositionTimestamp"].timestamp()
        if document["DestinationConfig"].get("OnFailure", {}).get("Destination"):
            raise errors.invalid_parameter("lakestack does not deliver event source mapping failures to an OnFailure "
                                           "destination yet; leave DestinationConfig empty.")
        mapping = Mapping(ctx.account_id, ctx.region, document)
        with self.lock:
            self._mappings[mapping_uuid] = mapping
            self._save(mapping)
        output = mapping.output()
        self._settle(mapping)
        return output

    def get(self, ctx, mapping_uuid: str) -> dict:
        return self._require(ctx, mapping_uuid).output()

    def list(self, ctx, source: str | None, function_name: str | None) -> list[dict]:
        wanted_function = None
        if function_name:
            ref = parse(function_name, ctx.account_id, ctx.region)
            wanted_function = ref
        out = []
        for mapping in sorted(list(self._mappings.values()), key=lambda m: m.document["_created"]):
            if mapping.account != ctx.account_id or mapping.region != ctx.region:
                continue
            if source and mapping.document["EventSourceArn"] != source:
                continue
            if wanted_function is not None:
                theirs = mapping.function_ref
                if theirs.name != wanted_function.name or (wanted_function.qualifier and
                                                           theirs.qualifier != wanted_function.qualifier):
                    continue
            out.append(mapping.output())
        return out

    def update(self, ctx, params: dict) -> dict:
        mapping = self._require(ctx, params["UUID"])
        if mapping.document["State"] in ("Creating", "Deleting", "Updating", "Enabling", "Disabling"):
            raise errors.error("ResourceInUseException", f"Cannot update the event source mapping because it is in "
                               f"use. State: {mapping.document['State']}")
        self._check_limits(params)
        changes = {k: params[k] for k in _UPDATABLE if params.get(k) is not None}
        if changes.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"):
            raise errors.invalid_parameter("lakestack does not deliver event source mapping failures to an OnFailure "
                                           "destination yet; leave DestinationConfig empty.")
        if params.get("FunctionName"):
            ref = parse(params["FunctionName"], ctx.account_id, ctx.region)
            function, _ = self._function(ref)
            self._check_access(function, ref, mapping.document["EventSourceArn"])
            changes["FunctionArn"] = ref.arn
        previous = self._detach_poller(mapping)
        with self.lock:
            mapping.document.update(changes)
            if params.get("Enabled") is not None:
                mapping.document["_enabled"] = params["Enabled"]
            state = mapping.document["State"]
            mapping.document["State"] = ("Enabling" if mapping.enabled and state == "Disabled" else
                                         "Disabling" if not mapping.enabled and state == "Enabled" else "Updating")
            mapping.document["StateTransitionReason"] = "User action"
            mapping.document["_modified"] = time.time()
            self._save(mapping)
            output = mapping.output()
        self._settle(mapping, previous)
        return output

    def delete(self, ctx, mapping_uuid: str) -> dict:
        mapping = self._require(ctx, mapping_uuid)
        with self.lock:
            mapping.document["State"] = "Deleting"
            self._save(mapping)
            output = mapping.output()

        def finish():
            self._stop_poller(mapping)
            self._forget(mapping)

        threading.Thread(target=finish, name=f"esm-delete-{mapping_uuid[:8]}", daemon=True).start()
        return output

    def taggable(self, ctx, arn: str):
        mapping = self._require(ctx, arn.rsplit(":", 1)[-1])
        return mapping, lambda: self._save(mapping)

    # -- for the pollers --------------------------------------------------------------------

    def current(self, mapping_uuid: str) -> Mapping | None:
        return self._mappings.get(mapping_uuid)

    def record_result(self, mapping: Mapping, result: str) -> None:
        with self.lock:
            if mapping.document.get("LastProcessingResult") != result and self._mappings.get(mapping.uuid) is mapping:
                mapping.document["LastProcessingResult"] = result
                self._save(mapping)

    def role_principal(self, mapping: Mapping):
        function, version = self._function(mapping.function_ref)
        return self.roles.principal(version.config["Role"], function.arn, function.account, function.region)

    # -- helpers ----------------------------------------------------------------------------

    def _function(self, ref: FunctionRef):
        try:
            return self.provider.catalog.resolve(ref)
        except AwsError:
            raise errors.not_found(f"Function does not exist: {ref.arn}") from None

    def _check_limits(self, params: dict) -> None:
        batch = params.get("BatchSize")
        if batch is not None and not 1 <= batch <= 10000:
            raise errors.invalid_parameter(f"BatchSize must be between 1 and 10000 for Kinesis; got {batch}.")
        window = params.get("MaximumBatchingWindowInSeconds")
        if window is not None and not 0 <= window <= 300:
            raise errors.invalid_parameter("MaximumBatchingWindowInSeconds must be between 0 and 300.")
        retries = params.get("MaximumRetryAttempts")
        if retries is not None and not -1 <= retries <= 10000:
            raise errors.invalid_parameter("MaximumRetryAttempts must be between -1 and 10000.")
        age = params.get("MaximumRecordAgeInSeconds")
        if age is not None and age != -1 and not 60 <= age <= 604800:
            raise errors.invalid_parameter("MaximumRecordAgeInSeconds must be -1, or between 60 and 604800.")
        if params.get("ParallelizationFactor") not in (None, 1):
            raise errors.invalid_parameter("lakestack processes each shard with one concurrent batch; "
                                           "ParallelizationFactor must be 1.")
        if params.get("TumblingWindowInSeconds"):
            raise errors.invalid_parameter("lakestack does not support tumbling windows yet; leave "
                                           "TumblingWindowInSeconds unset.")

    def _check_access(self, function, ref: FunctionRef, source: str) -> None:
        """As on AWS, the function's role must be able to read the stream, and the stream
        must exist."""
        version = function.latest
        principal = self.roles.principal(version.config["Role"], function.arn, function.account, function.region)
        denied = [a for a in READ_ACTIONS if not self.roles.is_allowed(principal, a, source)]
        if denied:
            raise errors.invalid_parameter(
                f"Cannot access stream {source}. Please ensure the role can perform the GetRecords, GetShardIterator, "
                "DescribeStream, and ListShards Actions on your stream in IAM.")
        region = source.split(":")[3]
        try:
            self.provider.stack.call("kinesis", "DescribeStream", {"StreamARN": source, "Limit": 1}, principal,
                                     region=region)
        except AwsError as exc:
            if exc.code == "ResourceNotFoundException":
                raise errors.invalid_parameter(f"Stream not found: {source}") from None
            raise errors.invalid_parameter(f"Cannot access stream {source}: {exc.message}") from None

    def _require(self, ctx, mapping_uuid: str) -> Mapping:
        mapping = self._mappings.get(mapping_uuid)
        if mapping is None or mapping.account != ctx.account_id or mapping.region != ctx.region:
            raise errors.not_found(f"The resource you requested does not exist. (Service: Lambda, Status Code: 404, "
                                   f"Request ID: {ctx.request_id})")
        return mapping

    def _save(self, mapping: Mapping) -> None:
        with self.db.transaction() as db:
            db.execute("INSERT OR REPLACE INTO event_source_mappings (uuid, account, region, document) "
                       "VALUES (?, ?, ?, ?)", (mapping.uuid, mapping.account, mapping.region,
                                               json.dumps(mapping.document)))

    def _forget(self, mapping: Mapping) -> None:
        with self.lock:
            self._mappings.pop(mapping.uuid, None)
            with self.db.transaction() as db:
                db.execute("DELETE FROM event_source_mappings WHERE uuid = ?", (mapping.uuid,))
                db.execute("DELETE FROM shard_checkpoints WHERE uuid = ?", (mapping.uuid,))

