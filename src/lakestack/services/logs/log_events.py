"""Log events: PutLogEvents, GetLogEvents (read forward or backward with tokens) and
FilterLogEvents (a whole group, filter pattern applied).

Events are ordered by (timestamp, id) — the id breaks ties in arrival order. Tokens name a
position in that order: `f/<timestamp><id>` reads on after it, `b/<timestamp><id>` reads
back before it; both are 56 digits after the prefix, like AWS's.
Expired events (older than the group's retention) are never returned, even before the
sweeper (retention.py) has removed them.
"""

from __future__ import annotations

from lakestack.runtime.state import StateStore
from lakestack.services.logs import errors
from lakestack.services.logs.filter_patterns import compile_pattern
from lakestack.services.logs.log_groups import LogGroup, LogStream, now_ms, sequence_token

# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html
MAX_BATCH_BYTES = 1048576
EVENT_OVERHEAD = 26
MAX_SPAN_MS = 24 * 3600 * 1000
TOO_OLD_MS = 14 * 24 * 3600 * 1000
TOO_NEW_MS = 2 * 3600 * 1000
MAX_GET_EVENTS = 10000
MAX_GET_BYTES = 1048576
# FilterLogEvents reads at most this many events per call, then answers with a nextToken
# (AWS also answers partial pages).
FILTER_SCAN = 100000
FILTER_CHUNK = 2000


def encode_position(timestamp: int, event_id: int) -> str:
    return f"{timestamp:020d}{event_id:036d}"


def decode_position(text: str) -> tuple[int, int]:
    if len(text) != 56 or not text.isdigit():
        raise errors.invalid("The specified nextToken is invalid.")
    return int(text[:20]), int(text[20:])


