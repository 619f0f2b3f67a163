"""The AWS SDK for JavaScript v3 (from npm, pinned by tests/js/package-lock.json) against a
real lakestack: S3, STS, Kinesis (PutRecords, GetRecords, SubscribeToShard), Athena, Glue
and Lambda, each over HTTP/1.1 and HTTP/2, plain and TLS, on the one port.

tests/js/scenario.mjs runs one service group's calls over one transport and prints JSON;
this module starts the server, runs it once per (service, transport) and checks the answers,
reading back with boto3 what the JS client wrote. TLS trusts lakestack's local CA
(<home>/tls/ca.pem) and nothing else; verification stays on.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from botocore.config import Config

import lakestack

JS = Path(__file__).resolve().parents[1] / "js"
ACCOUNT = "000000000000"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
HANDLER = '''
def handler(event, context):
    return {"echo": event, "function_name": context.function_name}
'''

# name → (scheme, the scenario's HTTP handler: h1 = NodeHttpHandler, h2 = NodeHttp2Handler)
TRANSPORTS = {
    "http1": ("http", "h1"),
    "http1-tls": ("https", "h1"),
    "h2c": ("http", "h2"),    # HTTP/2 with prior knowledge on plain TCP
    "h2-tls": ("https", "h2"),  # HTTP/2 negotiated by ALPN
}


@pytest.fixture(scope="session")
def node_modules():
    """tests/js/node_modules installed from the committed lock (`npm ci`) when missing or older
    than package-lock.json. Skips only when node itself is not installed."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    lock = JS / "package-lock.json"
    marker = JS / "node_modules" / ".package-lock.json"  # npm writes it last
    if not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime:
        npm = shutil.which("npm")
        assert npm is not None, "node is installed but npm is not"
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
    return node


@pytest.fixture(scope="module")
def stack():
    with lakestack.local() as running:
        running.stack.provider("kinesis").transition_seconds = 0.05
        yield running


@pytest.fixture(scope="module")
def boto(stack):
    config = Config(retries={"max_attempts": 0}, read_timeout=60)
    return lambda service: stack.client(service, config=config)


@pytest.fixture(scope="module")
def run_js(stack, node_modules, tmp_path_factory):
    """run_js(group, transport, **params) → the scenario's result; fails with the SDK's error."""
    key_id, secret = stack.stack.provider("iam").root_credentials()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NODE_"))}
    env.update(AWS_ACCESS_KEY_ID=key_id, AWS_SECRET_ACCESS_KEY=secret, AWS_REGION="us-east-1")

    def run(group: str, transport: str, **params) -> dict:
        scheme, handler = TRANSPORTS[transport]
        ca = stack.home / "tls" / "ca.pem"
        run_env = dict(env, LAKESTACK_ENDPOINT=f"{scheme}://127.0.0.1:{stack.settings.port}",
                       SCENARIO_PARAMS=json.dumps(params))
        if scheme == "https":
            assert ca.exists(), f"lakestack wrote no local CA at {ca}"
            run_env["LAKESTACK_CA"] = str(ca)
        done = subprocess.run([node_modules, "scenario.mjs", group, handler], cwd=JS, env=run_env,
                              capture_output=True, text=True, timeout=120)
        lines = done.stdout.strip().splitlines()
        assert lines, f"node printed nothing (exit {done.returncode}):\n{done.stderr}"
        output = json.loads(lines[-1])
        if "error" in output:
            error = {k: v for k, v in output["error"].items() if k != "stack"}
            pytest.fail(f"JS SDK {group} over {transport} failed: {json.dumps(error, indent=1)}\n"
                        f"{output['error'].get('stack')}\n{done.stderr}", pytrace=False)
        assert done.returncode == 0, done.stderr
        return output["result"]

    return run


@pytest.fixture(scope="module")
def athena_output(boto):
    boto("s3").create_bucket(Bucket="js-athena-results")
    return "s3://js-athena-results"


