"""The committed locks (requirements/*.lock) install what pyproject.toml asks for.

`make install` installs exactly a lock, so a dependency added to or narrowed in
pyproject.toml without `make lock` would silently not be installed, or be installed at a
version the package does not accept. This catches that."""

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", re.MULTILINE)


def pins(lock: str) -> dict[str, str]:
    text = (ROOT / "requirements" / lock).read_text()
    return {canonicalize_name(name): version for name, version in PIN.findall(text)}


def wanted(*extras: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = [Requirement(r) for r in project["dependencies"]]
    for extra in extras:
        found += [Requirement(r) for r in project["optional-dependencies"][extra]]
    tools = (ROOT / "requirements" / "tools.in").read_text().splitlines()
    found += [Requirement(line) for line in tools if line.strip() and not line.startswith("#")]
    return found


@pytest.mark.parametrize("lock,extras", [("dev.lock", ("dev",)), ("bench.lock", ("dev", "bench"))])
def test_lock_satisfies_pyproject(lock, extras):
    locked = pins(lock)
    problems = []
    for requirement in wanted(*extras):
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        version = locked.get(canonicalize_name(requirement.name))
        if version is None:
            problems.append(f"{requirement.name} is not in requirements/{lock}")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{requirement.name}=={version} in requirements/{lock} does not satisfy {requirement}")
    assert not problems, "pyproject.toml and the lock disagree; run `make lock`:\n" + "\n".join(problems)


def test_every_lock_entry_has_hashes():
    for lock in ("dev.lock", "bench.lock"):
        text = (ROOT / "requirements" / lock).read_text()
        entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
        for entry in entries:
            if "==" in entry:
                assert "--hash=sha256:" in entry, f"{lock}: {entry.splitlines()[0]} has no hash"
