"""Bucket event notifications to Lambda functions.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventNotifications.html

PutBucketNotificationConfiguration is checked as S3 checks it: known event types, prefix
and suffix filter rules, no two configurations sharing an event type over overlapping
keys, and every destination validated — the function must exist and its resource policy
must let s3.amazonaws.com invoke it for this bucket (AddPermission with SourceArn /
SourceAccount), else "Unable to validate the following destination configurations".
Configurations live in `s3.db` (table `bucket_notifications`) and are cached in memory,
so a write to a bucket without notifications costs one dictionary lookup.

Events are sent once a write or delete is durable (the provider calls in after it has
committed), once per object and matching configuration, as an asynchronous invocation:
Lambda queues the event durably before the S3 call answers. The event is AWS's record,
version 2.1: https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
SNS topics, SQS queues and EventBridge are not served by lakestack, so configurations
naming them are refused rather than stored and never delivered.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import uuid
from urllib.parse import quote_plus

from lakestack.aws.errors import AwsError
from lakestack.aws.specs import service_model
from lakestack.runtime.state import StateStore

log = logging.getLogger("lakestack.s3")

S3_PRINCIPAL = "s3.amazonaws.com"
SCHEMA = """
CREATE TABLE IF NOT EXISTS bucket_notifications (
    bucket TEXT PRIMARY KEY,
    configuration TEXT NOT NULL
)
"""


def _known_events() -> frozenset[str]:
    return frozenset(service_model("s3").shape_for("Event").enum)


def _invalid(message: str, name: str, value: str) -> AwsError:
    return AwsError("InvalidArgument", message, ArgumentName=name, ArgumentValue=value)


class LambdaTarget:
    """One LambdaFunctionConfiguration, compiled for matching."""

    def __init__(self, config: dict):
        self.id = config["Id"]
        self.function_arn = config["LambdaFunctionArn"]
        self.events = tuple(config["Events"])
        self.prefix, self.suffix = _filter_rules(config)

    def wants(self, event_name: str, key: str) -> bool:
        """event_name like "ObjectCreated:Put"."""
        if not any(_event_matches(pattern, event_name) for pattern in self.events):
            return False
        return key.startswith(self.prefix) and key.endswith(self.suffix)


def _event_matches(pattern: str, event_name: str) -> bool:
    pattern = pattern.removeprefix("s3:")
    if pattern.endswith(":*"):
        return event_name.startswith(pattern[:-1])
    return pattern == event_name


def _filter_rules(config: dict) -> tuple[str, str]:
    prefix = suffix = None
    rules = ((config.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []
    for rule in rules:
        name = (rule.get("Name") or "").lower()
        value = rule.get("Value") or ""
        if name == "prefix":
            if prefix is not None:
                raise _invalid("Cannot specify more than one prefix rule in a filter.", "FilterRule.Name", "prefix")
            prefix = value
        elif name == "suffix":
            if suffix is not None:
                raise _invalid("Cannot specify more than one suffix rule in a filter.", "FilterRule.Name", "suffix")
            suffix = value
        else:
            raise _invalid("filter rule name must be either prefix or suffix", "FilterRule.Name", rule.get("Name") or "")
    return prefix or "", suffix or ""


def _overlap(a: LambdaTarget, b: LambdaTarget) -> bool:
    """Two configurations overlap when they share an event type and a key could match both."""
    shared = any(_event_matches(x, y.removeprefix("s3:")) or _event_matches(y, x.removeprefix("s3:"))
                 for x in a.events for y in b.events)
    if not shared:
        return False
    prefixes = a.prefix.startswith(b.prefix) or b.prefix.startswith(a.prefix)
    suffixes = a.suffix.endswith(b.suffix) or b.suffix.endswith(a.suffix)
    return prefixes and suffixes


class Notifications:
    def __init__(self, db: StateStore, stack, bucket_lookup):
        """bucket_lookup(name) → the Bucket or None."""
        self.db = db
        self.stack = stack
        self._bucket = bucket_lookup
        with db.transaction() as conn:
            conn.execute(SCHEMA)
        self._configs: dict[str, dict] = {}
        self._targets: dict[str, list[LambdaTarget]] = {}
        for row in db.query("SELECT bucket, configuration FROM bucket_notifications"):
            self._remember(row["bucket"], json.loads(row["configuration"]))
        self._sequence = 0
        self._sequence_lock = threading.Lock()

    def _remember(self, bucket: str, configuration: dict | None) -> None:
        if configuration and configuration.get("LambdaFunctionConfigurations"):
            self._configs[bucket] = configuration
            self._targets[bucket] = [LambdaTarget(c) for c in configuration["LambdaFunctionConfigurations"]]
        else:
            self._configs.pop(bucket, None)
            self._targets.pop(bucket, None)

    # -- configuration --------------------------------------------------------------------

    def get(self, bucket: str) -> dict:
        return json.loads(json.dumps(self._configs.get(bucket) or {}))

    def put(self, bucket, configuration: dict, skip_validation: bool) -> None:
        """PutBucketNotificationConfiguration for `bucket` (a buckets.Bucket)."""
        if configuration.get("EventBridgeConfiguration") is not None:
            raise AwsError("NotImplemented", "lakestack does not deliver S3 events to Amazon EventBridge yet",
                           status=501)
        failed: list[tuple[str, str]] = []
        for kind, arn_key, what in (("TopicConfigurations", "TopicArn", "topic"),
                                    ("QueueConfigurations", "QueueArn", "queue")):
            for item in configuration.get(kind) or []:
                self._check_events(item.get("Events") or [])
                failed.append((item.get(arn_key, ""), f"lakestack does not serve the {what} "
                               f"{item.get(arn_key, '')}; S3 can notify Lambda functions only"))
        targets: list[LambdaTarget] = []
        stored: list[dict] = []
        for item in configuration.get("LambdaFunctionConfigurations") or []:
            self._check_events(item.get("Events") or [])
            entry = {"Id": item.get("Id") or _new_id(), "LambdaFunctionArn": item["LambdaFunctionArn"],
                     "Events": list(item["Events"])}
            if item.get("Filter"):
                rules = ((item["Filter"].get("Key") or {}).get("FilterRules")) or []
                # S3 stores the rule names capitalised, whatever case they came in.
                entry["Filter"] = {"Key": {"FilterRules": [
                    {"Name": (r.get("Name") or "").capitalize(), "Value": r.get("Value") or ""} for r in rules]}}
            target = LambdaTarget(entry)
            for other in targets:
                if _overlap(target, other):
                    raise _invalid("Configurations overlap. Configurations on the same bucket cannot share a common "
                                   "event type.", "Event", ",".join(target.events))
            targets.append(target)
            stored.append(entry)
            if not skip_validation and not self._may_invoke(bucket, target.function_arn):
                failed.append((target.function_arn, f"Not authorized to invoke function [{target.function_arn}]"))
        if failed:
            fields = {}
            for n, (name, value) in enumerate(failed, 1):
                fields[f"ArgumentName{n}"] = name
                fields[f"ArgumentValue{n}"] = value
            raise AwsError("InvalidArgument", "Unable to validate the following destination configurations", **fields)
        document = {"LambdaFunctionConfigurations": stored} if stored else {}
        with self.db.transaction() as db:
            if document:
                db.execute("INSERT OR REPLACE INTO bucket_notifications (bucket, configuration) VALUES (?, ?)",
                           (bucket.name, json.dumps(document)))
            else:
                db.execute("DELETE FROM bucket_notifications WHERE bucket = ?", (bucket.name,))
        self._remember(bucket.name, document)

    def forget(self, bucket: str) -> None:
        """The bucket was deleted: its configuration goes with it."""
        if bucket in self._configs:
            with self.db.transaction() as db:
                db.execute("DELETE FROM bucket_notifications WHERE bucket = ?", (bucket,))
            self._remember(bucket, None)

    @staticmethod
    def _check_events(events: list[str]) -> None:
        known = _known_events()
        for event in events:
            if event not in known:
                raise _invalid("The event is not supported for notifications", "Event", event)

    def _may_invoke(self, bucket, function_arn: str) -> bool:
        return self.stack.provider("lambda").may_invoke_as_service(function_arn, S3_PRINCIPAL, bucket.arn,
                                                                   bucket.account_id)

    # -- events -----------------------------------------------------------------------------

    def has_targets(self, bucket_name: str) -> bool:
        return bucket_name in self._targets

    def object_created(self, ctx, bucket_name: str, key: str, size: int, etag: str, how: str,
                       version_id: str | None = None) -> None:
        """After a durable write: how is "Put", "Copy" or "CompleteMultipartUpload"."""
        if bucket_name in self._targets:
            details = {"size": size, "eTag": etag.strip('"')}
            if version_id is not None:
                details["versionId"] = version_id
            self._emit(ctx, bucket_name, f"ObjectCreated:{how}", key, details)

    def object_removed(self, ctx, bucket_name: str, key: str, version_id: str | None = None,
                       marker_created: bool = False) -> None:
        """A delete: of an object or a version, or one that made a delete marker (versioning.py)."""
        if bucket_name in self._targets:
            event = "ObjectRemoved:DeleteMarkerCreated" if marker_created else "ObjectRemoved:Delete"
            self._emit(ctx, bucket_name, event, key, {"versionId": version_id} if version_id else {})

    def _emit(self, ctx, bucket_name: str, event_name: str, key: str, details: dict) -> None:
        bucket = self._bucket(bucket_name)
        if bucket is None:
            return
        for target in self._targets.get(bucket_name, ()):
            if not target.wants(event_name, key):
                continue
            record = self._record(ctx, bucket, event_name, key, details, target.id)
            payload = json.dumps({"Records": [record]}).encode()
            try:
                self.stack.provider("lambda").invoke_as_service(target.function_arn, S3_PRINCIPAL, bucket.arn,
                                                                bucket.account_id, payload, str(uuid.uuid4()))
            except Exception:  # the object is written; a notification problem must not fail the call
                log.exception("notifying %s of s3://%s/%s", target.function_arn, bucket.name, key)

    def _record(self, ctx, bucket, event_name: str, key: str, details: dict, configuration_id: str) -> dict:
        now = dt.datetime.now(dt.UTC)
        principal = ctx.principal
        if principal is None:
            who = "ANONYMOUS_PRINCIPAL"
        elif principal.is_root:
            who = principal.account_id
        else:
            who = f"AWS:{principal.user_id}"
        source_ip = ctx.http.client_host if ctx.http is not None else "127.0.0.1"
        obj = {"key": quote_plus(key, safe="/"), **details, "sequencer": self._sequencer()}
        return {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": bucket.region,
            "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
            "eventName": event_name,
            "userIdentity": {"principalId": who},
            "requestParameters": {"sourceIPAddress": source_ip or "127.0.0.1"},
            "responseElements": {"x-amz-request-id": ctx.request_id, "x-amz-id-2": ctx.request_id},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": configuration_id,
                "bucket": {"name": bucket.name, "ownerIdentity": {"principalId": bucket.account_id},
                           "arn": bucket.arn},
                "object": obj,
            },
        }

    def _sequencer(self) -> str:
        """Increasing hex strings: later events for a key sort after earlier ones."""
        with self._sequence_lock:
            self._sequence = max(self._sequence + 1, time.time_ns())
            return f"{self._sequence:018X}"


def _new_id() -> str:
    # S3 names an unnamed configuration with a random ID.
    return uuid.uuid4().hex