@pytest.fixture(scope="module")
def lambda_setup(boto, tmp_path_factory):
    """An execution role (made with boto3: IAM is not in the JS scenario) and a zip of the handler."""
    role = boto("iam").create_role(RoleName="js-fn-role", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("app.py", HANDLER)
    path = tmp_path_factory.mktemp("js-lambda") / "function.zip"
    path.write_bytes(buffer.getvalue())
    return role, path


transports = pytest.mark.parametrize("transport", list(TRANSPORTS))


@transports
def test_s3(run_js, boto, transport):
    bucket = f"js-{transport}"
    result = run_js("s3", transport, bucket=bucket)
    assert result["text"] == "hello from the JS SDK"
    assert result["content_type"] == "text/plain"
    assert result["metadata"] == {"origin": "js"}
    assert result["content_length"] == len("hello from the JS SDK")
    assert result["binary_equal"] is True
    assert result["listed"] == [{"key": "docs/binary.bin", "size": 200_000},
                                {"key": "docs/doomed.txt", "size": len("delete me")},
                                {"key": "docs/hello.txt", "size": len("hello from the JS SDK")}]
    assert result["key_count"] == 3
    assert result["after_delete"] == ["docs/binary.bin", "docs/hello.txt"]

    s3 = boto("s3")
    back = s3.get_object(Bucket=bucket, Key="docs/hello.txt")
    assert back["Body"].read() == b"hello from the JS SDK"
    assert back["ETag"] == result["put_etag"]
    assert back["Metadata"] == {"origin": "js"}
    assert s3.get_object(Bucket=bucket, Key="docs/binary.bin")["Body"].read() == bytes(
        (i * 7) % 256 for i in range(200_000))
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["docs/binary.bin", "docs/hello.txt"]


@transports
def test_sts(run_js, transport):
    result = run_js("sts", transport)
    assert result["account"] == ACCOUNT
    assert result["arn"] == f"arn:aws:iam::{ACCOUNT}:root"


@transports
def test_kinesis(run_js, boto, transport):
    stream = f"js-{transport}"
    result = run_js("kinesis", transport, stream=stream, consumer=f"js-reader-{transport}")
    assert result["failed"] == 0
    sent = ["first", "second", "third"]
    assert [r["data"] for r in result["get_records"]] == sent
    assert [r["sequence"] for r in result["get_records"]] == result["put_sequences"]
    # SubscribeToShard delivered the same records, as events of the event stream.
    assert [r["data"] for r in result["subscribed"]] == sent
    assert [r["sequence"] for r in result["subscribed"]] == result["put_sequences"]
    assert {r["key"] for r in result["subscribed"]} == {"p"}
    assert result["events"][0]["continuation"] is not None

    kinesis = boto("kinesis")
    iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=result["shard_id"],
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=iterator)["Records"]] == [s.encode() for s in sent]
    consumer = kinesis.describe_stream_consumer(ConsumerARN=result["consumer_arn"])["ConsumerDescription"]
    assert consumer["ConsumerStatus"] == "ACTIVE" and consumer["StreamARN"] == result["stream_arn"]


@transports
def test_athena(run_js, boto, athena_output, transport):
    output = f"{athena_output}/{transport}/"
    result = run_js("athena", transport, output=output)
    assert result["state"] == "SUCCEEDED", result["reason"]
    assert result["rows"] == [["_col0"], ["1"]]
    assert result["columns"] == [{"name": "_col0", "type": "integer"}]
    assert result["output_location"] == f"{output}{result['id']}.csv"

    execution = boto("athena").get_query_execution(QueryExecutionId=result["id"])["QueryExecution"]
    assert execution["Query"] == "SELECT 1" and execution["Status"]["State"] == "SUCCEEDED"
    csv = boto("s3").get_object(Bucket="js-athena-results", Key=f"{transport}/{result['id']}.csv")
    assert csv["Body"].read().decode().splitlines() == ['"_col0"', '"1"']


@transports
def test_glue(run_js, boto, transport):
    database = f"js_{transport.replace('-', '_')}"
    location = f"s3://js-lake/{transport}/events/"
    result = run_js("glue", transport, database=database, table="events", location=location)
    assert result["name"] == "events" and result["database"] == database
    assert result["table_type"] == "EXTERNAL_TABLE"
    assert result["create_time_is_date"] is True
    assert result["columns"] == [["id", "bigint"], ["name", "string"]]
    assert result["partition_keys"] == [["day", "string"]]
    assert result["location"] == location
    assert result["parameters"] == {"classification": "parquet"}

    glue = boto("glue")
    assert glue.get_database(Name=database)["Database"]["Description"] == "made by the JS SDK"
    table = glue.get_table(DatabaseName=database, Name="events")["Table"]
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == [("id", "bigint"),
                                                                                       ("name", "string")]
    assert table["StorageDescriptor"]["Columns"][1]["Comment"] == "who"


@transports
def test_lambda(run_js, boto, lambda_setup, transport):
    role, package = lambda_setup
    name = f"js-{transport}"
    result = run_js("lambda", transport, function_name=name, role=role, zip=str(package))
    assert result["function_arn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    assert result["status_code"] == 200
    assert result["function_error"] is None
    assert result["executed_version"] == "$LATEST"
    assert result["payload"] == {"echo": {"from": "js", "transport": TRANSPORTS[transport][1]},
                                 "function_name": name}

    invoked = boto("lambda").invoke(FunctionName=name, Payload=json.dumps({"from": "boto3"}))
    assert json.loads(invoked["Payload"].read()) == {"echo": {"from": "boto3"}, "function_name": name}
