"""Crawlers: their definitions, their state machine, their runs and their schedules.

A crawler is READY until StartCrawler (or its schedule) moves it to RUNNING; a run goes on
in a background thread and ends in STOPPING → READY, leaving its outcome in LastCrawl and
its counts in GetCrawlerMetrics. StopCrawler moves a running crawler to STOPPING at once;
the run notices between files and ends CANCELLED. A run that was going when lakestack
stopped is recorded as FAILED at the next start.
https://docs.aws.amazon.com/glue/latest/dg/crawler-running.html
"""

from __future__ import annotations

import json
import logging
import statistics
import threading
import time
import uuid
from dataclasses import dataclass

from lakestack.aws.errors import AwsError
from lakestack.services.glue import codec, pagination
from lakestack.services.glue.crawling.exclusions import Exclusions, PatternError
from lakestack.services.glue.crawling.grouping import GroupingOptions
from lakestack.services.glue.crawling.lake import Lake, parse_s3_path
from lakestack.services.glue.crawling.output import Policy
from lakestack.services.glue.crawling.run import Cancelled, CrawlRun, CrawlSettings, Progress
from lakestack.services.glue.errors import already_exists, invalid_input, not_found
from lakestack.services.glue.schedules import Scheduler, parse_schedule
from lakestack.services.glue.scope import Scope

log = logging.getLogger("lakestack.glue")

LOG_GROUP = "/aws-glue/crawlers"
DEFINITION = ("Role", "Targets", "DatabaseName", "Description", "Classifiers", "RecrawlPolicy", "SchemaChangePolicy",
              "LineageConfiguration", "TablePrefix", "Configuration", "CrawlerSecurityConfiguration",
              "LakeFormationConfiguration")
TARGET_KINDS = ("S3Targets", "JdbcTargets", "MongoDBTargets", "DynamoDBTargets", "CatalogTargets", "DeltaTargets",
                "IcebergTargets", "HudiTargets")
# Crawl states as stored → as ListCrawls and LastCrawl name them.
HISTORY_STATE = {"RUNNING": "RUNNING", "SUCCEEDED": "COMPLETED", "FAILED": "FAILED", "CANCELLED": "STOPPED"}


def crawler_not_running(name: str) -> AwsError:
    return AwsError("CrawlerNotRunningException", f"Crawler with name {name} is not running.")


def crawler_running(name: str) -> AwsError:
    return AwsError("CrawlerRunningException", f"Crawler with name {name} has already started")


@dataclass
class Configuration:
    grouping: GroupingOptions
    merge_new_columns: bool
    inherit_from_table: bool


def parse_configuration(text: str | None) -> Configuration:
    """The crawler's `Configuration` JSON.
    https://docs.aws.amazon.com/glue/latest/dg/crawler-configuration.html"""
    if not text:
        return Configuration(GroupingOptions(), False, False)
    try:
        config = json.loads(text)
    except ValueError:
        raise invalid_input("Crawler configuration is not valid JSON.") from None
    if not isinstance(config, dict) or config.get("Version") not in (1, 1.0):
        raise invalid_input("Crawler configuration must be a JSON object with \"Version\": 1.0.")
    grouping = config.get("Grouping") or {}
    policy = grouping.get("TableGroupingPolicy")
    if policy not in (None, "CombineCompatibleSchemas"):
        raise invalid_input(f"Unknown TableGroupingPolicy {policy}.")
    level = grouping.get("TableLevelConfiguration")
    if level is not None and (not isinstance(level, int) or isinstance(level, bool) or level < 1):
        raise invalid_input("TableLevelConfiguration must be a positive integer.")
    output = config.get("CrawlerOutput") or {}
    tables = (output.get("Tables") or {}).get("AddOrUpdateBehavior")
    partitions = (output.get("Partitions") or {}).get("AddOrUpdateBehavior")
    if tables not in (None, "MergeNewColumns"):
        raise invalid_input(f"Unknown Tables AddOrUpdateBehavior {tables}.")
    if partitions not in (None, "InheritFromTable"):
        raise invalid_input(f"Unknown Partitions AddOrUpdateBehavior {partitions}.")
    return Configuration(GroupingOptions(level, policy == "CombineCompatibleSchemas"), tables == "MergeNewColumns",
                         partitions == "InheritFromTable")


