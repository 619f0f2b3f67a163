"""From classified files to tables and partitions, as Glue decides where a table's root is.

The files under an include path form a folder tree. A folder is *homogeneous* when every
file below it has the same format (classification, compression, CSV dialect …) and the
majority of its members — its own files and its sub-folders — have similar schemas
(at least 70% of column names in common). Starting at the include path, a homogeneous
folder becomes one table whose sub-folders are partitions; otherwise each sub-folder is
considered on its own, and files lying directly in a mixed folder become tables of their
own, named after the file.
https://docs.aws.amazon.com/glue/latest/dg/crawler-s3-folder-table-partition.html

An include path that holds nothing but one folder descends into it, so pointing a crawler
at s3://bucket/ with one folder `sales/` makes a table `sales` (folders that look like
partitions, `year=2024` or `2024`, are not descended into).

Partition keys are named after Hive-style `key=value` folders, or `partition_0`, … for
plain folder names, and are typed string, as Glue's crawler types them.

`TableLevelConfiguration` puts table roots at a fixed depth counted from the bucket
(top-level folder = 1) regardless of similarity; `CombineCompatibleSchemas` makes the
include path one table whenever all its files share a format.
https://docs.aws.amazon.com/glue/latest/dg/crawler-grouping-policy.html
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from lakestack.services.glue.crawling import schema as types
from lakestack.services.glue.crawling.formats import Detected
from lakestack.services.glue.crawling.lake import LakeObject

_HIVE = re.compile(r"^([^=]+)=(.*)$")
_NAME = re.compile(r"[^a-z0-9_]")
_VALUE = re.compile(r"[0-9][0-9_.:-]*")


def table_name(text: str) -> str:
    """Glue's crawler lower-cases names and turns anything but letters, digits and `_` into `_`."""
    return _NAME.sub("_", text.lower()) or "_"


@dataclass
class FileResult:
    obj: LakeObject
    relative: str  # key relative to the include path
    detected: Detected
    compression: str
    folder: tuple[str, ...] = field(init=False)
    compat: tuple = field(init=False)  # files may share a table only when equal

    def __post_init__(self):
        self.folder = tuple(self.relative.split("/")[:-1])
        self.compat = self.detected.compatibility(self.compression)


@dataclass
class PartitionPlan:
    values: list[str]
    location: str
    files: list[FileResult]
    columns: tuple


@dataclass
class TablePlan:
    name: str
    location: str
    files: list[FileResult]
    columns: tuple
    detected: Detected
    compression: str
    partition_keys: list[str] = field(default_factory=list)
    partitions: list[PartitionPlan] = field(default_factory=list)


@dataclass
class GroupingOptions:
    table_level: int | None = None
    combine_compatible: bool = False


@dataclass
class Node:
    parts: tuple[str, ...]
    files: list[FileResult] = field(default_factory=list)
    children: dict[str, Node] = field(default_factory=dict)

    def walk_files(self):
        yield from self.files
        for child in self.children.values():
            yield from child.walk_files()


def build_tree(files: list[FileResult]) -> Node:
    root = Node(())
    for f in files:
        node = root
        for part in f.folder:
            child = node.children.get(part)
            if child is None:
                child = node.children[part] = Node(node.parts + (part,))
            node = child
        node.files.append(f)
    return root


def merge_columns(files) -> tuple:
    columns: tuple = ()
    seen: set = set()
    for f in files:
        cols = f.detected.columns
        if id(cols) in seen or cols == columns:
            continue  # the common case: file after file with the very same schema
        seen.add(id(cols))
        columns = types.merge_fields(columns, cols)
    return columns


def _majority_similar(schemas: list[tuple]) -> bool:
    if len(schemas) <= 1:
        return True
    counts = Counter(frozenset(name for name, _ in s) for s in schemas)
    if len(counts) == 1:
        return True
    distinct = list(counts)
    best = max(sum(counts[other] for other in distinct
                   if types.similarity([(n, None) for n in mine], [(n, None) for n in other]) >= types.SIMILAR)
               for mine in distinct)
    return best * 2 > len(schemas)


@dataclass
class _Profile:
    compat: tuple
    columns: tuple


