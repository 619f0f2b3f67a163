"""The `lakestack` command as a user runs it: up, status, env, reset, --help."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3

BIN = Path(sys.executable).parent / "lakestack"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=60, **kwargs)


def test_help_lists_commands():
    out = run("--help").stdout
    for command in ("up", "status", "env", "reset", "demo"):
        assert command in out


def test_up_status_env_and_clean_shutdown(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKESTACK_")}
    proc = subprocess.Popen([str(BIN), "up", "--port", str(port), "--home", str(tmp_path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while run("status", "--port", str(port)).returncode != 0:
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)
        status = run("status", "--port", str(port))
        assert "running" in status.stdout and "s3" in status.stdout

        exports = run("env", "--home", str(tmp_path)).stdout
        values = dict(line.removeprefix("export ").split("=", 1) for line in exports.splitlines())
        assert values["AWS_DEFAULT_REGION"] == "us-east-1"
        assert (tmp_path / "credentials").stat().st_mode & 0o077 == 0  # secret file not group/world readable
        sts = boto3.client("sts", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                           aws_access_key_id=values["AWS_ACCESS_KEY_ID"],
                           aws_secret_access_key=values["AWS_SECRET_ACCESS_KEY"])
        assert sts.get_caller_identity()["Account"] == "000000000000"
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert f"http://127.0.0.1:{port}" in output
    # The secret key is never printed by `up`.
    assert values["AWS_SECRET_ACCESS_KEY"] not in output
    assert run("status", "--port", str(port)).returncode == 1


def test_reset_deletes_the_data_dir(tmp_path):
    home = tmp_path / "home"
    (home / "state").mkdir(parents=True)
    assert run("reset", "--home", str(home), input="n\n").returncode != 0
    assert home.exists()
    result = run("reset", "--home", str(home), "--yes")
    assert result.returncode == 0
    assert not home.exists()


def test_env_without_a_server_explains(tmp_path):
    result = run("env", "--home", str(tmp_path))
    assert result.returncode != 0
    assert "lakestack up" in result.stderr
