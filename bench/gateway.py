"""The request path's own cost: server-process CPU per request, lakestack vs moto vs MiniStack.

    .venv/bin/python bench/gateway.py [--requests N] [--rounds R] [--warmup W] [--skip moto,ministack]
                                      [--ops sts,getobject,...]

For each server, one boto3 client per service (one thread, requests one after another)
calls STS GetCallerIdentity, S3 GetObject of a 4 KiB object, S3 PutObject of 4 KiB (a new
key each time), Kinesis PutRecord (1 KiB, random partition key, a 4-shard stream) and Glue
GetTable. Each operation is warmed up (W requests), then measured R times over N requests;
the figure is the best round's CPU time of the server process (user + system, psutil, the
server's children included) divided by N, printed with its user/system split. Client
throughput is not the measure: boto3 spends more CPU per call than the servers do, on the
same two cores. The ratio is lakestack's CPU per request over the better peer's; the issue's
targets are at most 0.5x for reads and STS, 0.7x for writes. Defaults (3 x 2,000 requests per
operation per server) take about four minutes.

Every server verifies signatures with an IAM user's access key (not root, which some servers
wave through): lakestack and MiniStack (run with AUTH=true) get a user with an allow-all
inline policy created through their root key first. moto does not check signatures or
policies by default and gets any key. lakestack fsyncs each PutObject and PutRecord before
answering; moto and MiniStack keep state in memory.

MiniStack pins a botocore release our lock does not allow, so it runs from its own venv,
`.venv-ministack`, created here on first use from requirements/ministack.lock (hashed).
The three servers run side by side, each as a subprocess (idle, each uses no CPU), and each
operation's rounds go to them in turn, so that a change in the machine's load (other jobs
share its two cores) meets every server alike.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parent))
from common import free_port, lakestack_server, moto_server, table, wait_http  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MINISTACK_VENV = ROOT / ".venv-ministack"
MINISTACK_LOCK = ROOT / "requirements" / "ministack.lock"

OPERATIONS = [  # (label, read or write)
    ("STS GetCallerIdentity", "read"),
    ("S3 GetObject 4 KiB", "read"),
    ("S3 PutObject 4 KiB", "write"),
    ("Kinesis PutRecord 1 KiB", "write"),
    ("Glue GetTable", "read"),
]
TARGET = {"read": 0.5, "write": 0.7}  # lakestack ÷ the better peer, at most (issue 10)
ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


def boto3_client(service: str, endpoint: str, key: str, secret: str):
    import boto3
    from botocore.config import Config

    # No retries: a throttled or failed call must fail the bench, not double its requests.
    return boto3.session.Session().client(
        service, endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
        region_name="us-east-1", config=Config(retries={"total_max_attempts": 1}))


def iam_user_key(endpoint: str, admin_key: str, admin_secret: str) -> tuple[str, str]:
    """An IAM user with an allow-all inline policy, created with the root key; its key."""
    iam = boto3_client("iam", endpoint, admin_key, admin_secret)
    name = "bench-gateway"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="allow-all", PolicyDocument=ALLOW_ALL)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    key_id, secret = key["AccessKeyId"], key["SecretAccessKey"]
    # The key must work (and be a user's) before anything is measured; new keys can take a moment.
    sts = boto3_client("sts", endpoint, key_id, secret)
    for _ in range(50):
        with contextlib.suppress(Exception):
            arn = sts.get_caller_identity()["Arn"]
            assert ":user/" in arn, arn
            return key_id, secret
        time.sleep(0.1)
    raise RuntimeError(f"the IAM user's key does not work at {endpoint}")


def operations(endpoint: str, key: str, secret: str) -> dict:
    """Create what the operations need; {label: one(i)}."""
    sts = boto3_client("sts", endpoint, key, secret)
    s3 = boto3_client("s3", endpoint, key, secret)
    kinesis = boto3_client("kinesis", endpoint, key, secret)
    glue = boto3_client("glue", endpoint, key, secret)

    bucket = "bench-gateway"
    s3.create_bucket(Bucket=bucket)
    payload = os.urandom(4096)
    s3.put_object(Bucket=bucket, Key="read/object", Body=payload)
    kinesis.create_stream(StreamName="bench-gateway", ShardCount=4)
    deadline = time.monotonic() + 30
    while kinesis.describe_stream_summary(StreamName="bench-gateway")["StreamDescriptionSummary"][
            "StreamStatus"] != "ACTIVE":
        if time.monotonic() > deadline:
            raise RuntimeError("stream did not become ACTIVE")
        time.sleep(0.05)
    glue.create_database(DatabaseInput={"Name": "bench_gateway"})
    columns = [{"Name": f"c{i}", "Type": t} for i, t in enumerate(["string", "bigint", "double", "timestamp"] * 3)]
    glue.create_table(DatabaseName="bench_gateway", TableInput={
        "Name": "events", "TableType": "EXTERNAL_TABLE", "Parameters": {"classification": "parquet"},
        "PartitionKeys": [{"Name": "dt", "Type": "string"}],
        "StorageDescriptor": {
            "Columns": columns, "Location": f"s3://{bucket}/events/",
            "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            "SerdeInfo": {"SerializationLibrary":
                          "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"}}})
    record = os.urandom(1024)
    partition_keys = [uuid.uuid4().hex for _ in range(1024)]
    put_counter = iter(range(10**9))

    def get_caller_identity(i: int) -> None:
        sts.get_caller_identity()

    def get_object(i: int) -> None:
        assert s3.get_object(Bucket=bucket, Key="read/object")["Body"].read() == payload

    def put_object(i: int) -> None:
        s3.put_object(Bucket=bucket, Key=f"write/{next(put_counter):07d}", Body=payload)

    def put_record(i: int) -> None:
        kinesis.put_record(StreamName="bench-gateway", Data=record, PartitionKey=partition_keys[i % 1024])

    def get_table(i: int) -> None:
        glue.get_table(DatabaseName="bench_gateway", Name="events")

    return dict(zip([label for label, _ in OPERATIONS],
                    [get_caller_identity, get_object, put_object, put_record, get_table], strict=True))


def cpu_seconds(process: psutil.Process) -> tuple[float, float]:
    """(user, system) CPU seconds of the process and its children."""
    user = system = 0.0
    for p in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = p.cpu_times()
            user, system = user + times.user, system + times.system
    return user, system


class Server:
    """One server under test: its process and its operations."""

    def __init__(self, label: str, endpoint: str, key: str, secret: str, pid: int, args):
        self.label = label
        self.process = psutil.Process(pid)
        self.ops = operations(endpoint, key, secret)
        self.rounds: dict[str, list[tuple]] = {name: [] for name in self.ops}
        self.args = args

    def idle(self, seconds: float = 2.0) -> float:
        """Fraction of a core the server uses doing nothing."""
        before = sum(cpu_seconds(self.process))
        time.sleep(seconds)
        return (sum(cpu_seconds(self.process)) - before) / seconds

    def warm_up(self, name: str) -> None:
        for i in range(self.args.warmup):
            self.ops[name](i)

    def round(self, name: str) -> None:
        """N requests: (CPU ms per request, user ms, system ms, requests/s) appended to `rounds`."""
        one, n = self.ops[name], self.args.requests
        (user0, system0), start = cpu_seconds(self.process), time.perf_counter()
        for i in range(n):
            one(i)
        elapsed = time.perf_counter() - start
        user, system = ((after - before) * 1000 / n
                        for after, before in zip(cpu_seconds(self.process), (user0, system0), strict=True))
        self.rounds[name].append((user + system, user, system, n / elapsed))

    def best(self, name: str) -> tuple:
        return min(self.rounds[name])


def measure(servers: list[Server], args) -> None:
    """Each operation: every server warmed up, then rounds taken in turn (the order rotating),
    so that all servers meet the same machine load; the best round counts."""
    for server in servers:
        print(f"  {server.label:<10} idle CPU {server.idle() * 100:.1f}% of a core", flush=True)
    for name, _ in OPERATIONS:
        if args.ops and not any(w.strip().lower() in name.lower().replace(" ", "") for w in args.ops.split(",")):
            continue
        for server in servers:
            server.warm_up(name)
        for r in range(args.rounds):
            for server in servers[r % len(servers):] + servers[:r % len(servers)]:
                server.round(name)
        for server in servers:
            best = server.best(name)
            spread = " ".join(f"{x[0]:.3f}" for x in server.rounds[name])
            print(f"  {server.label:<10} {name:<24} {best[0]:.3f} ms CPU/request (user {best[1]:.3f}, system "
                  f"{best[2]:.3f}; rounds {spread}), {best[3]:,.0f} req/s", flush=True)


# --- MiniStack ---------------------------------------------------------------------------


def ministack_venv() -> Path:
    """`.venv-ministack`, installed exactly from the hashed lock (re-made when the lock changes)."""
    digest = hashlib.sha256(MINISTACK_LOCK.read_bytes()).hexdigest()
    stamp = MINISTACK_VENV / ".installed"
    if stamp.exists() and stamp.read_text() == digest:
        return MINISTACK_VENV
    print(f"creating {MINISTACK_VENV.name} from {MINISTACK_LOCK.relative_to(ROOT)} ...", flush=True)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--clear", str(MINISTACK_VENV)], check=True)
    subprocess.run([str(MINISTACK_VENV / "bin" / "python"), "-m", "pip", "install", "-q",
                    "--disable-pip-version-check", "--require-hashes", "--no-deps", "-r", str(MINISTACK_LOCK)],
                   check=True)
    stamp.write_text(digest)
    return MINISTACK_VENV


@contextlib.contextmanager
def ministack_server():
    """MiniStack with AUTH=true (SigV4 verified and IAM enforced for non-root keys). Its root
    key is whatever AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY say in its environment.
    Yields (endpoint, root key id, root secret, pid)."""
    venv = ministack_venv()
    port = free_port()
    root_key, root_secret = "AKIAMINISTACKROOT001", "ministack-root-secret-ministack-root-sec"
    env = dict(os.environ, AUTH="true", GATEWAY_PORT=str(port), BIND_HOST="127.0.0.1", LOG_LEVEL="WARNING",
               AWS_ACCESS_KEY_ID=root_key, AWS_SECRET_ACCESS_KEY=root_secret)
    env.pop("AWS_SESSION_TOKEN", None)
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="ministack-bench-"))
        env["TMPDIR"] = tmp  # its pid file and any scratch go here
        proc = subprocess.Popen([str(venv / "bin" / "ministack")], env=env, cwd=tmp,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            endpoint = f"http://127.0.0.1:{port}"
            wait_http(endpoint + "/_ministack/health")
            yield endpoint, root_key, root_secret, proc.pid
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def ministack_version(venv: Path) -> str:
    out = subprocess.run([str(venv / "bin" / "python"), "-c",
                          "import importlib.metadata as m; print(m.version('ministack'))"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="requests per round (default 2000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per operation, best counts (default 3)")
    parser.add_argument("--warmup", type=int, default=200, help="warm-up requests per operation (default 200)")
    parser.add_argument("--skip", default="", help="comma-separated servers to leave out: moto, ministack")
    parser.add_argument("--ops", default="", help="comma-separated words: only the operations naming one (sts,get,...)")
    args = parser.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    load = os.getloadavg()
    print(f"{args.rounds} × {args.requests} requests per operation after {args.warmup} warm-up, one boto3 client; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    servers: list[Server] = []
    with contextlib.ExitStack() as running:
        endpoint, root_key, root_secret, _home, pid = running.enter_context(lakestack_server())
        servers.append(Server("lakestack", endpoint, *iam_user_key(endpoint, root_key, root_secret), pid, args))
        if "moto" not in skip:
            endpoint, key, secret, pid = running.enter_context(moto_server())
            servers.append(Server("moto", endpoint, key, secret, pid, args))
        if "ministack" not in skip:
            endpoint, root_key, root_secret, pid = running.enter_context(ministack_server())
            servers.append(Server("ministack", endpoint, *iam_user_key(endpoint, root_key, root_secret), pid, args))
        measure(servers, args)
    results = {server.label: {name: server.best(name) for name in server.ops if server.rounds[name]}
               for server in servers}

    peers = [name for name in results if name != "lakestack"]
    headers = ["server CPU ms/request", *results, "lakestack ÷ better peer", "target"]
    rows = []
    for name, kind in OPERATIONS:
        if name not in results["lakestack"]:
            continue
        row = [name, *(f"{results[server][name][0]:.3f}" for server in results)]
        if peers:
            better = min(results[p][name][0] for p in peers)
            ratio = results["lakestack"][name][0] / better
            mark = "ok" if ratio <= TARGET[kind] else "MISSED"
            row += [f"{ratio:.2f}x", f"<= {TARGET[kind]}x {mark}"]
        else:
            row += ["-", "-"]
        rows.append(row)
    print()
    print(table(rows, headers))
    load = os.getloadavg()
    versions = [f"moto {importlib.metadata.version('moto')}"] if "moto" in results else []
    if "ministack" in results:
        versions.append(f"ministack {ministack_version(MINISTACK_VENV)}")
    print(f"\n{', '.join(versions)}; load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
