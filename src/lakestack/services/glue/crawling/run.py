"""One crawler run: list → sample → classify → group → write, checking for StopCrawler
between files.

Everything goes through S3 and Glue as the crawler's role: listings and writes are their
operations; file contents are read in place when S3 keeps an object as a plain file, after
the s3:GetObject check a GET would make (lake.py). Files are read one after another: the
per-file work is mostly Python, so threads would only take turns on the GIL (measured:
one thread is fastest on 2 cores).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from lakestack.services.glue.crawling.classify import classify
from lakestack.services.glue.crawling.exclusions import Exclusions
from lakestack.services.glue.crawling.grouping import (
    FileResult,
    GroupingOptions,
    PartitionPlan,
    Planner,
    TablePlan,
    build_tree,
    merge_columns,
    partition_values,
)
from lakestack.services.glue.crawling.lake import Lake, LakeObject, parse_s3_path
from lakestack.services.glue.crawling.output import (
    CRAWLER_PARAMETER,
    CatalogWriter,
    Metrics,
    Policy,
    unique_names,
)

log = logging.getLogger("lakestack.glue")


class Cancelled(Exception):
    pass


@dataclass
class Progress:
    """What GetCrawlerMetrics reports while a crawl runs."""

    started: float = field(default_factory=time.monotonic)
    files_total: int = 0
    files_done: int = 0
    listing_done: bool = False

    def time_left(self) -> float:
        if not self.listing_done or self.files_done == 0:
            return 0.0
        elapsed = time.monotonic() - self.started
        return max(0.0, elapsed / self.files_done * (self.files_total - self.files_done))


@dataclass
class CrawlSettings:
    crawler: str
    database: str
    targets: list[dict]
    classifiers: list[tuple[str, dict]]
    table_prefix: str
    policy: Policy
    grouping: GroupingOptions
    new_folders_only: bool
    crawled_folders: set[str]


def _hidden(relative: str) -> bool:
    # Files and folders starting with `_` or `.` are bookkeeping of the tools that wrote the
    # data (_SUCCESS, _temporary/, .crc, _delta_log/), not data.
    return any(part.startswith(("_", ".")) for part in relative.split("/"))


class CrawlRun:
    def __init__(self, lake: Lake, glue_call: Callable[[str, dict], dict], settings: CrawlSettings,
                 cancel: threading.Event, progress: Progress):
        self.lake = lake
        self.glue_call = glue_call
        self.settings = settings
        self.cancel = cancel
        self.progress = progress
        self.metrics = Metrics()
        self.folders_seen: set[str] = set()

    def check(self) -> None:
        if self.cancel.is_set():
            raise Cancelled()

    # -- listing and reading ---------------------------------------------------------------

    def _list_target(self, target: dict) -> tuple[str, str, list[tuple[LakeObject, str]]]:
        bucket, prefix = parse_s3_path(target["Path"])
        exclusions = Exclusions(target.get("Exclusions"))
        found = []
        for obj in self.lake.list(bucket, prefix):
            relative = obj.key[len(prefix):]
            if not relative or relative.endswith("/") or obj.key.endswith("_$folder$") or obj.size == 0:
                continue
            if _hidden(relative) or exclusions.excluded(relative):
                continue
            found.append((obj, relative))
        if not found and prefix:
            # An include path may name a single object rather than a folder.
            key = prefix[:-1]
            single = [o for o in self.lake.list(bucket, key) if o.key == key and o.size]
            if single:
                prefix = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
                found = [(single[0], key[len(prefix):])]
        self.check()
        self.lake.locate(bucket, prefix)
        return bucket, prefix, found

    @staticmethod
    def _folder_of(obj: LakeObject) -> str:
        return f"s3://{obj.bucket}/{obj.key.rsplit('/', 1)[0]}/" if "/" in obj.key else f"s3://{obj.bucket}/"

    def _read(self, items: list[tuple[LakeObject, str]], sample_size: int | None) -> list[FileResult]:
        """Classify the sampled files of every folder; the rest take their folder's reading."""
        by_folder: dict[str, list[tuple[LakeObject, str]]] = defaultdict(list)
        for obj, relative in items:
            by_folder[self._folder_of(obj)].append((obj, relative))
        sampled, skipped = [], []
        for members in by_folder.values():
            chosen = members if not sample_size else members[:sample_size]
            sampled.extend(chosen)
            skipped.extend(members[len(chosen):])
        self.progress.files_total += len(sampled)
        custom = self.settings.classifiers

        def one(item: tuple[LakeObject, str]) -> FileResult:
            self.check()
            obj, relative = item
            sample = self.lake.sample(obj)
            detected = classify(sample, custom)
            self.progress.files_done += 1
            return FileResult(obj, relative, detected, sample.compression)

        results = [one(item) for item in sampled]
        self.check()
        by_folder_result = {self._folder_of(r.obj): r for r in results}
        for obj, relative in skipped:
            model = by_folder_result[self._folder_of(obj)]
            records = round(model.detected.records * obj.size / model.obj.size) if model.obj.size else 0
            results.append(FileResult(obj, relative, replace(model.detected, records=records), model.compression))
        return results

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> Metrics:
        settings = self.settings
        listed = []
        for target in settings.targets:
            listed.append((target, *self._list_target(target)))
        self.progress.listing_done = True
        plans: list[TablePlan] = []
        extensions: list[tuple[dict, TablePlan]] = []
        existing = self._crawler_tables()
        for target, bucket, prefix, items in listed:
            for obj, _ in items:
                self.folders_seen.add(self._folder_of(obj))
            if settings.new_folders_only:
                items = [(o, r) for o, r in items if self._folder_of(o) not in settings.crawled_folders]
            files = self._read(items, target.get("SampleSize"))
            if settings.new_folders_only and existing:
                files = self._extend_existing(files, existing, extensions)
            planner = Planner(bucket, prefix, settings.grouping)
            if len(files) == 1 and f"s3://{bucket}/{files[0].obj.key}" == target["Path"]:
                plans.append(planner.file_table(files[0]))  # the include path is this one file
            else:
                plans.extend(planner.plan(build_tree(files)))
        self.check()
        unique_names(plans, settings.table_prefix)
        writer = CatalogWriter(self.glue_call, settings.policy, self.metrics)
        claimed: set[str] = set()
        for plan in plans:
            self.check()
            writer.apply(plan, claimed)
        for table, plan in extensions:
            self.check()
            writer.add_partitions(table, plan.partitions, plan)
            claimed.add(table["Name"])
        if not settings.new_folders_only:
            for table in existing:
                if table["Name"] not in claimed and self._under_targets(table):
                    writer.retire(table)
        return self.metrics

    def _crawler_tables(self) -> list[dict]:
        """Tables in the crawler's database that this crawler wrote."""
        out, token = [], None
        while True:
            params = {"DatabaseName": self.settings.database}
            if token:
                params["NextToken"] = token
            page = self.glue_call("GetTables", params)
            out.extend(t for t in page.get("TableList") or ()
                       if (t.get("Parameters") or {}).get(CRAWLER_PARAMETER) == self.settings.crawler)
            token = page.get("NextToken")
            if not token:
                return out

    def _under_targets(self, table: dict) -> bool:
        location = (table.get("StorageDescriptor") or {}).get("Location", "")
        for target in self.settings.targets:
            bucket, prefix = parse_s3_path(target["Path"])
            if location.startswith(f"s3://{bucket}/{prefix}") or location.rstrip("/") == target["Path"].rstrip("/"):
                return True
        return False

    def _extend_existing(self, files: list[FileResult], existing: list[dict],
                         extensions: list[tuple[dict, TablePlan]]) -> list[FileResult]:
        """CRAWL_NEW_FOLDERS_ONLY: files in new folders under a table this crawler made become
        new partitions of it; the others are grouped as usual."""
        rest = []
        owned: dict[str, list[FileResult]] = defaultdict(list)
        roots = sorted(((t.get("StorageDescriptor") or {}).get("Location", "").rstrip("/") + "/", t)
                       for t in existing)
        for f in files:
            path = f"s3://{f.obj.bucket}/{f.obj.key}"
            table = next((t for root, t in roots if path.startswith(root) and t.get("PartitionKeys")), None)
            if table is None:
                rest.append(f)
            else:
                owned[table["Name"]].append(f)
        for name, members in owned.items():
            table = next(t for t in existing if t["Name"] == name)
            root = table["StorageDescriptor"]["Location"].rstrip("/") + "/"
            levels = len(table["PartitionKeys"])
            groups: dict[tuple, list[FileResult]] = defaultdict(list)
            for f in members:
                folders = tuple(f"s3://{f.obj.bucket}/{f.obj.key}"[len(root):].split("/")[:-1])
                if len(folders) >= levels:
                    groups[folders[:levels]].append(f)
            model = members[0]
            plan = TablePlan(name, root, members, merge_columns(members), model.detected, model.compression)
            for folders, group in sorted(groups.items()):
                plan.partitions.append(PartitionPlan(partition_values(folders), root + "/".join(folders) + "/",
                                                     group, merge_columns(group)))
            extensions.append((table, plan))
        return rest
