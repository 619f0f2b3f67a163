"""The `lakestack` command as a user runs it: up, status, env, reset, --help, and the first
five minutes (the right port in `env`, an AWS profile that reaches the server, one server per
data directory, a taken port in one line)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

import lakestack
from lakestack.runtime.instance import AlreadyRunning

BIN = Path(sys.executable).parent / "lakestack"
AWS = Path(sys.executable).parent / "aws"


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


def clean_env() -> dict[str, str]:
    """The environment of a user who has not configured anything yet."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("LAKESTACK_", "AWS_"))}


def exports_of(home: Path) -> dict[str, str]:
    out = run("env", "--home", str(home), env=clean_env()).stdout
    return dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines())


def start_up(*args: str) -> subprocess.Popen:
    return subprocess.Popen([str(BIN), "up", *args], env=clean_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def wait_running(proc: subprocess.Popen, *status_args: str) -> None:
    deadline = time.monotonic() + 60
    while run("status", *status_args, env=clean_env()).returncode != 0:
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, "server did not come up"
        time.sleep(0.2)


def stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    return output


def test_up_status_env_and_clean_shutdown(tmp_path):
    port = free_port()
    proc = start_up("--port", str(port), "--home", str(tmp_path))
    try:
        wait_running(proc, "--port", str(port))
        status = run("status", "--port", str(port))
        assert "running" in status.stdout and "s3" in status.stdout
        # Without --port, status finds the server running on --home.
        status = run("status", "--home", str(tmp_path), env=clean_env())
        assert status.returncode == 0 and f"127.0.0.1:{port}" in status.stdout

        values = exports_of(tmp_path)
        assert values["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{port}"  # the running server's port
        assert values["AWS_DEFAULT_REGION"] == "us-east-1"
        assert values["AWS_CA_BUNDLE"] == str(tmp_path / "tls" / "ca.pem")
        assert (tmp_path / "credentials").stat().st_mode & 0o077 == 0  # secret file not group/world readable
        sts = boto3.client("sts", endpoint_url=values["AWS_ENDPOINT_URL"], region_name="us-east-1",
                           aws_access_key_id=values["AWS_ACCESS_KEY_ID"],
                           aws_secret_access_key=values["AWS_SECRET_ACCESS_KEY"])
        assert sts.get_caller_identity()["Account"] == "000000000000"

        # A second server on the same data directory refuses at once, naming the first.
        second = run("up", "--port", str(free_port()), "--home", str(tmp_path), env=clean_env())
        assert second.returncode != 0
        assert f"pid {proc.pid}" in second.stderr and f"http://127.0.0.1:{port}" in second.stderr
        assert "Traceback" not in second.stderr + second.stdout
        # A port already in use: one clear line, no traceback.
        taken = run("up", "--port", str(port), "--home", str(tmp_path / "other"), env=clean_env())
        assert taken.returncode != 0
        assert f"port {port}" in taken.stderr and "in use" in taken.stderr
        assert "Traceback" not in taken.stderr + taken.stdout and len(taken.stderr.strip().splitlines()) == 1
    finally:
        output = stop(proc)
    assert f"http://127.0.0.1:{port}" in output
    # The secret key is never printed by `up`.
    assert values["AWS_SECRET_ACCESS_KEY"] not in output
    assert run("status", "--port", str(port)).returncode == 1
    assert not (tmp_path / "server.json").exists()


@pytest.mark.skipif(not AWS.exists(), reason="the AWS CLI is not installed in this environment")
def test_port_zero_and_the_hints_up_prints(tmp_path):
    """`up --port 0` picks a free port and says which; both hints it prints work as a user
    pastes them: the `lakestack` profile (AWS_CONFIG_FILE…) and `eval "$(lakestack env)"`,
    which also trusts https:// on the same port."""
    proc = start_up("--port", "0", "--home", str(tmp_path))
    try:
        banner = []
        while not banner or not banner[-1].lstrip().startswith("or"):
            line = proc.stdout.readline()
            assert line, "".join(banner) + proc.stdout.read()
            banner.append(line)
        endpoint = next(line.split()[1] for line in banner if line.lstrip().startswith("endpoint"))
        port = int(endpoint.rsplit(":", 1)[1])
        assert port != 0
        wait_running(proc, "--home", str(tmp_path))
        assert json.loads((tmp_path / "server.json").read_text())["port"] == port
        profile_hint = banner[-1].split("or", 1)[1].split()
        assignments = dict(word.split("=", 1) for word in profile_hint if "=" in word)
        assert set(assignments) == {"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE"}
        config = (tmp_path / "config").read_text()
        assert "[profile lakestack]" in config and f"endpoint_url = http://127.0.0.1:{port}" in config

        # The profile alone (no keys or endpoint in the environment) reaches this server.
        done = subprocess.run([str(AWS), "sts", "get-caller-identity"], env=dict(clean_env(), **assignments),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["Account"] == "000000000000"

        # eval "$(lakestack env)", then https:// on the same port, trusted through AWS_CA_BUNDLE.
        script = (f'eval "$({BIN} env --home {tmp_path})" && '
                  f'{AWS} --endpoint-url "${{AWS_ENDPOINT_URL/http:/https:}}" s3 mb s3://hinted && '
                  f'{AWS} --endpoint-url "https://localhost:{port}" s3 ls')
        done = subprocess.run(["bash", "-c", script], env=clean_env(), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "hinted" in done.stdout
    finally:
        stop(proc)


def test_local_with_a_home_holds_it(tmp_path):
    """lakestack.local(home=…) takes the same lock as `lakestack up`."""
    with lakestack.local(home=tmp_path) as running:
        refused = run("up", "--port", "0", "--home", str(tmp_path), env=clean_env())
        assert refused.returncode != 0
        assert f"pid {os.getpid()}" in refused.stderr and running.endpoint_url in refused.stderr
        with pytest.raises(AlreadyRunning):
            lakestack.local(home=tmp_path).start()
        exports = exports_of(tmp_path)
        assert exports["AWS_ENDPOINT_URL"] == running.endpoint_url
    # Released: the home can be served again.
    with lakestack.local(home=tmp_path) as again:
        assert again.client("sts").get_caller_identity()["Account"] == "000000000000"


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
