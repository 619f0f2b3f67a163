"""One port, every transport: HTTP/1.1 and HTTP/2, plain and TLS, against a real lakestack,
with real clients (boto3, the AWS CLI, httpx), trusting only the home's local CA."""

import base64
import hashlib
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import ClientError, SSLError
from helpers import wait_active

from lakestack.inprocess import LocalStack
from lakestack.runtime import tls

AWS = Path(sys.executable).parent / "aws"
MIB = 1 << 20


@pytest.fixture(scope="module")
def stack():
    with LocalStack(kinesis_enforce_limits=False) as running:
        running.stack.provider("kinesis").transition_seconds = 0.05
        yield running


@pytest.fixture
def only_ca_bundle(stack, monkeypatch):
    """The environment a user has after `lakestack env`: AWS_CA_BUNDLE, nothing else TLS-wise."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CA_BUNDLE", stack.ca_bundle)


def client(stack, service, endpoint, **config):
    return boto3.session.Session().client(service, endpoint_url=endpoint, region_name="us-east-1",
                                          config=Config(retries={"max_attempts": 0}, **config), **stack.credentials)


def signed(stack, method, url, body=b"", service="sts", headers=None):
    """A SigV4-signed request (what an SDK sends) as (url, body, headers) for httpx."""
    credentials = Credentials(stack.credentials["aws_access_key_id"], stack.credentials["aws_secret_access_key"])
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    (S3SigV4Auth if service == "s3" else SigV4Auth)(credentials, service, "us-east-1").add_auth(request)
    return request.url, request.body, dict(request.headers)


def get_caller_identity(stack, http: httpx.Client, endpoint: str) -> httpx.Response:
    url, body, headers = signed(stack, "POST", endpoint + "/", b"Action=GetCallerIdentity&Version=2011-06-15",
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
    return http.post(url, content=body, headers=headers)


# --- TLS ---------------------------------------------------------------------------------------


def test_boto3_over_https_with_only_the_ca_bundle(stack, only_ca_bundle):
    endpoint = stack.https_endpoint_url
    assert client(stack, "sts", endpoint).get_caller_identity()["Account"] == "000000000000"
    s3 = client(stack, "s3", endpoint)
    s3.create_bucket(Bucket="over-tls")
    # Over HTTPS boto3 streams the body unsigned with a trailing checksum (aws-chunked).
    data = os.urandom(5 * MIB + 123)
    s3.put_object(Bucket="over-tls", Key="big.bin", Body=data)
    assert s3.get_object(Bucket="over-tls", Key="big.bin")["Body"].read() == data
    # By name too: the certificate names localhost.
    named = client(stack, "s3", endpoint.replace("127.0.0.1", "localhost"))
    assert named.head_object(Bucket="over-tls", Key="big.bin")["ContentLength"] == len(data)


def test_plain_http_still_works_on_the_same_port(stack):
    assert stack.endpoint_url.replace("http://", "https://") == stack.https_endpoint_url
    s3 = client(stack, "s3", stack.endpoint_url)
    s3.create_bucket(Bucket="over-plain")
    s3.put_object(Bucket="over-plain", Key="k", Body=b"plain")
    assert s3.get_object(Bucket="over-plain", Key="k")["Body"].read() == b"plain"


@pytest.mark.skipif(not AWS.exists(), reason="the AWS CLI is not installed in this environment")
def test_aws_cli_over_https_with_only_the_ca_bundle(stack, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=stack.credentials["aws_access_key_id"],
               AWS_SECRET_ACCESS_KEY=stack.credentials["aws_secret_access_key"], AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))

    def aws(*args, ca_bundle=stack.ca_bundle):
        run_env = dict(env, AWS_CA_BUNDLE=ca_bundle) if ca_bundle else env
        return subprocess.run([str(AWS), "--endpoint-url", stack.https_endpoint_url, *args], env=run_env,
                              capture_output=True, text=True, timeout=120)

    done = aws("sts", "get-caller-identity")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Account"] == "000000000000"
    source = tmp_path / "hello.txt"
    source.write_text("hello over TLS\n")
    assert aws("s3", "mb", "s3://cli-over-tls").returncode == 0
    assert aws("s3", "cp", str(source), "s3://cli-over-tls/hello.txt").returncode == 0
    done = aws("s3", "cp", "s3://cli-over-tls/hello.txt", "-")
    assert done.returncode == 0 and done.stdout == "hello over TLS\n", done.stderr
    # Without the CA, the CLI refuses the certificate.
    refused = aws("sts", "get-caller-identity", ca_bundle=None)
    assert refused.returncode != 0
    assert "SSL" in refused.stderr or "certificate" in refused.stderr


def test_a_client_that_does_not_trust_the_ca_is_refused(stack, tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    # The system's trust store does not know the local CA...
    with pytest.raises(SSLError):
        client(stack, "sts", stack.https_endpoint_url).get_caller_identity()
    # ...and another CA (another home's) does not vouch for this endpoint.
    stranger = tls.certificate_authority(tmp_path / "elsewhere")
    monkeypatch.setenv("AWS_CA_BUNDLE", str(stranger.cert_path))
    with pytest.raises(SSLError):
        client(stack, "sts", stack.https_endpoint_url).get_caller_identity()


def test_the_certificate_names_loopback_and_localhost_subdomains(stack):
    context = ssl.create_default_context(cafile=stack.ca_bundle)
    port = stack.settings.port

    def handshake(name: str) -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname=name):
                pass

    for name in ("localhost", "127.0.0.1", "s3.localhost", "my-bucket.s3.localhost"):
        handshake(name)
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake("example.com")
    with open(stack.ca_bundle, "rb") as ca:
        assert b"BEGIN CERTIFICATE" in ca.read()
    assert (Path(stack.home) / "tls" / "ca-key.pem").stat().st_mode & 0o077 == 0


def test_bring_your_own_certificate(tmp_path):
    own = tls.certificate_authority(tmp_path / "own-ca")
    cert, key = own.issue(["localhost", "127.0.0.1"])
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    with LocalStack(tls_cert=tmp_path / "cert.pem", tls_key=tmp_path / "key.pem") as running:
        assert running.ca_bundle is None  # nothing of the home's CA is used
        sts = boto3.session.Session().client("sts", endpoint_url=running.https_endpoint_url, region_name="us-east-1",
                                             verify=str(own.cert_path), **running.credentials)
        assert sts.get_caller_identity()["Account"] == "000000000000"
        assert not (running.home / "tls" / "ca.pem").exists()


def test_secure_transport_condition_is_true_over_tls(stack, only_ca_bundle):
    iam = client(stack, "iam", stack.endpoint_url)
    iam.create_user(UserName="tls-only")
    iam.put_user_policy(UserName="tls-only", PolicyName="tls-only", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
            {"Effect": "Deny", "Action": "*", "Resource": "*",
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        ]}))
    key = iam.create_access_key(UserName="tls-only")["AccessKey"]
    as_user = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}

    def s3(endpoint):
        return boto3.session.Session().client("s3", endpoint_url=endpoint, region_name="us-east-1",
                                              config=Config(retries={"max_attempts": 0}), **as_user)

    with pytest.raises(ClientError) as denied:
        s3(stack.endpoint_url).list_buckets()
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    assert "Buckets" in s3(stack.https_endpoint_url).list_buckets()


# --- HTTP/2 --------------------------------------------------------------------------------------


@pytest.fixture(params=["h2", "h2c"])
def h2(stack, request):
    """(httpx client speaking only HTTP/2, endpoint): over TLS by ALPN, or in clear text with
    prior knowledge."""
    if request.param == "h2":
        http = httpx.Client(http1=False, http2=True, verify=ssl.create_default_context(cafile=stack.ca_bundle),
                            timeout=30)
        endpoint = stack.https_endpoint_url
    else:
        http = httpx.Client(http1=False, http2=True, timeout=30)
        endpoint = stack.endpoint_url
    with http:
        yield http, endpoint


def test_http2_sts(stack, h2):
    http, endpoint = h2
    response = get_caller_identity(stack, http, endpoint)
    assert response.http_version == "HTTP/2"
    assert response.status_code == 200, response.text
    assert "<Account>000000000000</Account>" in response.text
    assert "connection" not in response.headers


def test_http2_s3_streams_bodies_both_ways(stack, h2):
    http, endpoint = h2
    bucket = "h2-" + ("tls" if endpoint.startswith("https") else "clear")
    url, body, headers = signed(stack, "PUT", f"{endpoint}/{bucket}", service="s3",
                                headers={"x-amz-content-sha256": hashlib.sha256(b"").hexdigest()})
    assert http.put(url, content=body, headers=headers).status_code == 200
    data = os.urandom(3 * MIB + 5)
    url, body, headers = signed(stack, "PUT", f"{endpoint}/{bucket}/obj", data, service="s3",
                                headers={"x-amz-content-sha256": hashlib.sha256(data).hexdigest()})
    put = http.put(url, content=body, headers=headers)
    assert put.http_version == "HTTP/2" and put.status_code == 200, put.text
    url, _, headers = signed(stack, "GET", f"{endpoint}/{bucket}/obj", service="s3",
                             headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    got = http.get(url, headers=headers)
    assert got.http_version == "HTTP/2" and got.status_code == 200
    assert got.content == data
    assert got.headers["etag"] == put.headers["etag"]


def test_h2c_preface_in_pieces(stack):
    """The connection preface may arrive split across packets: still HTTP/2."""
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    empty_settings = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
    with socket.create_connection(("127.0.0.1", stack.settings.port), timeout=10) as raw:
        raw.sendall(preface[:5])
        time.sleep(0.05)
        raw.sendall(preface[5:] + empty_settings)
        frame = raw.recv(9)
    assert len(frame) == 9 and frame[3] == 0x04  # the server's SETTINGS frame


def test_http2_an_early_answer_leaves_the_connection_usable(stack, h2):
    """A request refused before its body is read (bad signature) ends its stream, not the
    connection: the next request on the same connection is answered."""
    http, endpoint = h2
    client(stack, "s3", stack.endpoint_url).create_bucket(Bucket="h2-early")
    data = os.urandom(4 * MIB)
    credentials = Credentials(stack.credentials["aws_access_key_id"], "not-the-secret")
    request = AWSRequest(method="PUT", url=f"{endpoint}/h2-early/k", data=data,
                         headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    S3SigV4Auth(credentials, "s3", "us-east-1").add_auth(request)
    refused = http.put(request.url, content=request.body, headers=dict(request.headers))
    assert refused.status_code == 403 and b"SignatureDoesNotMatch" in refused.content
    after = get_caller_identity(stack, http, endpoint)
    assert after.status_code == 200 and after.http_version == "HTTP/2"


def test_subscribe_to_shard_over_http2(stack, h2):
    http, endpoint = h2
    kinesis = client(stack, "kinesis", stack.endpoint_url)
    name = "h2-fanout-" + ("tls" if endpoint.startswith("https") else "clear")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    wait_active(kinesis, name)
    arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    consumer = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="h2")["Consumer"]["ConsumerARN"]
    while kinesis.describe_stream_consumer(ConsumerARN=consumer)["ConsumerDescription"]["ConsumerStatus"] != "ACTIVE":
        time.sleep(0.02)
    kinesis.put_record(StreamName=name, Data=b"before", PartitionKey="p")
    body = json.dumps({"ConsumerARN": consumer, "ShardId": "shardId-000000000000",
                       "StartingPosition": {"Type": "TRIM_HORIZON"}}).encode()
    url, body, headers = signed(stack, "POST", endpoint + "/", body, service="kinesis", headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Kinesis_20131202.SubscribeToShard"})
    received, event_types = [], []
    with http.stream("POST", url, content=body, headers=headers) as response:
        assert response.http_version == "HTTP/2"
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/vnd.amazon.eventstream"
        frames = EventStreamBuffer()
        started = False
        put_live = threading.Timer(0.2, lambda: kinesis.put_records(
            StreamName=name, Records=[{"Data": b"live-%d" % i, "PartitionKey": "p"} for i in range(3)]))
        for chunk in response.iter_raw():
            frames.add_data(chunk)
            for message in frames:
                event = message.headers[":event-type"]
                event_types.append(event)
                if event == "SubscribeToShardEvent":
                    records = json.loads(message.payload)["Records"]
                    received += [base64.b64decode(r["Data"]) for r in records]
                    if received == [b"before"] and not started:
                        put_live.start()  # while subscribed: pushed to us as they arrive
                        started = True
            if len(received) >= 4:
                break
        put_live.join()
    assert event_types[0] == "initial-response"
    assert received == [b"before", b"live-0", b"live-1", b"live-2"]


def test_subscribe_to_shard_survives_the_clients_goaway(stack):
    """A client's GOAWAY(NO_ERROR) means "no new streams from me"; open streams carry on. The
    AWS SDK for JavaScript v3 sends one on an event stream's own connection right after the
    response starts, and the events must keep coming (h2c, a raw HTTP/2 client)."""
    import h2.config
    import h2.connection
    import h2.events

    kinesis = client(stack, "kinesis", stack.endpoint_url)
    kinesis.create_stream(StreamName="h2-goaway", ShardCount=1)
    wait_active(kinesis, "h2-goaway")
    arn = kinesis.describe_stream_summary(StreamName="h2-goaway")["StreamDescriptionSummary"]["StreamARN"]
    consumer = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="js-like")["Consumer"]["ConsumerARN"]
    while kinesis.describe_stream_consumer(ConsumerARN=consumer)["ConsumerDescription"]["ConsumerStatus"] != "ACTIVE":
        time.sleep(0.02)
    authority = f"127.0.0.1:{stack.settings.port}"
    url, body, headers = signed(stack, "POST", f"http://{authority}/", json.dumps({
        "ConsumerARN": consumer, "ShardId": "shardId-000000000000",
        "StartingPosition": {"Type": "LATEST"}}).encode(), service="kinesis", headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Kinesis_20131202.SubscribeToShard"})
    connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    connection.initiate_connection()
    request_headers = [(":method", "POST"), (":path", "/"), (":scheme", "http"), (":authority", authority)]
    request_headers += [(k.lower(), v) for k, v in headers.items() if k.lower() != "host"]
    connection.send_headers(1, request_headers)
    connection.send_data(1, body, end_stream=True)
    frames, events, received, status = EventStreamBuffer(), [], [], None
    with socket.create_connection(("127.0.0.1", stack.settings.port), timeout=30) as raw:
        raw.sendall(connection.data_to_send())
        while len(received) < 2:
            data = raw.recv(65536)
            assert data, f"the server closed the connection after {events}"
            for event in connection.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    status = dict(event.headers)[b":status"]
                    # GOAWAY(NO_ERROR, last stream 0), as the JS SDK sends it; written by hand
                    # because the h2 library would then refuse the events itself.
                    raw.sendall(b"\x00\x00\x08\x07\x00\x00\x00\x00\x00" + bytes(8))
                    kinesis.put_records(StreamName="h2-goaway", Records=[
                        {"Data": b"after-goaway-%d" % i, "PartitionKey": "p"} for i in range(2)])
                elif isinstance(event, h2.events.DataReceived):
                    connection.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                    frames.add_data(event.data)
                    for message in frames:
                        events.append(message.headers[":event-type"])
                        if events[-1] == "SubscribeToShardEvent":
                            records = json.loads(message.payload)["Records"]
                            received += [base64.b64decode(r["Data"]) for r in records]
                elif isinstance(event, h2.events.StreamEnded | h2.events.StreamReset):
                    raise AssertionError(f"the stream ended early: {event}, after {events}")
            raw.sendall(connection.data_to_send())
    assert status == b"200"
    assert received == [b"after-goaway-0", b"after-goaway-1"]


# --- stopping ------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["HTTP/1.1", "HTTP/2"])
def test_stopping_ends_event_streams_cleanly(server_process, version):
    """SIGTERM while a SubscribeToShard stream is open (over TLS): the stream ends as a
    subscription ends (not a broken connection), and the server exits 0."""
    server = server_process()
    kinesis = server.client("kinesis")
    kinesis.create_stream(StreamName="stopping", ShardCount=1)
    wait_active(kinesis, "stopping")
    arn = kinesis.describe_stream_summary(StreamName="stopping")["StreamDescriptionSummary"]["StreamARN"]
    consumer = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="c")["Consumer"]["ConsumerARN"]
    while kinesis.describe_stream_consumer(ConsumerARN=consumer)["ConsumerDescription"]["ConsumerStatus"] != "ACTIVE":
        time.sleep(0.05)
    credentials = Credentials(server.key_id, server.secret)
    request = AWSRequest(method="POST", url=server.https_endpoint_url + "/", data=json.dumps({
        "ConsumerARN": consumer, "ShardId": "shardId-000000000000", "StartingPosition": {"Type": "LATEST"}}).encode(),
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Kinesis_20131202.SubscribeToShard"})
    SigV4Auth(credentials, "kinesis", "us-east-1").add_auth(request)
    http = httpx.Client(http1=version == "HTTP/1.1", http2=version == "HTTP/2", timeout=60,
                        verify=ssl.create_default_context(cafile=server.ca_bundle))
    subscribed, outcome = threading.Event(), []

    def subscribe():
        try:
            with http.stream("POST", request.url, content=request.body, headers=dict(request.headers)) as response:
                outcome.append(response.http_version)
                frames = EventStreamBuffer()
                for chunk in response.iter_raw():
                    frames.add_data(chunk)
                    for message in frames:
                        outcome.append(message.headers[":event-type"])
                        subscribed.set()
            outcome.append("ended")
        except httpx.HTTPError as exc:
            outcome.append(repr(exc))
        finally:
            subscribed.set()

    reader = threading.Thread(target=subscribe)
    reader.start()
    assert subscribed.wait(30)
    server.stop()  # SIGTERM, then wait for the exit
    reader.join(30)
    http.close()
    assert server.proc.returncode == 0, server.proc.stderr.read().decode()
    assert outcome[:2] == [version, "initial-response"]
    assert outcome[-1] == "ended"
