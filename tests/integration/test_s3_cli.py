"""The AWS CLI's high-level S3 commands (cp, sync, ls, rm) against a real server."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import aws_cli_env

import lakestack

AWS = Path(sys.executable).parent / "aws"
BUCKET = "cli-bucket"
MIB = 1024 * 1024

pytestmark = pytest.mark.skipif(not AWS.exists(), reason="the AWS CLI is not installed in this environment")


@pytest.fixture(scope="module")
def stack():
    with lakestack.local() as running:
        running.client("s3").create_bucket(Bucket=BUCKET)
        yield running


@pytest.fixture(scope="module")
def aws(stack, tmp_path_factory):
    config = tmp_path_factory.mktemp("aws-config")
    env = aws_cli_env(stack, config)

    def run(*args: str, expect: int = 0) -> str:
        done = subprocess.run([str(AWS), *args], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == expect, f"aws {' '.join(args)} answered {done.returncode}: {done.stderr}"
        return done.stdout

    return run


def test_cp_up_and_down(aws, stack, tmp_path):
    small = tmp_path / "small file.txt"
    small.write_text("hello from the cli\n")
    aws("s3", "cp", str(small), f"s3://{BUCKET}/cp/small file.txt")
    assert (stack.home / "s3" / BUCKET / "cp" / "small file.txt").read_text() == "hello from the cli\n"
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(20 * MIB))  # above the CLI's 8 MiB multipart threshold
    aws("s3", "cp", str(big), f"s3://{BUCKET}/cp/big.bin")
    back = tmp_path / "back.bin"
    aws("s3", "cp", f"s3://{BUCKET}/cp/big.bin", str(back))
    assert back.read_bytes() == big.read_bytes()
    aws("s3", "cp", f"s3://{BUCKET}/cp/big.bin", f"s3://{BUCKET}/cp/big-copy.bin")  # server-side copy
    assert (stack.home / "s3" / BUCKET / "cp" / "big-copy.bin").read_bytes() == big.read_bytes()


def test_sync_and_ls(aws, tmp_path):
    source = tmp_path / "tree"
    for rel in ("a.csv", "nested/b.csv", "nested/deeper/c.csv", "ünï/d.csv"):
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_text(rel)
    out = aws("s3", "sync", str(source), f"s3://{BUCKET}/synced/")
    assert out.count("upload:") == 4
    assert aws("s3", "sync", str(source), f"s3://{BUCKET}/synced/").strip() == ""  # nothing changed
    listing = aws("s3", "ls", f"s3://{BUCKET}/synced/")
    assert "PRE nested/" in listing and "a.csv" in listing and "PRE ünï/" in listing
    recursive = aws("s3", "ls", "--recursive", f"s3://{BUCKET}/synced/")
    assert sorted(line.split()[-1] for line in recursive.splitlines()) == sorted(
        f"synced/{rel}" for rel in ("a.csv", "nested/b.csv", "nested/deeper/c.csv", "ünï/d.csv"))
    target = tmp_path / "down"
    aws("s3", "sync", f"s3://{BUCKET}/synced/", str(target))
    assert (target / "nested" / "deeper" / "c.csv").read_text() == "nested/deeper/c.csv"
    assert BUCKET in aws("s3", "ls")


def test_rm_recursive(aws, stack, tmp_path):
    for i in range(3):
        (tmp_path / f"f{i}").write_text(str(i))
    aws("s3", "sync", str(tmp_path), f"s3://{BUCKET}/removable/")
    aws("s3", "rm", "--recursive", f"s3://{BUCKET}/removable/")
    # `aws s3 ls` of an empty prefix prints nothing and exits 1.
    assert aws("s3", "ls", f"s3://{BUCKET}/removable/", expect=1).strip() == ""
    assert not (stack.home / "s3" / BUCKET / "removable").exists()
