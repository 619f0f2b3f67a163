"""Deployment packages and layer archives on disk.

Zips are kept by content under `<home>/lambda/code/<sha256>.zip` and unpacked once next to
them (`<sha256>/`), so versions and functions that share code share one copy. A function's
layers are extracted over one another, in order, into one directory per distinct list
(`<home>/lambda/opt/<hash>/`), which is what `/opt` is on AWS.

Unpacked files are made read-only, like /var/task on AWS. Unpacking goes to a temporary
directory renamed into place, so a crash never leaves a half-extracted tree behind.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import stat
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

from lakestack.aws.errors import AwsError
from lakestack.runtime.files import atomic_write, fsync_dir
from lakestack.services.awslambda import errors

# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
MAX_ZIPPED = 50 * 1024 * 1024  # direct upload
MAX_UNZIPPED = 262144000  # code and layers together
MAX_S3_ZIP = MAX_UNZIPPED  # a package read from S3 may be larger than a direct upload


@dataclass(frozen=True)
class Package:
    sha_hex: str
    size: int
    unzipped_size: int

    @property
    def sha256(self) -> str:
        """CodeSha256 as Lambda reports it: base64 of the SHA-256 digest."""
        return base64.b64encode(bytes.fromhex(self.sha_hex)).decode()


def inspect_zip(data: bytes) -> int:
    """The unzipped size of a valid zip; InvalidParameterValueException otherwise."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise errors.invalid_parameter("Could not unzip uploaded file. Please check your file, then try to upload "
                                       "again.") from None
    return sum(info.file_size for info in infos)


class CodeStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.code_dir = self.root / "code"
        self.opt_dir = self.root / "opt"
        for path in (self.code_dir, self.opt_dir, self.root / "tmp"):
            path.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._cleanup()

    def _cleanup(self) -> None:
        # Half-made extractions from before a crash.
        for parent in (self.code_dir, self.opt_dir):
            for entry in parent.iterdir():
                if entry.name.startswith(".tmp-"):
                    _remove_tree(entry)

    # -- zips ---------------------------------------------------------------------------

    def save(self, data: bytes, limit: int = MAX_ZIPPED) -> Package:
        if len(data) > limit:
            raise AwsError("RequestEntityTooLargeException", f"Zipped size must be smaller than {limit} bytes",
                           status=413, Type="User")
        unzipped = inspect_zip(data)
        if unzipped > MAX_UNZIPPED:
            raise errors.invalid_parameter(f"Unzipped size must be smaller than {MAX_UNZIPPED} bytes")
        sha_hex = hashlib.sha256(data).hexdigest()
        path = self.zip_path(sha_hex)
        if path.exists():
            os.utime(path)  # fresh again: collect_unused leaves recent packages alone
        else:
            atomic_write(path, data, mode=0o644)
        return Package(sha_hex, len(data), unzipped)

    def zip_path(self, sha_hex: str) -> Path:
        return self.code_dir / f"{sha_hex}.zip"

    def read_zip(self, sha_hex: str) -> bytes:
        return self.zip_path(sha_hex).read_bytes()

    def remove(self, sha_hex: str) -> None:
        self.zip_path(sha_hex).unlink(missing_ok=True)
        _remove_tree(self.code_dir / sha_hex)

    def collect_unused(self, used: set[str], grace_seconds: float = 300.0) -> None:
        """Remove packages nothing uses. Ones saved in the last few minutes stay: a
        CreateFunction or PublishLayerVersion may be about to record them."""
        cutoff = time.time() - grace_seconds
        for path in self.code_dir.glob("*.zip"):
            try:
                recent = path.stat().st_mtime > cutoff
            except FileNotFoundError:
                continue
            if path.stem not in used and not recent:
                self.remove(path.stem)

    # -- unpacked trees -----------------------------------------------------------------

    def unpacked(self, sha_hex: str) -> Path:
        """The directory holding the package's files, extracting it the first time."""
        target = self.code_dir / sha_hex
        if target.is_dir():
            return target
        with self._lock:
            if not target.is_dir():
                temp = self.code_dir / f".tmp-{uuid.uuid4().hex}"
                _extract(self.zip_path(sha_hex), temp)
                _seal(temp)
                os.rename(temp, target)
                fsync_dir(self.code_dir)
        return target

    def layers_root(self, layer_shas: list[str]) -> Path | None:
        """One directory with the layers extracted over one another, in order (the /opt of
        AWS); None without layers."""
        if not layer_shas:
            return None
        key = hashlib.sha256("/".join(layer_shas).encode()).hexdigest()[:32]
        target = self.opt_dir / key
        if target.is_dir():
            return target
        with self._lock:
            if not target.is_dir():
                temp = self.opt_dir / f".tmp-{uuid.uuid4().hex}"
                temp.mkdir()
                for sha in layer_shas:
                    _extract(self.zip_path(sha), temp)
                _seal(temp)
                os.rename(temp, target)
                fsync_dir(self.opt_dir)
        return target

    def remove_layers_roots(self) -> None:
        """Drop merged layer directories (rebuilt on demand)."""
        for entry in self.opt_dir.iterdir():
            _remove_tree(entry)


def _extract(zip_path: Path, target: Path) -> None:
    """Extract safely: no entry may land outside `target` (absolute paths or `..`);
    executable bits and relative symlinks that stay inside are kept."""
    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            name = info.filename.replace("\\", "/")
            parts = [p for p in name.split("/") if p not in ("", ".")]
            if not parts or ".." in parts:
                continue
            dest = root.joinpath(*parts)
            mode = info.external_attr >> 16
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            if stat.S_ISLNK(mode):
                link = archive.read(info).decode("utf-8", "replace")
                resolved = (dest.parent / link).resolve()
                if not os.path.isabs(link) and str(resolved).startswith(str(root)):
                    if dest.is_symlink() or dest.exists():
                        dest.unlink()
                    os.symlink(link, dest)
                continue
            if dest.is_symlink():
                dest.unlink()
            with archive.open(info) as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
            if mode & 0o111:
                os.chmod(dest, 0o755)


def _seal(tree: Path) -> None:
    """Read-only, like /var/task and /opt on AWS."""
    for dirpath, _dirnames, filenames in os.walk(tree):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                mode = os.stat(path).st_mode
                os.chmod(path, 0o555 if mode & 0o111 else 0o444)
        os.chmod(dirpath, 0o555)


def _remove_tree(path: Path) -> None:
    if not path.exists():
        return
    for dirpath, _dirnames, _filenames in os.walk(path):
        try:
            os.chmod(dirpath, 0o755)
        except OSError:
            pass
    shutil.rmtree(path, ignore_errors=True)
