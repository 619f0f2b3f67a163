"""Where S3 keeps things, and how a write becomes durable.

Metadata lives in `<state>/s3.db` (SQLite, WAL, synchronous=FULL); bytes live in plain
files (see keys.py for the layout). A write goes:

1. stream the body to `<home>/tmp/<random>`, hashing as it goes; fsync it;
2. one SQLite transaction: the new row plus a `pending_files(tmp → final)` row; commit;
3. rename tmp onto final, fsync the directory; answer.

In a bucket with versioning (versioning.py) a write may also keep the object it replaces: a
`pending_files` row with op 'link' hard-links the current file to a fresh name under
`s3-objects/<bucket>/versions/` before the new bytes are renamed over it, and a promoted
old version is renamed back to the key's path. Every name under `versions/` is used once,
so recovery can tell from the disk alone what is left to do (see `recover`).

After a kill -9 anywhere in that sequence, `recover()` rolls every committed rename forward
and throws away temp files that were never committed, so an acknowledged write is readable
and no half-written object is ever listed. Deletes record `pending_files(path → NULL)` in
the transaction that removes the row, and unlink afterwards.

Locks: a striped per-key lock covers "commit → rename" so a GET never sees a row whose file
is not in place yet (a GET holds it only while it reads the row and opens the file; the open
descriptor survives later renames and unlinks). A per-bucket layout lock serializes the
decisions that depend on the directory tree (is `a` a file or a directory right now?) with
the renames, mkdirs and prunes that change it. Order: key locks → layout lock → writer.
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from lakestack.runtime.files import fsync_dir
from lakestack.runtime.state import StateStore
from lakestack.services.s3.commits import GroupCommitter

log = logging.getLogger("lakestack.s3")

SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    region TEXT NOT NULL,
    created REAL NOT NULL,
    tags TEXT,
    versioning TEXT,
    object_lock TEXT,  -- object_lock.py: NULL, or its configuration as JSON ('{}': enabled, no default)
    lifecycle TEXT  -- lifecycle.py: NULL, or the configuration as JSON
);
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    last_modified REAL NOT NULL,
    content_type TEXT,
    content_encoding TEXT,
    content_disposition TEXT,
    content_language TEXT,
    cache_control TEXT,
    expires TEXT,
    website_redirect TEXT,
    storage_class TEXT,
    metadata TEXT,
    checksum_algorithm TEXT,
    checksum_value TEXT,
    checksum_type TEXT,
    parts TEXT,
    lake INTEGER NOT NULL,
    path TEXT NOT NULL,
    version_id TEXT,  -- NULL: written without versioning, else 'null' or the version's id
    tags TEXT,  -- object tagging: JSON [{"Key", "Value"}], NULL for none (tagging.py)
    sse TEXT,  -- SSE-C: JSON salt, key check and IVs, NULL for SSE-S3 (encryption.py)
    part_details TEXT,  -- multipart: JSON [[part number, checksum or null]], with `parts`
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
-- Versioning (versioning.py): every version of a key but the current object, i.e. older
-- versions and delete markers, the newest with the highest seq. Their files live under
-- s3-objects/<bucket>/versions/ (the current object's stays at the key's path).
CREATE TABLE IF NOT EXISTS versions (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    seq INTEGER NOT NULL,
    version_id TEXT NOT NULL,
    delete_marker INTEGER NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    last_modified REAL NOT NULL,
    content_type TEXT,
    content_encoding TEXT,
    content_disposition TEXT,
    content_language TEXT,
    cache_control TEXT,
    expires TEXT,
    website_redirect TEXT,
    storage_class TEXT,
    metadata TEXT,
    checksum_algorithm TEXT,
    checksum_value TEXT,
    checksum_type TEXT,
    parts TEXT,
    lake INTEGER NOT NULL,
    path TEXT NOT NULL,  -- '' for a delete marker
    tags TEXT,
    sse TEXT,
    part_details TEXT,
    PRIMARY KEY (bucket, key, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS versions_by_id ON versions (bucket, key, version_id);
CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    initiated REAL NOT NULL,
    initiator_arn TEXT,
    initiator_id TEXT,
    owner_account TEXT NOT NULL,
    headers TEXT NOT NULL,
    checksum_algorithm TEXT,
    checksum_type TEXT
);
CREATE INDEX IF NOT EXISTS uploads_by_key ON uploads (bucket, key, initiated);
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL REFERENCES uploads (upload_id) ON DELETE CASCADE,
    part_number INTEGER NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    last_modified REAL NOT NULL,
    checksum_value TEXT,
    path TEXT NOT NULL,
    sse_iv TEXT,  -- SSE-C: the part's AES-CTR IV (encryption.py)
    PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
-- The last completed upload of each key, so a retried CompleteMultipartUpload answers 200
-- while the object is still the one it made.
CREATE TABLE IF NOT EXISTS completed_uploads (
    upload_id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    etag TEXT NOT NULL,
    last_modified REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS completed_uploads_by_key ON completed_uploads (bucket, key);
-- Renames (src → dst) and deletes (src → NULL) committed but maybe not yet done on disk.
CREATE TABLE IF NOT EXISTS pending_files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    src TEXT NOT NULL,
    dst TEXT,
    bucket TEXT,
    key TEXT,
    op TEXT  -- NULL: rename src to dst (or delete src), 'link': hard-link src to dst
);
-- Object Ownership (object_ownership.py): a row per bucket made since, ownership NULL for
-- no ownership controls. (No semicolons in these comments: SCHEMA is split on them.)
CREATE TABLE IF NOT EXISTS bucket_ownership (
    bucket TEXT PRIMARY KEY,
    ownership TEXT
);
-- Block Public Access (public_access_block.py), for buckets that have a configuration.
CREATE TABLE IF NOT EXISTS public_access_blocks (
    bucket TEXT PRIMARY KEY,
    block_public_acls INTEGER NOT NULL,
    ignore_public_acls INTEGER NOT NULL,
    block_public_policy INTEGER NOT NULL,
    restrict_public_buckets INTEGER NOT NULL
);
-- ACLs (acls.py) other than the default, as JSON. An object's row names the version's ETag
-- and Last-Modified, and counts only while they match it.
CREATE TABLE IF NOT EXISTS bucket_acls (
    bucket TEXT PRIMARY KEY,
    acl TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS object_acls (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    version_id TEXT NOT NULL,  -- 'null' for the null version
    etag TEXT NOT NULL,
    last_modified REAL NOT NULL,
    acl TEXT NOT NULL,
    PRIMARY KEY (bucket, key, version_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS upload_acls (
    upload_id TEXT PRIMARY KEY,
    acl TEXT NOT NULL
);
-- Object Lock (object_lock.py): a version's retention and legal hold ('null' names a null version).
CREATE TABLE IF NOT EXISTS object_holds (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    version_id TEXT NOT NULL,
    mode TEXT,  -- GOVERNANCE or COMPLIANCE, with retain_until
    retain_until REAL,
    legal_hold INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, key, version_id)
) WITHOUT ROWID;
-- Default encryption (bucket_encryption.py): a bucket's PutBucketEncryption configuration, as
-- JSON (no row: S3's default, SSE-S3).
CREATE TABLE IF NOT EXISTS bucket_encryption (
    bucket TEXT PRIMARY KEY,
    config TEXT NOT NULL
);
"""
# Columns added since the tables were first created: (table, column, declaration).
MIGRATIONS = (
    ("buckets", "versioning", "TEXT"),
    ("objects", "version_id", "TEXT"),
    ("pending_files", "op", "TEXT"),
    ("buckets", "object_lock", "TEXT"),
    ("buckets", "lifecycle", "TEXT"),
    ("objects", "tags", "TEXT"),
    ("objects", "sse", "TEXT"),
    ("objects", "part_details", "TEXT"),
    ("versions", "tags", "TEXT"),
    ("versions", "sse", "TEXT"),
    ("versions", "part_details", "TEXT"),
    ("parts", "sse_iv", "TEXT"),
)