def role_arn(role: str, account: str) -> str:
    """Glue accepts a role's name (optionally with its path) or its ARN."""
    return role if role.startswith("arn:") else f"arn:aws:iam::{account}:role/{role.lstrip('/')}"


def _with_defaults(definition: dict) -> dict:
    out = dict(definition)
    targets = dict(out.get("Targets") or {})
    for kind in TARGET_KINDS:
        targets.setdefault(kind, [])
    out["Targets"] = targets
    out.setdefault("Classifiers", [])
    out["SchemaChangePolicy"] = {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "DEPRECATE_IN_DATABASE",
                                 **(out.get("SchemaChangePolicy") or {})}
    out["RecrawlPolicy"] = {"RecrawlBehavior": "CRAWL_EVERYTHING", **(out.get("RecrawlPolicy") or {})}
    out["LineageConfiguration"] = {"CrawlerLineageSettings": "DISABLE", **(out.get("LineageConfiguration") or {})}
    out["LakeFormationConfiguration"] = {"UseLakeFormationCredentials": False, "AccountId": "",
                                         **(out.get("LakeFormationConfiguration") or {})}
    return out


class Crawlers:
    def __init__(self, provider):
        self.provider = provider
        self.store = provider.store
        self.classifiers = provider.classifiers
        # (account, region, crawler) → (cancel flag, progress, thread) of each running crawl.
        self._active: dict[tuple, tuple[threading.Event, Progress, threading.Thread]] = {}
        self._lock = threading.Lock()
        self.scheduler = Scheduler(self._scheduled, self._fire)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Recover from a previous process, then begin scheduling."""
        now = time.time()
        with self.store.transaction() as db:
            db.execute("UPDATE crawls SET state='FAILED', ended=?, error='The crawl was interrupted because lakestack "
                       "stopped.' WHERE state='RUNNING'", (now,))
            db.execute("UPDATE crawlers SET state='READY' WHERE state != 'READY'")
        self.scheduler.start()

    def stop(self, wait: float = 10.0) -> None:
        """Cancel running crawls and give them a moment to record that they stopped."""
        self.scheduler.stop()
        with self._lock:
            active = list(self._active.values())
        for cancel, _, _ in active:
            cancel.set()
        deadline = time.monotonic() + wait
        for _, _, thread in active:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    # -- definitions -----------------------------------------------------------------------

    def _validate(self, scope: Scope, definition: dict) -> None:
        targets = definition.get("Targets") or {}
        if not any(targets.get(kind) for kind in TARGET_KINDS):
            raise invalid_input("Crawler must have at least one target.")
        for target in targets.get("S3Targets") or []:
            try:
                parse_s3_path(target.get("Path") or "")
                Exclusions(target.get("Exclusions"))
            except ValueError as exc:
                raise invalid_input(f"Invalid S3 target: {exc}") from None
            except PatternError as exc:
                raise invalid_input(f"Invalid exclude pattern: {exc}") from None
        for name in definition.get("Classifiers") or []:
            if self.classifiers.row(scope, name) is None:
                raise not_found(f"Classifier with name {name} not found.")
        parse_configuration(definition.get("Configuration"))
        recrawl = (definition.get("RecrawlPolicy") or {}).get("RecrawlBehavior", "CRAWL_EVERYTHING")
        policy = definition.get("SchemaChangePolicy") or {}
        if recrawl == "CRAWL_NEW_FOLDERS_ONLY" and (policy.get("UpdateBehavior") != "LOG"
                                                    or policy.get("DeleteBehavior") != "LOG"):
            raise invalid_input("The SchemaChangePolicy for \"Crawl new folders only\" Amazon S3 target can have only "
                                "LOG DeleteBehavior value and LOG UpdateBehavior value.")
        if recrawl == "CRAWL_EVENT_MODE":
            raise invalid_input("CRAWL_EVENT_MODE needs S3 event notifications delivered through SQS, which lakestack "
                                "does not provide yet.")

    def create(self, scope: Scope, params: dict) -> None:
        name = params["Name"]
        definition = _with_defaults({k: params[k] for k in DEFINITION if params.get(k) is not None})
        self._validate(scope, definition)
        schedule = params.get("Schedule") or None
        if schedule:
            parse_schedule(schedule)
            definition["ScheduleExpression"] = schedule
        now = time.time()
        with self.store.transaction() as db:
            if db.execute("SELECT 1 FROM crawlers WHERE account_id=? AND region=? AND name=?",
                          (*scope.key, name)).fetchone():
                raise already_exists(f"Crawler with name {name} has already been created.")
            db.execute("INSERT INTO crawlers VALUES (?,?,?,?,?,?,?,?,?)",
                       (*scope.key, name, now, now, 1, "READY", "SCHEDULED" if schedule else None,
                        codec.dumps(definition)))
        self.scheduler.refresh()

    def _row(self, scope: Scope, name: str):
        row = self.store.query_one("SELECT * FROM crawlers WHERE account_id=? AND region=? AND name=?",
                                   (*scope.key, name))
        if row is None:
            raise not_found(f"Crawler with name {name} not found.")
        return row

    def update(self, scope: Scope, params: dict) -> None:
        name = params["Name"]
        row = self._row(scope, name)
        if row["state"] != "READY":
            raise crawler_running(name)
        definition = codec.loads(row["data"])
        for key in DEFINITION:
            if key in params and params[key] is not None:
                definition[key] = params[key]
        definition = _with_defaults(definition)
        self._validate(scope, definition)
        schedule_state = row["schedule_state"]
        if params.get("Schedule") is not None:
            if params["Schedule"]:
                parse_schedule(params["Schedule"])
                definition["ScheduleExpression"] = params["Schedule"]
                schedule_state = schedule_state or "SCHEDULED"
            else:  # an empty schedule removes it
                definition.pop("ScheduleExpression", None)
                schedule_state = None
        with self.store.transaction() as db:
            db.execute("UPDATE crawlers SET data=?, updated=?, version=version+1, schedule_state=? WHERE account_id=? "
                       "AND region=? AND name=?", (codec.dumps(definition), time.time(), schedule_state, *scope.key,
                                                    name))
        self.scheduler.refresh()

    def delete(self, scope: Scope, name: str) -> None:
        row = self._row(scope, name)
        if row["state"] != "READY":
            raise crawler_running(name)
        with self.store.transaction() as db:
            db.execute("DELETE FROM crawlers WHERE account_id=? AND region=? AND name=?", (*scope.key, name))
            db.execute("DELETE FROM crawled_folders WHERE account_id=? AND region=? AND crawler=?", (*scope.key, name))
            db.execute("DELETE FROM crawls WHERE account_id=? AND region=? AND crawler=?", (*scope.key, name))
        self.scheduler.refresh()

    def get(self, scope: Scope, name: str) -> dict:
        return self.describe(scope, self._row(scope, name))

    def names(self, scope: Scope, params: dict, tagged: dict[str, dict] | None = None) -> dict:
        after = pagination.decode(params.get("NextToken")) or ""
        limit = pagination.page_size(params, 100, 1000)
        rows = self.store.query("SELECT name FROM crawlers WHERE account_id=? AND region=? AND name > ? ORDER BY name",
                                (*scope.key, after))
        names = [r["name"] for r in rows]
        if params.get("Tags"):
            wanted = params["Tags"]
            names = [n for n in names if all((tagged or {}).get(n, {}).get(k) == v for k, v in wanted.items())]
        out = {"CrawlerNames": names[:limit]}
        if len(names) > limit:
            out["NextToken"] = pagination.encode(names[limit - 1])
        return out

    def list(self, scope: Scope, params: dict) -> dict:
        after = pagination.decode(params.get("NextToken")) or ""
        limit = pagination.page_size(params, 100, 1000)
        rows = self.store.query("SELECT * FROM crawlers WHERE account_id=? AND region=? AND name > ? ORDER BY name "
                                "LIMIT ?", (*scope.key, after, limit + 1))
        out = {"Crawlers": [self.describe(scope, r) for r in rows[:limit]]}
        if len(rows) > limit:
            out["NextToken"] = pagination.encode(rows[limit - 1]["name"])
        return out

    def batch_get(self, scope: Scope, names: list[str]) -> dict:
        found, missing = [], []
        for name in names:
            row = self.store.query_one("SELECT * FROM crawlers WHERE account_id=? AND region=? AND name=?",
                                       (*scope.key, name))
            if row is None:
                missing.append(name)
            else:
                found.append(self.describe(scope, row))
        return {"Crawlers": found, "CrawlersNotFound": missing}

    def describe(self, scope: Scope, row) -> dict:
        definition = codec.loads(row["data"])
        schedule = definition.pop("ScheduleExpression", None)
        out = {"Name": row["name"], "State": row["state"], "CreationTime": codec.timestamp(row["created"]),
               "LastUpdated": codec.timestamp(row["updated"]), "Version": row["version"], **definition}
        if schedule:
            out["Schedule"] = {"ScheduleExpression": schedule, "State": row["schedule_state"] or "NOT_SCHEDULED"}
        last = self.store.query_one("SELECT * FROM crawls WHERE account_id=? AND region=? AND crawler=? AND "
                                    "state != 'RUNNING' ORDER BY started DESC LIMIT 1", (*scope.key, row["name"]))
        if last is not None:
            out["LastCrawl"] = {"Status": last["state"], "LogGroup": LOG_GROUP, "LogStream": row["name"],
                                "MessagePrefix": last["crawl_id"], "StartTime": codec.timestamp(last["started"])}
            if last["error"]:
                out["LastCrawl"]["ErrorMessage"] = last["error"]
        out["CrawlElapsedTime"] = 0
        if row["state"] != "READY":
            running = self.store.query_one("SELECT started FROM crawls WHERE account_id=? AND region=? AND "
                                           "crawler=? AND state='RUNNING'", (*scope.key, row["name"]))
            if running is not None:
                out["CrawlElapsedTime"] = int((time.time() - running["started"]) * 1000)
        return out

    # -- schedules ---------------------------------------------------------------------------

    def set_schedule(self, scope: Scope, name: str, expression: str) -> None:
        row = self._row(scope, name)
        parse_schedule(expression)
        definition = codec.loads(row["data"])
        definition["ScheduleExpression"] = expression
        with self.store.transaction() as db:
            db.execute("UPDATE crawlers SET data=?, schedule_state=? WHERE account_id=? AND region=? AND name=?",
                       (codec.dumps(definition), row["schedule_state"] or "SCHEDULED", *scope.key, name))
        self.scheduler.refresh()

    def schedule_state(self, scope: Scope, name: str, wanted: str) -> None:
        row = self._row(scope, name)
        if "ScheduleExpression" not in codec.loads(row["data"]):
            raise AwsError("NoScheduleException", f"Crawler with name {name} has no schedule.")
        if row["schedule_state"] == wanted:
            if wanted == "SCHEDULED":
                raise AwsError("SchedulerRunningException", f"Schedule of crawler {name} is already running.")
            raise AwsError("SchedulerNotRunningException", f"Schedule of crawler {name} is not running.")
        with self.store.transaction() as db:
            db.execute("UPDATE crawlers SET schedule_state=? WHERE account_id=? AND region=? AND name=?",
                       (wanted, *scope.key, name))
        self.scheduler.refresh()

    def _scheduled(self):
        out = []
        for row in self.store.query("SELECT account_id, region, name, data FROM crawlers WHERE "
                                    "schedule_state='SCHEDULED'"):
            expression = codec.loads(row["data"]).get("ScheduleExpression")
            if expression:
                out.append(((row["account_id"], row["region"], row["name"]), parse_schedule(expression)))
        return out

    def _fire(self, key) -> None:
        account, region, name = key
        try:
            self.start_crawl(Scope(account, region), name)
        except AwsError as exc:  # already running, or deleted meanwhile: nothing to do
            log.info("scheduled crawl of %s skipped: %s", name, exc.message)

    # -- runs --------------------------------------------------------------------------------

    def start_crawl(self, scope: Scope, name: str) -> str:
        crawl_id = str(uuid.uuid4())
        with self.store.transaction() as db:
            row = db.execute("SELECT * FROM crawlers WHERE account_id=? AND region=? AND name=?",
                             (*scope.key, name)).fetchone()
            if row is None:
                raise not_found(f"Crawler with name {name} not found.")
            if row["state"] != "READY":
                raise crawler_running(name)
            db.execute("UPDATE crawlers SET state='RUNNING' WHERE account_id=? AND region=? AND name=?",
                       (*scope.key, name))
            db.execute("INSERT INTO crawls (crawl_id, account_id, region, crawler, state, started) VALUES "
                       "(?,?,?,?,?,?)", (crawl_id, *scope.key, name, "RUNNING", time.time()))
        cancel, progress = threading.Event(), Progress()
        thread = threading.Thread(target=self._run, args=(scope, name, crawl_id, codec.loads(row["data"]), cancel,
                                                          progress), name=f"glue-crawler-{name}", daemon=True)
        with self._lock:
            self._active[(*scope.key, name)] = (cancel, progress, thread)
        thread.start()
        return crawl_id

    def stop_crawl(self, scope: Scope, name: str) -> None:
        with self.store.transaction() as db:
            row = db.execute("SELECT state FROM crawlers WHERE account_id=? AND region=? AND name=?",
                             (*scope.key, name)).fetchone()
            if row is None:
                raise not_found(f"Crawler with name {name} not found.")
            if row["state"] == "STOPPING":
                raise AwsError("CrawlerStoppingException", f"Crawler with name {name} is stopping.")
            if row["state"] != "RUNNING":
                raise crawler_not_running(name)
            db.execute("UPDATE crawlers SET state='STOPPING' WHERE account_id=? AND region=? AND name=?",
                       (*scope.key, name))
        with self._lock:
            active = self._active.get((*scope.key, name))
        if active is not None:
            active[0].set()

    def _run(self, scope: Scope, name: str, crawl_id: str, definition: dict, cancel: threading.Event,
             progress: Progress) -> None:
        state, error, metrics = "SUCCEEDED", None, None
        run = None
        try:
            run = self._prepare(scope, name, definition, cancel, progress)
            metrics = run.run()
            for message in metrics.messages:
                log.info("crawler %s: %s", name, message)
        except Cancelled:
            state = "CANCELLED"
        except AwsError as exc:
            state, error = "FAILED", exc.message or exc.code
        except Exception as exc:  # a bug or an unreadable lake: the crawl fails, the server goes on
            log.exception("crawler %s failed", name)
            state, error = "FAILED", f"Internal Service Exception: {exc}"
        if cancel.is_set() and state == "SUCCEEDED":
            state = "CANCELLED"
        try:
            self._finish(scope, name, crawl_id, state, error, metrics, run)
        finally:
            with self._lock:
                self._active.pop((*scope.key, name), None)

    def _prepare(self, scope: Scope, name: str, definition: dict, cancel: threading.Event,
                 progress: Progress) -> CrawlRun:
        stack = self.provider.stack
        targets = definition.get("Targets") or {}
        unsupported = [kind for kind in TARGET_KINDS if kind != "S3Targets" and targets.get(kind)]
        if unsupported:
            raise AwsError("InvalidInputException", f"lakestack crawls S3 targets only; {', '.join(unsupported)} are "
                           "not supported.")
        database = definition.get("DatabaseName")
        if not database:
            raise invalid_input("The crawler has no DatabaseName to write tables to.")
        credential = stack.provider("sts").assume_role_for_service(
            role_arn(definition["Role"], scope.account), "glue.amazonaws.com", "AWS-Crawler",
            context={"aws:SourceAccount": scope.account, "aws:SourceArn": scope.arn(f"crawler/{name}")},
            region=scope.region)
        principal = credential.principal

        def glue_call(operation: str, params: dict) -> dict:
            return stack.call("glue", operation, params, principal, region=scope.region)

        try:
            glue_call("GetDatabase", {"Name": database})
        except AwsError as exc:
            if exc.code != "EntityNotFoundException":
                raise
            glue_call("CreateDatabase", {"DatabaseInput": {"Name": database}})
        config = parse_configuration(definition.get("Configuration"))
        change = definition.get("SchemaChangePolicy") or {}
        new_only = (definition.get("RecrawlPolicy") or {}).get("RecrawlBehavior") == "CRAWL_NEW_FOLDERS_ONLY"
        crawled = {r["folder"] for r in self.store.query(
            "SELECT folder FROM crawled_folders WHERE account_id=? AND region=? AND crawler=?", (*scope.key, name))}
        classifiers = []
        for classifier_name in definition.get("Classifiers") or []:
            row = self.classifiers.row(scope, classifier_name)
            if row is not None:
                classifiers.append((row["kind"], {"Name": row["name"], **codec.loads(row["data"])}))
        settings = CrawlSettings(
            crawler=name, database=database.lower(), targets=targets.get("S3Targets") or [], classifiers=classifiers,
            table_prefix=(definition.get("TablePrefix") or "").lower(),
            policy=Policy(name, database.lower(), change.get("UpdateBehavior", "UPDATE_IN_DATABASE"),
                          change.get("DeleteBehavior", "DEPRECATE_IN_DATABASE"), new_only, config.merge_new_columns,
                          config.inherit_from_table),
            grouping=config.grouping, new_folders_only=new_only, crawled_folders=crawled)
        lake = Lake(stack, principal, scope.region)
        return CrawlRun(lake, glue_call, settings, cancel, progress)

    def _finish(self, scope: Scope, name: str, crawl_id: str, state: str, error: str | None, metrics, run) -> None:
        with self.store.transaction() as db:
            # STOPPING while the run's results are recorded, then READY.
            db.execute("UPDATE crawlers SET state='STOPPING' WHERE account_id=? AND region=? AND name=?",
                       (*scope.key, name))
        with self.store.transaction() as db:
            m = metrics
            db.execute("UPDATE crawls SET state=?, ended=?, error=?, tables_created=?, tables_updated=?, "
                       "tables_deleted=?, partitions_created=?, partitions_updated=?, partitions_deleted=? "
                       "WHERE crawl_id=?",
                       (state, time.time(), error, *((m.tables_created, m.tables_updated, m.tables_deleted,
                                                      m.partitions_created, m.partitions_updated,
                                                      m.partitions_deleted) if m else (0,) * 6), crawl_id))
            if state == "SUCCEEDED" and run is not None:
                db.executemany("INSERT OR IGNORE INTO crawled_folders VALUES (?,?,?,?)",
                               [(*scope.key, name, folder) for folder in run.folders_seen])
            db.execute("UPDATE crawlers SET state='READY' WHERE account_id=? AND region=? AND name=?",
                       (*scope.key, name))

    # -- metrics and history -----------------------------------------------------------------

    def metrics(self, scope: Scope, params: dict) -> dict:
        names = params.get("CrawlerNameList")
        if not names:
            names = [r["name"] for r in self.store.query(
                "SELECT name FROM crawlers WHERE account_id=? AND region=? ORDER BY name", scope.key)]
        after = pagination.decode(params.get("NextToken")) or 0
        limit = pagination.page_size(params, 100, 1000)
        out = []
        for name in names[after:after + limit]:
            if self.store.query_one("SELECT 1 FROM crawlers WHERE account_id=? AND region=? AND name=?",
                                    (*scope.key, name)) is None:
                continue
            finished = self.store.query("SELECT * FROM crawls WHERE account_id=? AND region=? AND crawler=? AND "
                                        "state != 'RUNNING' ORDER BY started DESC", (*scope.key, name))
            durations = [r["ended"] - r["started"] for r in finished if r["ended"]]
            last = finished[0] if finished else None
            entry = {"CrawlerName": name, "TimeLeftSeconds": 0.0, "StillEstimating": False,
                     "LastRuntimeSeconds": durations[0] if durations else 0.0,
                     "MedianRuntimeSeconds": statistics.median(durations) if durations else 0.0,
                     "TablesCreated": last["tables_created"] if last else 0,
                     "TablesUpdated": last["tables_updated"] if last else 0,
                     "TablesDeleted": last["tables_deleted"] if last else 0}
            with self._lock:
                active = self._active.get((*scope.key, name))
            if active is not None:
                progress = active[1]
                entry["StillEstimating"] = not progress.listing_done
                entry["TimeLeftSeconds"] = progress.time_left()
            out.append(entry)
        result = {"CrawlerMetricsList": out}
        if after + limit < len(names):
            result["NextToken"] = pagination.encode(after + limit)
        return result

    def history(self, scope: Scope, params: dict) -> dict:
        name = params["CrawlerName"]
        self._row(scope, name)
        rows = self.store.query("SELECT * FROM crawls WHERE account_id=? AND region=? AND crawler=? ORDER BY started "
                                "DESC", (*scope.key, name))
        items = [self._history_item(name, r) for r in rows]
        for condition in params.get("Filters") or []:
            items = [i for i in items if _matches(i, condition)]
        after = pagination.decode(params.get("NextToken")) or 0
        limit = pagination.page_size(params, 100, 1000)
        out = {"Crawls": items[after:after + limit]}
        if after + limit < len(items):
            out["NextToken"] = pagination.encode(after + limit)
        return out

    @staticmethod
    def _history_item(name: str, row) -> dict:
        summary = {}
        for kind, prefix in (("TABLE", "tables"), ("PARTITION", "partitions")):
            counts = {action: {"Count": row[f"{prefix}_{column}"]} for action, column in
                      (("ADD", "created"), ("UPDATE", "updated"), ("DELETE", "deleted")) if row[f"{prefix}_{column}"]}
            if counts:
                summary[kind] = counts
        item = {"CrawlId": row["crawl_id"], "State": HISTORY_STATE[row["state"]],
                "StartTime": codec.timestamp(row["started"]), "LogGroup": LOG_GROUP, "LogStream": name,
                "MessagePrefix": row["crawl_id"], "DPUHour": 0.0, "Summary": json.dumps(summary)}
        if row["ended"]:
            item["EndTime"] = codec.timestamp(row["ended"])
        if row["error"]:
            item["ErrorMessage"] = row["error"]
        return item


_FILTER_FIELDS = {"CRAWL_ID": "CrawlId", "STATE": "State", "START_TIME": "StartTime", "END_TIME": "EndTime",
                  "DPU_HOUR": "DPUHour"}


def _matches(item: dict, condition: dict) -> bool:
    field = _FILTER_FIELDS.get(condition.get("FieldName", ""))
    operator = condition.get("FilterOperator", "EQ")
    raw = condition.get("FieldValue")
    if field is None or raw is None:
        return True
    value = item.get(field)
    if value is None:
        return False
    if field in ("StartTime", "EndTime"):
        value = value.timestamp() * 1000  # Glue compares times as epoch milliseconds
        raw = float(raw)
    elif field == "DPUHour":
        raw = float(raw)
    compare = {"GT": lambda a, b: a > b, "GE": lambda a, b: a >= b, "LT": lambda a, b: a < b,
               "LE": lambda a, b: a <= b, "EQ": lambda a, b: a == b, "NE": lambda a, b: a != b}[operator]
    try:
        return compare(value, raw)
    except TypeError:
        return False