class LogEvents:
    def __init__(self, db: StateStore):
        self.db = db

    # -- writing ------------------------------------------------------------------------

    def put(self, group: LogGroup, stream: LogStream, events: list[dict]) -> dict:
        timestamps = [e["timestamp"] for e in events]
        if any(b < a for a, b in zip(timestamps, timestamps[1:], strict=False)):
            raise errors.invalid("Log events in a single PutLogEvents request must be in chronological order.")
        if timestamps[-1] - timestamps[0] > MAX_SPAN_MS:
            raise errors.invalid("The batch of log events in a single PutLogEvents request cannot span more than "
                                 "24 hours.")
        size = sum(len(e["message"].encode()) + EVENT_OVERHEAD for e in events)
        if size > MAX_BATCH_BYTES:
            raise errors.invalid(f"Upload too large: {size} bytes exceeds limit of {MAX_BATCH_BYTES}")
        now = now_ms()
        expired_before = group.oldest_kept(now)
        rejected: dict[str, int] = {}
        accepted = []
        for index, event in enumerate(events):
            ts = event["timestamp"]
            if ts > now + TOO_NEW_MS:
                rejected.setdefault("tooNewLogEventStartIndex", index)
            elif ts < now - TOO_OLD_MS:
                rejected["tooOldLogEventEndIndex"] = index
            elif expired_before is not None and ts < expired_before:
                rejected["expiredLogEventEndIndex"] = index
            else:
                accepted.append((group.id, stream.id, ts, now, event["message"]))
        stored = sum(len(row[4].encode()) for row in accepted)
        with self.db.transaction() as db:
            if accepted:
                db.executemany("INSERT INTO events (group_id, stream_id, timestamp, ingestion, message) "
                               "VALUES (?, ?, ?, ?, ?)", accepted)
                first, last = min(r[2] for r in accepted), max(r[2] for r in accepted)
                db.execute("UPDATE log_streams SET first_event = min(coalesce(first_event, ?), ?), "
                           "last_event = max(coalesce(last_event, ?), ?), last_ingestion = ?, "
                           "stored_bytes = stored_bytes + ?, sequence = sequence + 1 WHERE id = ?",
                           (first, first, last, last, now, stored, stream.id))
                db.execute("UPDATE log_groups SET stored_bytes = stored_bytes + ? WHERE id = ?", (stored, group.id))
            else:
                db.execute("UPDATE log_streams SET sequence = sequence + 1 WHERE id = ?", (stream.id,))
        out: dict = {"nextSequenceToken": sequence_token(stream.sequence + 1)}
        if rejected:
            out["rejectedLogEventsInfo"] = rejected
        return out

    # -- GetLogEvents -------------------------------------------------------------------

    def get(self, group: LogGroup, stream: LogStream, params: dict) -> dict:
        limit = min(params.get("limit") or MAX_GET_EVENTS, MAX_GET_EVENTS)
        conditions, args = ["stream_id = ?"], [stream.id]
        start, end = params.get("startTime"), params.get("endTime")
        oldest = group.oldest_kept()
        if oldest is not None:
            start = max(start or 0, oldest)
        if start is not None:
            conditions.append("timestamp >= ?")
            args.append(start)
        if end is not None:
            conditions.append("timestamp < ?")  # GetLogEvents' endTime is exclusive
            args.append(end)
        token = params.get("nextToken")
        forward = bool(params.get("startFromHead"))
        position = None
        if token:
            direction, _, rest = token.partition("/")
            if direction not in ("f", "b"):
                raise errors.invalid("The specified nextToken is invalid.")
            position = decode_position(rest)
            forward = direction == "f"
            comparison = ">" if forward else "<"
            conditions.append(f"(timestamp, id) {comparison} (?, ?)")
            args.extend(position)
        where = " AND ".join(conditions)
        order = "ASC" if forward else "DESC"
        rows = self.db.query(f"SELECT id, timestamp, ingestion, message FROM events WHERE {where} "
                             f"ORDER BY timestamp {order}, id {order} LIMIT ?", (*args, limit))
        rows = _within_bytes(rows, MAX_GET_BYTES)
        if not forward:
            rows = list(reversed(rows))
        events = [{"timestamp": r["timestamp"], "message": r["message"], "ingestionTime": r["ingestion"]}
                  for r in rows]
        if rows:
            first = encode_position(rows[0]["timestamp"], rows[0]["id"])
            last = encode_position(rows[-1]["timestamp"], rows[-1]["id"])
            forward_token, backward_token = f"f/{last}", f"b/{first}"
        elif token:
            # At either end the same token comes back, which is how callers know to stop.
            forward_token = backward_token = token
            if token.startswith("f/"):
                backward_token = "b/" + token[2:]
            else:
                forward_token = "f/" + token[2:]
        else:
            edge = encode_position(start or 0, 0)
            forward_token, backward_token = f"f/{edge}", f"b/{edge}"
        return {"events": events, "nextForwardToken": forward_token, "nextBackwardToken": backward_token}

    # -- FilterLogEvents ----------------------------------------------------------------

    def filter(self, group: LogGroup, streams: dict[int, str], params: dict) -> dict:
        names, prefix = params.get("logStreamNames"), params.get("logStreamNamePrefix")
        if names and prefix:
            raise errors.invalid("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")
        if names:
            wanted = {sid for sid, name in streams.items() if name in set(names)}
            if not wanted:
                raise errors.stream_not_found()
        elif prefix:
            wanted = {sid for sid, name in streams.items() if name.startswith(prefix)}
        else:
            wanted = None
        match = compile_pattern(params.get("filterPattern"))
        limit = min(params.get("limit") or MAX_GET_EVENTS, MAX_GET_EVENTS)
        conditions, args = ["group_id = ?"], [group.id]
        start = params.get("startTime")
        oldest = group.oldest_kept()
        if oldest is not None:
            start = max(start or 0, oldest)
        if start is not None:
            conditions.append("timestamp >= ?")
            args.append(start)
        if params.get("endTime") is not None:
            conditions.append("timestamp <= ?")
            args.append(params["endTime"])
        after = decode_position(params["nextToken"]) if params.get("nextToken") else None
        found: list[dict] = []
        scanned = 0
        size = 0
        more = False
        while True:
            clause = list(conditions)
            query_args = list(args)
            if after is not None:
                clause.append("(timestamp, id) > (?, ?)")
                query_args.extend(after)
            rows = self.db.query(f"SELECT id, stream_id, timestamp, ingestion, message FROM events WHERE "
                                 f"{' AND '.join(clause)} ORDER BY timestamp, id LIMIT ?",
                                 (*query_args, FILTER_CHUNK))
            for row in rows:
                after = (row["timestamp"], row["id"])
                scanned += 1
                if wanted is not None and row["stream_id"] not in wanted:
                    continue
                if not match(row["message"]):
                    continue
                found.append({"logStreamName": streams.get(row["stream_id"], ""), "timestamp": row["timestamp"],
                              "message": row["message"], "ingestionTime": row["ingestion"],
                              "eventId": f"{row['id']:056d}"})
                size += len(row["message"].encode())
                if len(found) >= limit or size >= MAX_GET_BYTES:
                    break
            if len(found) >= limit or size >= MAX_GET_BYTES or scanned >= FILTER_SCAN:
                more = True
                break
            if len(rows) < FILTER_CHUNK:
                break
        out: dict = {"events": found, "searchedLogStreams": []}
        if more and after is not None:
            out["nextToken"] = encode_position(*after)
        return out

    # -- retention ----------------------------------------------------------------------

    def expire(self, group: LogGroup) -> int:
        """Delete the group's events older than its retention; how many went."""
        oldest = group.oldest_kept()
        if oldest is None:
            return 0
        with self.db.transaction() as db:
            removed = db.execute("SELECT stream_id, count(*) AS n, sum(length(CAST(message AS BLOB))) AS bytes "
                                 "FROM events WHERE group_id = ? AND timestamp < ? GROUP BY stream_id",
                                 (group.id, oldest)).fetchall()
            if not removed:
                return 0
            db.execute("DELETE FROM events WHERE group_id = ? AND timestamp < ?", (group.id, oldest))
            for row in removed:
                db.execute("UPDATE log_streams SET stored_bytes = max(0, stored_bytes - ?) WHERE id = ?",
                           (row["bytes"] or 0, row["stream_id"]))
            total = sum(row["bytes"] or 0 for row in removed)
            db.execute("UPDATE log_groups SET stored_bytes = max(0, stored_bytes - ?) WHERE id = ?", (total, group.id))
            return sum(row["n"] for row in removed)


def _within_bytes(rows: list, limit: int) -> list:
    out, size = [], 0
    for row in rows:
        size += len(row["message"].encode()) + EVENT_OVERHEAD
        if out and size > limit:
            break
        out.append(row)
    return out