TMP_DIR = "tmp"
MULTIPART_DIR = "multipart"
KEY_STRIPES = 256
LAYOUT_STRIPES = 64
SETTLE_SECONDS = 0.2


class S3Store:
    def __init__(self, home: Path, state_dir: Path):
        self.home = Path(home)
        for name in (TMP_DIR, MULTIPART_DIR, "s3", "s3-objects"):
            (self.home / name).mkdir(parents=True, exist_ok=True)
        self.db = StateStore(Path(state_dir) / "s3.db")
        with self.db.transaction() as db:
            # Statement by statement: sqlite3's executescript() would commit the open transaction.
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            for table, column, declaration in MIGRATIONS:
                if column not in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
        self._key_locks = [threading.Lock() for _ in range(KEY_STRIPES)]
        self._layout_locks = [threading.RLock() for _ in range(LAYOUT_STRIPES)]
        # Ids of pending_files rows whose disk work is done; deleted by the next transaction
        # instead of costing a commit of their own.
        self._done: list[int] = []
        self._done_lock = threading.Lock()
        # Renames and unlinks whose directory is not fsync'd yet, with their pending rows.
        self._unsettled: list[tuple[Path, tuple[int, ...]]] = []
        self._unsettled_lock = threading.Lock()
        self.recover()
        self._temp_prefix, self._temp_names = uuid.uuid4().hex[:8], itertools.count()
        self.committer = GroupCommitter(self)
        self._stopping = threading.Event()
        self._settler = threading.Thread(target=self._settle_loop, name="lakestack-s3-settle", daemon=True)
        self._settler.start()

    def close(self) -> None:
        self._stopping.set()
        self._settler.join(timeout=5)
        self.settle_now()
        with self.transaction():
            pass  # flushes finished pending_files rows
        self.db.close()

    # -- paths -------------------------------------------------------------------------

    def abspath(self, rel: str) -> Path:
        return self.home / rel

    def new_temp(self) -> tuple[str, Path]:
        # Unique within this process's life (recovery empties tmp/ at every start).
        rel = f"{TMP_DIR}/{self._temp_prefix}{next(self._temp_names)}"
        return rel, self.home / rel

    def bucket_dir(self, bucket: str) -> Path:
        return self.home / "s3" / bucket

    def upload_dir(self, upload_id: str) -> Path:
        return self.home / MULTIPART_DIR / upload_id

    # -- locks -------------------------------------------------------------------------

    def key_lock(self, bucket: str, key: str) -> threading.Lock:
        return self._key_locks[self._key_stripe(bucket, key)]

    @staticmethod
    def _key_stripe(bucket: str, key: str) -> int:
        return hash((bucket, key)) % KEY_STRIPES

    @contextmanager
    def key_locks(self, bucket: str, keys: Iterable[str]) -> Iterator[None]:
        """Several keys' locks, taken in stripe order so two callers cannot deadlock."""
        stripes = sorted({self._key_stripe(bucket, key) for key in keys})
        with ExitStack() as stack:
            for stripe in stripes:
                stack.enter_context(self._key_locks[stripe])
            yield

    def layout_lock(self, bucket: str) -> threading.RLock:
        return self._layout_locks[hash(bucket) % LAYOUT_STRIPES]

    @contextmanager
    def write_locks(self, targets: list[tuple[str, str]]) -> Iterator[None]:
        """The key and bucket-layout locks of several (bucket, key) writes: key stripes in
        order, then layout stripes in order — the order single writers take them in."""
        with ExitStack() as stack:
            for stripe in sorted({self._key_stripe(bucket, key) for bucket, key in targets}):
                stack.enter_context(self._key_locks[stripe])
            for stripe in sorted({hash(bucket) % LAYOUT_STRIPES for bucket, _ in targets}):
                stack.enter_context(self._layout_locks[stripe])
            yield

    # -- transactions and pending file work -------------------------------------------

    @contextmanager
    def transaction(self):
        with self.db.transaction() as db:
            with self._done_lock:
                done, self._done = self._done, []
            if done:
                db.executemany("DELETE FROM pending_files WHERE id = ?", [(i,) for i in done])
            yield db

    @staticmethod
    def add_pending(db, src: str, dst: str | None, bucket: str | None = None, key: str | None = None) -> int:
        cur = db.execute("INSERT INTO pending_files (src, dst, bucket, key) VALUES (?, ?, ?, ?)",
                         (src, dst, bucket, key))
        return cur.lastrowid

    @staticmethod
    def add_link(db, src: str, dst: str, bucket: str, key: str) -> int:
        """Keep the file at `src` under the new name `dst` too (an old version, versioning.py)."""
        cur = db.execute("INSERT INTO pending_files (src, dst, bucket, key, op) VALUES (?, ?, ?, ?, 'link')",
                         (src, dst, bucket, key))
        return cur.lastrowid

    def mark_done(self, *ids: int | None) -> None:
        with self._done_lock:
            self._done.extend(i for i in ids if i is not None)

    def settle(self, directory: Path, *ids: int | None) -> None:
        """A rename or unlink in `directory` is done; its pending rows may go once the
        directory is durable. Until then recovery would redo the work from the pending row
        (the temp file's bytes are already fsync'd), so the client's answer does not wait
        for a directory fsync: those are batched in the background, one per directory."""
        with self._unsettled_lock:
            self._unsettled.append((directory, tuple(i for i in ids if i is not None)))

    def settle_now(self) -> None:
        with self._unsettled_lock:
            batch, self._unsettled = self._unsettled, []
        for directory in {directory for directory, _ in batch}:
            # Emptied and pruned (and perhaps now a file: key `a/x` after `a/x/y` went): its
            # parent holds the change.
            while not directory.is_dir() and directory != self.home:
                directory = directory.parent
            self.sync_dir(directory)
        self.mark_done(*(i for _, ids in batch for i in ids))

    def _settle_loop(self) -> None:
        while not self._stopping.wait(SETTLE_SECONDS):
            try:
                self.settle_now()
            except Exception:  # e.g. EIO: keep trying; the pending rows still cover the work
                log.exception("settling S3 directory changes failed")

    def make_parents(self, path: Path) -> None:
        """Create missing parent directories durably (each new entry fsync'd in its parent)."""
        missing = []
        parent = path.parent
        while not parent.is_dir():
            missing.append(parent)
            parent = parent.parent
        for directory in reversed(missing):
            try:
                directory.mkdir()
            except FileExistsError:
                continue
            fsync_dir(directory.parent)

    @staticmethod
    def rename(tmp: Path, final: Path) -> None:
        """Put committed bytes in place (atomic; a reader sees the old file or the new)."""
        os.replace(tmp, final)

    def rename_into_place(self, tmp: Path, final: Path) -> None:
        self.rename(tmp, final)
        self.sync_dir(final.parent)

    @staticmethod
    def link(src: Path, dst: Path) -> None:
        """A second name for a file whose bytes are already durable (`dst` never existed).
        Where hard links are refused, a copy is made under a temporary name and renamed."""
        try:
            os.link(src, dst)
            return
        except FileExistsError:
            raise
        except OSError:
            pass
        partial = dst.with_name(dst.name + ".partial")
        with open(src, "rb") as source, open(partial, "wb") as target:
            shutil.copyfileobj(source, target, 8 << 20)
            target.flush()
            os.fsync(target.fileno())
        os.replace(partial, dst)

    @staticmethod
    def sync_dir(directory: Path) -> None:
        """Make a rename in `directory` durable. Callers do this after releasing their locks
        (the rename is already visible); a directory pruned meanwhile has nothing to sync."""
        try:
            fsync_dir(directory)
        except (FileNotFoundError, NotADirectoryError):
            pass  # pruned (the pruning's own settle syncs the parent)

    def remove_file(self, path: Path, stop_at: Path | None = None) -> None:
        """Unlink a file, then prune directories it leaves empty, up to `stop_at`."""
        try:
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError):  # gone, or a parent is a file by now
            pass
        if stop_at is None:
            return
        parent = path.parent
        while parent != stop_at and stop_at in parent.parents:
            try:
                parent.rmdir()
            except OSError:  # not empty (or already gone): stop pruning
                break
            parent = parent.parent

    def _still_used(self, bucket: str | None, key: str | None, path: str) -> bool:
        current = self.db.query_one("SELECT path FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
        if current is not None and current["path"] == path:
            return True
        return self.db.query_one("SELECT 1 FROM versions WHERE bucket = ? AND key = ? AND path = ?",
                                 (bucket, key, path)) is not None

    def discard(self, path: Path | None) -> None:
        if path is not None:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    # -- crash recovery ---------------------------------------------------------------

    def recover(self) -> None:
        """Roll committed renames forward, finish committed deletes, drop uncommitted temps.

        Rows are redone in order, and the rows still here for a key are always the last ones
        done on it (they are dropped in the order they were settled), so each step can be
        judged from the disk: a rename's source is a name used once (a temp file, or an old
        version's file), present exactly until the rename is done. A link's target is a name
        used once too: it is done if the target exists, or if a later row (a promotion or a
        delete, itself still here then) moved or removed the target since. A delete is redone
        only when no later row touches its path: a later write of the key happened after the
        delete was done, and that write's rows decide what the path holds."""
        rows = self.db.query("SELECT id, src, dst, bucket, key, op FROM pending_files ORDER BY id")
        moved_on = {row["src"] for row in rows if row["op"] is None}
        last_touch = {}
        for row in rows:
            last_touch[row["src"]] = row["id"]
            if row["dst"] is not None:
                last_touch[row["dst"]] = row["id"]
        for row in rows:
            src = self.abspath(row["src"])
            if row["op"] == "link":
                target = self.abspath(row["dst"])
                if row["dst"] not in moved_on and not target.exists() and src.is_file():
                    self.make_parents(target)
                    self.link(src, target)
                    self.sync_dir(target.parent)
                    log.info("recovered an old version: %s", row["dst"])
                continue
            if row["dst"] is not None:
                if src.exists():
                    final = self.abspath(row["dst"])
                    self.make_parents(final)
                    self.rename_into_place(src, final)
                    log.info("recovered a committed write: %s", row["dst"])
                continue
            if last_touch[row["src"]] != row["id"]:
                continue
            # The path may be a folder of later keys by now (key `a` deleted, then `a/b` written).
            if not src.is_dir() and not self._still_used(row["bucket"], row["key"], row["src"]):
                stop = self.bucket_dir(row["bucket"]) if row["bucket"] else None
                self.remove_file(src, stop)
        with self.db.transaction() as db:
            db.execute("DELETE FROM pending_files")
        for leftover in (self.home / TMP_DIR).iterdir():
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                self.discard(leftover)
        live = {r["upload_id"] for r in self.db.query("SELECT upload_id FROM uploads")}
        for directory in (self.home / MULTIPART_DIR).iterdir():
            if directory.name not in live:
                shutil.rmtree(directory, ignore_errors=True)
