"""Log groups and their streams: naming, retention, tags, listing.

https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

from lakestack.runtime.state import StateStore
from lakestack.services.logs import errors

# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
                  3653)
MAX_TAGS = 50
_ARN = re.compile(r"^arn:aws[a-z-]*:logs:([^:]*):(\d{12}):log-group:([^:]+)(?::\*)?$")


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class LogGroup:
    id: int
    account: str
    region: str
    name: str
    created: int
    retention_days: int | None
    kms_key_id: str | None
    log_group_class: str
    deletion_protection: bool
    tags: dict
    stored_bytes: int

    @classmethod
    def from_row(cls, row) -> LogGroup:
        return cls(row["id"], row["account"], row["region"], row["name"], row["created"], row["retention_days"],
                   row["kms_key_id"], row["log_group_class"], bool(row["deletion_protection"]),
                   json.loads(row["tags"]), row["stored_bytes"])

    @property
    def arn(self) -> str:
        return f"arn:aws:logs:{self.region}:{self.account}:log-group:{self.name}"

    def oldest_kept(self, now: int | None = None) -> int | None:
        """Events before this timestamp (ms) have expired under the retention policy."""
        if self.retention_days is None:
            return None
        return (now or now_ms()) - self.retention_days * 86400 * 1000

    def describe(self) -> dict:
        out = {
            "logGroupName": self.name,
            "creationTime": self.created,
            "metricFilterCount": 0,
            "arn": f"{self.arn}:*",
            "storedBytes": self.stored_bytes,
            "logGroupClass": self.log_group_class,
            "logGroupArn": self.arn,
            "deletionProtectionEnabled": self.deletion_protection,
        }
        if self.retention_days is not None:
            out["retentionInDays"] = self.retention_days
        if self.kms_key_id:
            out["kmsKeyId"] = self.kms_key_id
        return out


@dataclass(frozen=True)
class LogStream:
    id: int
    group_id: int
    name: str
    created: int
    first_event: int | None
    last_event: int | None
    last_ingestion: int | None
    stored_bytes: int
    sequence: int

    @classmethod
    def from_row(cls, row) -> LogStream:
        return cls(row["id"], row["group_id"], row["name"], row["created"], row["first_event"], row["last_event"],
                   row["last_ingestion"], row["stored_bytes"], row["sequence"])

    def describe(self, group: LogGroup) -> dict:
        out = {"logStreamName": self.name, "creationTime": self.created,
               "arn": f"{group.arn}:log-stream:{self.name}", "storedBytes": self.stored_bytes,
               "uploadSequenceToken": sequence_token(self.sequence)}
        for key, value in (("firstEventTimestamp", self.first_event), ("lastEventTimestamp", self.last_event),
                           ("lastIngestionTime", self.last_ingestion)):
            if value is not None:
                out[key] = value
        return out


def sequence_token(sequence: int) -> str:
    # Sequence tokens are no longer checked by AWS but still returned; they look like this.
    return f"{sequence:056d}"


def group_name_from(params: dict) -> str:
    """logGroupName or logGroupIdentifier (a name or an ARN) — exactly one of them."""
    name, identifier = params.get("logGroupName"), params.get("logGroupIdentifier")
    if name and identifier:
        raise errors.invalid("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
    if identifier:
        found = _ARN.match(identifier)
        return found.group(3) if found else identifier
    if not name:
        raise errors.invalid("Either logGroupName or logGroupIdentifier must be provided.")
    return name


class LogGroups:
    def __init__(self, db: StateStore):
        self.db = db

    # -- groups -------------------------------------------------------------------------

    def get(self, account: str, region: str, name: str) -> LogGroup | None:
        row = self.db.query_one("SELECT * FROM log_groups WHERE account = ? AND region = ? AND name = ?",
                                (account, region, name))
        return LogGroup.from_row(row) if row else None

    def require(self, account: str, region: str, name: str) -> LogGroup:
        group = self.get(account, region, name)
        if group is None:
            raise errors.group_not_found()
        return group

    def create(self, account: str, region: str, params: dict) -> None:
        tags = params.get("tags") or {}
        if len(tags) > MAX_TAGS:
            raise errors.invalid(f"A log group can have at most {MAX_TAGS} tags.")
        with self.db.transaction() as db:
            exists = db.execute("SELECT 1 FROM log_groups WHERE account = ? AND region = ? AND name = ?",
                                (account, region, params["logGroupName"])).fetchone()
            if exists:
                raise errors.group_exists()
            db.execute("INSERT INTO log_groups (account, region, name, created, kms_key_id, log_group_class, "
                       "deletion_protection, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (account, region, params["logGroupName"], now_ms(), params.get("kmsKeyId"),
                        params.get("logGroupClass") or "STANDARD", int(bool(params.get("deletionProtectionEnabled"))),
                        json.dumps(tags)))

    def delete(self, account: str, region: str, name: str) -> None:
        group = self.require(account, region, name)
        if group.deletion_protection:
            raise errors.deletion_protected()
        with self.db.transaction() as db:
            db.execute("DELETE FROM events WHERE group_id = ?", (group.id,))
            db.execute("DELETE FROM log_streams WHERE group_id = ?", (group.id,))
            db.execute("DELETE FROM log_groups WHERE id = ?", (group.id,))

    def describe(self, account: str, region: str, params: dict) -> tuple[list[LogGroup], str | None]:
        prefix, pattern = params.get("logGroupNamePrefix"), params.get("logGroupNamePattern")
        if prefix and pattern:
            raise errors.invalid("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.")
        limit = params.get("limit") or 50
        after = params.get("nextToken") or ""
        sql = "SELECT * FROM log_groups WHERE account = ? AND region = ? AND name > ?"
        args: list = [account, region, after]
        if prefix:
            sql += " AND substr(name, 1, ?) = ?"
            args += [len(prefix), prefix]
        if params.get("logGroupClass"):
            sql += " AND log_group_class = ?"
            args.append(params["logGroupClass"])
        identifiers = params.get("logGroupIdentifiers")
        rows = self.db.query(sql + " ORDER BY name", tuple(args))
        groups = [LogGroup.from_row(r) for r in rows]
        if pattern:
            groups = [g for g in groups if pattern.lower() in g.name.lower()]
        if identifiers:
            wanted = {group_name_from({"logGroupIdentifier": i}) for i in identifiers}
            groups = [g for g in groups if g.name in wanted]
        page = groups[:limit]
        return page, page[-1].name if len(groups) > limit else None

    def set_retention(self, group: LogGroup, days: int | None) -> None:
        if days is not None and days not in RETENTION_DAYS:
            raise errors.invalid(f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy "
                                 f"constraint: Member must satisfy enum value set: "
                                 f"[{', '.join(map(str, RETENTION_DAYS))}]")
        with self.db.transaction() as db:
            db.execute("UPDATE log_groups SET retention_days = ? WHERE id = ?", (days, group.id))

    def set_tags(self, group: LogGroup, tags: dict) -> None:
        if len(tags) > MAX_TAGS:
            raise errors.too_many_tags(group.arn, MAX_TAGS)
        with self.db.transaction() as db:
            db.execute("UPDATE log_groups SET tags = ? WHERE id = ?", (json.dumps(tags), group.id))

    def set_deletion_protection(self, group: LogGroup, enabled: bool) -> None:
        with self.db.transaction() as db:
            db.execute("UPDATE log_groups SET deletion_protection = ? WHERE id = ?", (int(enabled), group.id))

    def by_arn(self, account: str, arn: str) -> LogGroup:
        found = _ARN.match(arn)
        if found is None or found.group(2) != account:
            raise errors.resource_not_found(arn)
        return self.require(account, found.group(1), found.group(3))

    # -- streams ------------------------------------------------------------------------

    def stream(self, group: LogGroup, name: str) -> LogStream | None:
        row = self.db.query_one("SELECT * FROM log_streams WHERE group_id = ? AND name = ?", (group.id, name))
        return LogStream.from_row(row) if row else None

    def require_stream(self, group: LogGroup, name: str) -> LogStream:
        stream = self.stream(group, name)
        if stream is None:
            raise errors.stream_not_found()
        return stream

    def create_stream(self, group: LogGroup, name: str) -> None:
        with self.db.transaction() as db:
            if db.execute("SELECT 1 FROM log_streams WHERE group_id = ? AND name = ?", (group.id, name)).fetchone():
                raise errors.stream_exists()
            db.execute("INSERT INTO log_streams (group_id, name, created) VALUES (?, ?, ?)", (group.id, name, now_ms()))

    def delete_stream(self, group: LogGroup, name: str) -> None:
        stream = self.require_stream(group, name)
        with self.db.transaction() as db:
            db.execute("DELETE FROM events WHERE stream_id = ?", (stream.id,))
            db.execute("DELETE FROM log_streams WHERE id = ?", (stream.id,))
            db.execute("UPDATE log_groups SET stored_bytes = max(0, stored_bytes - ?) WHERE id = ?",
                       (stream.stored_bytes, group.id))

    def describe_streams(self, group: LogGroup, params: dict) -> tuple[list[LogStream], str | None]:
        prefix = params.get("logStreamNamePrefix")
        order = params.get("orderBy") or "LogStreamName"
        if prefix and order == "LastEventTime":
            raise errors.invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
        descending = bool(params.get("descending"))
        limit = params.get("limit") or 50
        rows = self.db.query("SELECT * FROM log_streams WHERE group_id = ?", (group.id,))
        streams = [LogStream.from_row(r) for r in rows if not prefix or r["name"].startswith(prefix)]
        if order == "LastEventTime":
            streams.sort(key=lambda s: (s.last_event or 0, s.name), reverse=descending)
        else:
            streams.sort(key=lambda s: s.name, reverse=descending)
        start = int(params["nextToken"]) if (params.get("nextToken") or "").isdigit() else 0
        page = streams[start:start + limit]
        return page, str(start + limit) if start + limit < len(streams) else None

    def streams_of(self, group: LogGroup) -> dict[int, str]:
        return {r["id"]: r["name"] for r in self.db.query("SELECT id, name FROM log_streams WHERE group_id = ?",
                                                          (group.id,))}

    def all_groups(self) -> list[LogGroup]:
        return [LogGroup.from_row(r) for r in self.db.query("SELECT * FROM log_groups")]