class Planner:
    def __init__(self, bucket: str, prefix: str, options: GroupingOptions):
        self.bucket = bucket
        self.prefix = prefix  # '' or ends with '/'
        self.prefix_parts = tuple(p for p in prefix.split("/") if p)
        self.options = options
        self._profiles: dict[tuple, _Profile | None] = {}

    def location(self, parts: tuple[str, ...]) -> str:
        path = "/".join(self.prefix_parts + parts)
        return f"s3://{self.bucket}/{path}/" if path else f"s3://{self.bucket}/"

    def profile(self, node: Node) -> _Profile | None:
        """The format and merged schema of a homogeneous folder, or None."""
        if node.parts in self._profiles:
            return self._profiles[node.parts]
        result = None
        members: list[tuple[tuple, tuple]] = [(f.compat, f.detected.columns) for f in node.files]
        for child in node.children.values():
            found = self.profile(child)
            if found is None:
                members = []
                break
            members.append((found.compat, found.columns))
        else:
            compats = {compat for compat, _ in members}
            if len(compats) == 1 and _majority_similar([cols for _, cols in members]):
                merged: tuple = ()
                for _, cols in members:
                    if cols != merged:
                        merged = types.merge_fields(merged, cols)
                result = _Profile(compats.pop(), merged)
        self._profiles[node.parts] = result
        return result

    def plan(self, root: Node) -> list[TablePlan]:
        plans: list[TablePlan] = []
        if self.options.table_level is None:
            # An include path that holds nothing but one folder (s3://bucket/ holding sales/)
            # names that folder's table, not itself — unless the folder looks like a partition.
            while not root.files and len(root.children) == 1:
                (child,) = root.children.values()
                if partition_like(child.parts[-1]):
                    break
                root = child
        self._place(root, root, plans)
        return plans

    def _place(self, node: Node, root: Node, plans: list[TablePlan]) -> None:
        level = self.options.table_level
        if level is not None:
            depth = len(self.prefix_parts) + len(node.parts)
            if depth >= level:
                plans.append(self._table(node))
            else:
                for child in node.children.values():
                    self._place(child, root, plans)
            return
        if node is root and self.options.combine_compatible:
            if len({f.compat for f in node.walk_files()}) == 1:
                plans.append(self._table(node))
                return
        if not node.files and not node.children:
            return
        if self.profile(node) is not None:
            plans.append(self._table(node))
            return
        for child in node.children.values():
            self._place(child, root, plans)
        for f in node.files:
            plans.append(self.file_table(f))

    def _name_of(self, parts: tuple[str, ...]) -> str:
        if parts:
            return table_name(parts[-1])
        if self.prefix_parts:
            return table_name(self.prefix_parts[-1])
        return table_name(self.bucket)

    def file_table(self, f: FileResult) -> TablePlan:
        name = table_name(f.relative.rsplit("/", 1)[-1])
        location = f"s3://{self.bucket}/{f.obj.key}"
        return TablePlan(name, location, [f], f.detected.columns, f.detected, f.compression)

    def _table(self, node: Node) -> TablePlan:
        files = list(node.walk_files())
        # A table keeps the files of its dominant format (TableLevelConfiguration may put
        # files of several formats under one root); others are left out, as Glue logs them.
        dominant = Counter(f.compat for f in files).most_common(1)[0][0]
        files = [f for f in files if f.compat == dominant]
        base = len(node.parts)
        depths = Counter(len(f.folder) - base for f in files if len(f.folder) > base)
        levels = min(depths, key=lambda d: (-depths[d], d)) if depths else 0
        plan = TablePlan(self._name_of(node.parts), self.location(node.parts), files, merge_columns(files),
                         files[0].detected, files[0].compression)
        if levels == 0:
            return plan
        groups: dict[tuple[str, ...], list[FileResult]] = {}
        for f in files:
            if len(f.folder) - base >= levels:
                groups.setdefault(f.folder[base:base + levels], []).append(f)
        plan.partition_keys = partition_key_names([folders for folders in groups], levels)
        for folders, members in sorted(groups.items()):
            plan.partitions.append(PartitionPlan(partition_values(folders), self.location(node.parts + folders), members,
                                                 merge_columns(members)))
        return plan


def partition_like(folder: str) -> bool:
    """`key=value`, or a value such as 2024, 01 or 2024-05-01."""
    return bool(_HIVE.match(folder) or _VALUE.fullmatch(folder))


def partition_key_names(folder_lists: list[tuple[str, ...]], levels: int) -> list[str]:
    names = []
    for i in range(levels):
        keys = {m.group(1).lower() if (m := _HIVE.match(folders[i])) else None for folders in folder_lists}
        if len(keys) == 1 and None not in keys:
            names.append(keys.pop())
        else:
            names.append(f"partition_{i}")
    return names


def partition_values(folders: tuple[str, ...]) -> list[str]:
    return [m.group(2) if (m := _HIVE.match(p)) else p for p in folders]
