"""Lambda through boto3 against a real server: deployment, invocation (sync, async, dry
run), error and timeout shapes, the context object, environment variables, layers,
versions and aliases, resource policies, concurrency, the function's own role inside the
handler, and handlers that misbehave."""

import base64
import hashlib
import io
import json
import time
import urllib.request
import zipfile

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import lakestack

ACCOUNT = "000000000000"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
NO_RETRY = Config(retries={"max_attempts": 0}, read_timeout=120)

APP = '''
import json, os, sys, time

def handler(event, context):
    action = event.get("do")
    if action == "fail":
        raise ValueError("boom: " + str(event.get("n")))
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "log":
        print(json.dumps({"level": event["level"], "msg": event["msg"]}))
    print("handled", json.dumps(event))
    return {
        "event": event,
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "remaining": context.get_remaining_time_in_millis(),
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "client_context": context.client_context.custom if context.client_context else None,
        "env": {k: os.environ.get(k) for k in ("GREETING", "AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME",
                 "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_ENDPOINT_URL",
                 "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "LAMBDA_TASK_ROOT", "_HANDLER",
                 "LAKESTACK_ROOT_SECRET_ACCESS_KEY")},
        "version_marker": "v1",
    }
'''


def zip_of(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def stack():
    with lakestack.local() as running:
        provider = running.stack.provider("lambda")
        provider.queue.retry_delays = (0.3, 0.3)
        provider.queue.throttle_backoff = (0.2, 0.5)
        yield running


@pytest.fixture(scope="module")
def lam(stack):
    return stack.client("lambda", config=NO_RETRY)


@pytest.fixture(scope="module")
def logs(stack):
    return stack.client("logs")


@pytest.fixture(scope="module")
def role(stack):
    """A role Lambda may assume that can write logs and use S3."""
    iam = stack.client("iam")
    arn = iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    iam.attach_role_policy(RoleName="fn-role",
                           PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    iam.attach_role_policy(RoleName="fn-role", PolicyArn="arn:aws:iam::aws:policy/AmazonS3FullAccess")
    return arn


def create(lam, role, name, code=APP, handler="app.handler", **kwargs):
    files = code if isinstance(code, dict) else {"app.py": code}
    config = lam.create_function(FunctionName=name, Runtime=kwargs.pop("Runtime", "python3.12"), Role=role,
                                 Handler=handler, Code={"ZipFile": zip_of(files)}, **kwargs)
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    return config


def invoke(lam, name, event=None, **kwargs):
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode(), **kwargs)
    body = response["Payload"].read()
    return response, json.loads(body) if body else None


def wait_for(check, timeout=20.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def error_code(call, **kwargs) -> str:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"]


# -- deployment -----------------------------------------------------------------------------


def test_create_get_list_delete(lam, role):
    package = zip_of({"app.py": APP})
    created = lam.create_function(FunctionName="crud", Runtime="python3.12", Role=role, Handler="app.handler",
                                  Code={"ZipFile": package}, Description="first", Tags={"team": "data"})
    assert created["State"] == "Pending" and created["StateReasonCode"] == "Creating"
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(package).digest()).decode()
    assert created["CodeSize"] == len(package)
    assert (created["Timeout"], created["MemorySize"], created["Version"]) == (3, 128, "$LATEST")
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:crud"
    lam.get_waiter("function_active_v2").wait(FunctionName="crud")
    got = lam.get_function(FunctionName="crud")
    assert got["Configuration"]["State"] == "Active"
    assert got["Configuration"]["LastUpdateStatus"] == "Successful"
    assert got["Tags"] == {"team": "data"}
    # Code.Location points at the stored package.
    with urllib.request.urlopen(got["Code"]["Location"]) as stored:
        assert stored.read() == package
    assert "crud" in [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert lam.get_function_configuration(FunctionName="crud")["Description"] == "first"
    assert error_code(lam.create_function, FunctionName="crud", Runtime="python3.12", Role=role,
                      Handler="app.handler", Code={"ZipFile": package}) == "ResourceConflictException"
    lam.delete_function(FunctionName="crud")
    assert error_code(lam.get_function, FunctionName="crud") == "ResourceNotFoundException"


def test_create_is_validated(lam, role, stack):
    package = zip_of({"app.py": APP})
    base = {"Role": role, "Handler": "app.handler", "Code": {"ZipFile": package}}
    cases = [
        ({"Runtime": "python3.8"}, "no longer supported"),
        ({"Runtime": "nodejs20.x"}, "Python functions only"),
        ({"Runtime": "python3.12", "Code": {"ZipFile": b"not a zip"}}, "Could not unzip"),
        ({"Runtime": "python3.12", "Environment": {"Variables": {"AWS_REGION": "x"}}}, "reserved keys"),
        ({"Runtime": "python3.12", "Layers": [f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:nope:1"]}, "does not exist"),
    ]
    for extra, text in cases:
        with pytest.raises(ClientError) as caught:
            lam.create_function(FunctionName="invalid", **{**base, **extra})
        assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
        assert text in caught.value.response["Error"]["Message"]
    iam = stack.client("iam")
    untrusting = iam.create_role(RoleName="not-for-lambda", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    with pytest.raises(ClientError) as caught:
        lam.create_function(FunctionName="invalid", Runtime="python3.12", **{**base, "Role": untrusting})
    assert caught.value.response["Error"]["Message"] == "The role defined for the function cannot be assumed by Lambda."


def test_create_from_s3(lam, role, stack):
    s3 = stack.client("s3")
    s3.create_bucket(Bucket="deploys")
    s3.put_object(Bucket="deploys", Key="app.zip", Body=zip_of({"app.py": APP}))
    lam.create_function(FunctionName="from-s3", Runtime="python3.11", Role=role, Handler="app.handler",
                        Code={"S3Bucket": "deploys", "S3Key": "app.zip"})
    lam.get_waiter("function_active_v2").wait(FunctionName="from-s3")
    assert invoke(lam, "from-s3", {"x": 1})[1]["event"] == {"x": 1}
    with pytest.raises(ClientError) as caught:
        lam.create_function(FunctionName="from-s3-missing", Runtime="python3.12", Role=role, Handler="app.handler",
                            Code={"S3Bucket": "deploys", "S3Key": "nope.zip"})
    assert "NoSuchKey" in caught.value.response["Error"]["Message"]


# -- invoking -------------------------------------------------------------------------------


def test_invoke_returns_payload_context_and_environment(lam, role, stack):
    create(lam, role, "ctx", Environment={"Variables": {"GREETING": "hello"}}, MemorySize=256, Timeout=10)
    context = base64.b64encode(json.dumps({"custom": {"tenant": "t1"}}).encode()).decode()
    response, result = invoke(lam, "ctx", {"a": [1, 2]}, ClientContext=context)
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    assert result["event"] == {"a": [1, 2]}
    assert result["request_id"] == response["ResponseMetadata"]["RequestId"]
    assert result["function_name"] == "ctx" and result["function_version"] == "$LATEST"
    assert result["invoked_function_arn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:ctx"
    assert result["memory_limit_in_mb"] == "256"
    assert 9000 < result["remaining"] <= 10000
    assert result["log_group_name"] == "/aws/lambda/ctx"
    assert result["log_stream_name"].endswith("]" + result["log_stream_name"].split("]")[1])
    assert "[$LATEST]" in result["log_stream_name"]
    assert result["client_context"] == {"tenant": "t1"}
    env = result["env"]
    assert env["GREETING"] == "hello" and env["AWS_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "ctx" and env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_ENDPOINT_URL"] == stack.endpoint_url
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA") and env["AWS_SESSION_TOKEN"]
    assert env["_HANDLER"] == "app.handler" and env["LAMBDA_TASK_ROOT"]
    assert env["LAKESTACK_ROOT_SECRET_ACCESS_KEY"] is None  # nothing of the server's environment leaks in
    # Warm: the same environment serves the next call.
    assert invoke(lam, "ctx", {})[1]["log_stream_name"] == result["log_stream_name"]


def test_function_errors_have_aws_shape(lam, role):
    create(lam, role, "errors")
    response, report = invoke(lam, "errors", {"do": "fail", "n": 7})
    assert response["StatusCode"] == 200 and response["FunctionError"] == "Unhandled"
    assert report["errorMessage"] == "boom: 7" and report["errorType"] == "ValueError"
    assert report["requestId"] == response["ResponseMetadata"]["RequestId"]
    assert isinstance(report["stackTrace"], list) and 'in handler' in report["stackTrace"][-1]
    assert invoke(lam, "errors", {})[0].get("FunctionError") is None


def test_timeouts_kill_the_environment(lam, role):
    create(lam, role, "slow", Timeout=1)
    started = time.monotonic()
    response, report = invoke(lam, "slow", {"do": "sleep", "seconds": 30})
    assert time.monotonic() - started < 5
    assert response["FunctionError"] == "Unhandled"
    assert report["errorType"] == "Sandbox.Timedout"
    assert report["errorMessage"] == f"RequestId: {response['ResponseMetadata']['RequestId']} Error: Task timed out after 1.00 seconds"
    assert invoke(lam, "slow", {"x": 1})[1]["event"] == {"x": 1}


def test_log_tail_and_logs_in_cloudwatch(lam, logs, role):
    create(lam, role, "logged")
    response, _ = invoke(lam, "logged", {"do": "log", "level": "ERROR", "msg": "disk full"}, LogType="Tail")
    request_id = response["ResponseMetadata"]["RequestId"]
    tail = base64.b64decode(response["LogResult"]).decode()
    assert len(base64.b64decode(response["LogResult"])) <= 4096
    lines = tail.splitlines()
    assert lines[0].startswith("INIT_START Runtime Version: python3.12")
    assert lines[1] == f"START RequestId: {request_id} Version: $LATEST"
    assert lines[2] == json.dumps({"level": "ERROR", "msg": "disk full"})
    assert lines[-2] == f"END RequestId: {request_id}"
    report = lines[-1].split("\t")
    assert report[0] == f"REPORT RequestId: {request_id}"
    assert report[1].startswith("Duration: ") and report[1].endswith(" ms")
    assert report[2].startswith("Billed Duration: ") and report[3] == "Memory Size: 128 MB"
    assert report[4].startswith("Max Memory Used: ") and report[5].startswith("Init Duration: ")
    invoke(lam, "logged", {"do": "log", "level": "INFO", "msg": "all fine"})

    def streams():
        # The function's log group and stream appear once its worker ships the first lines.
        try:
            found = logs.describe_log_streams(logGroupName="/aws/lambda/logged")["logStreams"]
        except logs.exceptions.ResourceNotFoundException:
            return None
        return found if found else None

    stream = wait_for(streams)[0]["logStreamName"]

    def events():
        got = logs.get_log_events(logGroupName="/aws/lambda/logged", logStreamName=stream, startFromHead=True)
        messages = [e["message"] for e in got["events"]]
        return messages if sum(m.startswith("REPORT") for m in messages) == 2 else None

    messages = wait_for(events)
    assert messages[1] == f"START RequestId: {request_id} Version: $LATEST"
    assert f"END RequestId: {request_id}" in messages
    errors = logs.filter_log_events(logGroupName="/aws/lambda/logged", filterPattern='{ $.level = "ERROR" }')
    assert [json.loads(e["message"])["msg"] for e in errors["events"]] == ["disk full"]
    starts = logs.filter_log_events(logGroupName="/aws/lambda/logged", filterPattern='"START RequestId"')
    assert len(starts["events"]) == 2


def test_async_invocation_runs_and_retries_twice(lam, role, stack):
    create(lam, role, "async-ok")
    response = lam.invoke(FunctionName="async-ok", InvocationType="Event", Payload=b'{"k": "v"}')
    assert response["StatusCode"] == 202 and response["Payload"].read() == b""
    failing = '''
import boto3, uuid
s3 = boto3.client("s3")
def handler(event, context):
    s3.put_object(Bucket="attempts", Key=context.aws_request_id + "/" + uuid.uuid4().hex, Body=b"")
    raise RuntimeError("always")
'''
    stack.client("s3").create_bucket(Bucket="attempts")
    create(lam, role, "async-fail", code=failing, Timeout=10)
    request_id = lam.invoke(FunctionName="async-fail", InvocationType="Event", Payload=b"{}")[
        "ResponseMetadata"]["RequestId"]
    s3 = stack.client("s3")

    def attempts():
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="attempts").get("Contents", [])]
        return keys if len(keys) >= 3 else None

    keys = wait_for(attempts, timeout=30)
    time.sleep(1.0)  # no fourth attempt comes
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="attempts").get("Contents", [])]
    assert len(keys) == 3 and all(k.startswith(request_id + "/") for k in keys)


def test_event_invoke_config_and_failure_destination(lam, role, stack):
    failing = 'def handler(event, context):\n    raise RuntimeError("nope")\n'
    recorder = '''
import boto3, json
def handler(event, context):
    boto3.client("s3").put_object(Bucket="destinations", Key=context.aws_request_id, Body=json.dumps(event).encode())
'''
    stack.client("s3").create_bucket(Bucket="destinations")
    create(lam, role, "dest-source", code=failing)
    target = create(lam, role, "dest-target", code=recorder, Timeout=10)["FunctionArn"]
    stack.client("iam").put_role_policy(RoleName="fn-role", PolicyName="invoke", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction",
                                                 "Resource": target}]}))
    config = lam.put_function_event_invoke_config(FunctionName="dest-source", MaximumRetryAttempts=0,
                                                  DestinationConfig={"OnFailure": {"Destination": target}})
    assert config["MaximumRetryAttempts"] == 0
    assert lam.get_function_event_invoke_config(FunctionName="dest-source")["DestinationConfig"] == {
        "OnFailure": {"Destination": target}}
    assert error_code(lam.put_function_event_invoke_config, FunctionName="dest-source", DestinationConfig={
        "OnFailure": {"Destination": "arn:aws:sqs:us-east-1:000000000000:q"}}) == "InvalidParameterValueException"
    request_id = lam.invoke(FunctionName="dest-source", InvocationType="Event", Payload=b'{"order": 1}')[
        "ResponseMetadata"]["RequestId"]
    s3 = stack.client("s3")
    key = wait_for(lambda: (s3.list_objects_v2(Bucket="destinations").get("Contents") or [None])[0])["Key"]
    record = json.loads(s3.get_object(Bucket="destinations", Key=key)["Body"].read())
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestPayload"] == {"order": 1}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorMessage"] == "nope"


def test_dry_run_and_bad_payloads(lam, role):
    create(lam, role, "dry")
    assert lam.invoke(FunctionName="dry", InvocationType="DryRun")["StatusCode"] == 204
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName="dry", Payload=b"{not json")
    assert caught.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert error_code(lam.invoke, FunctionName="nothing-here") == "ResourceNotFoundException"
    assert invoke(lam, "dry", None)[1]["event"] == {}


def test_updates_take_effect(lam, role):
    create(lam, role, "updated", Environment={"Variables": {"GREETING": "one"}})
    assert invoke(lam, "updated")[1]["env"]["GREETING"] == "one"
    config = lam.update_function_configuration(FunctionName="updated", Environment={"Variables": {"GREETING": "two"}},
                                               Timeout=7)
    assert config["LastUpdateStatus"] == "InProgress" and config["Timeout"] == 7
    lam.get_waiter("function_updated_v2").wait(FunctionName="updated")
    assert invoke(lam, "updated")[1]["env"]["GREETING"] == "two"
    code = APP.replace('"version_marker": "v1"', '"version_marker": "v2"')
    before = lam.get_function_configuration(FunctionName="updated")
    after = lam.update_function_code(FunctionName="updated", ZipFile=zip_of({"app.py": code}))
    assert after["CodeSha256"] != before["CodeSha256"] and after["RevisionId"] != before["RevisionId"]
    assert invoke(lam, "updated")[1]["version_marker"] == "v2"
    assert error_code(lam.update_function_code, FunctionName="updated", ZipFile=zip_of({"app.py": code}),
                      RevisionId="stale") == "PreconditionFailedException"
    lam.update_function_configuration(FunctionName="updated", Environment={"Variables": {}})
    assert invoke(lam, "updated")[1]["env"]["GREETING"] is None


def test_layers_are_on_the_path(lam, role):
    first = zip_of({"python/greeting.py": "WORD = 'from layer one'\n", "python/shared.py": "WHO = 'one'\n"})
    second = zip_of({"python/lib/python3.11/site-packages/extra.py": "VALUE = 42\n",
                     "python/shared.py": "WHO = 'two'\n"})
    one = lam.publish_layer_version(LayerName="greetings", Content={"ZipFile": first},
                                    CompatibleRuntimes=["python3.12"])
    assert one["Version"] == 1 and one["LayerVersionArn"].endswith(":layer:greetings:1")
    two = lam.publish_layer_version(LayerName="extras", Content={"ZipFile": second})
    code = '''
import greeting, extra, shared
def handler(event, context):
    return [greeting.WORD, extra.VALUE, shared.WHO]
'''
    config = create(lam, role, "layered", code=code, Layers=[one["LayerVersionArn"], two["LayerVersionArn"]])
    assert [layer["Arn"] for layer in config["Layers"]] == [one["LayerVersionArn"], two["LayerVersionArn"]]
    # Later layers are extracted over earlier ones, as into /opt.
    assert invoke(lam, "layered")[1] == ["from layer one", 42, "two"]
    assert lam.get_layer_version(LayerName="greetings", VersionNumber=1)["Content"]["CodeSize"] == len(first)
    assert lam.get_layer_version_by_arn(Arn=one["LayerVersionArn"])["Version"] == 1
    assert [v["Version"] for v in lam.list_layer_versions(LayerName="greetings")["LayerVersions"]] == [1]
    assert {layer["LayerName"] for layer in lam.list_layers()["Layers"]} >= {"greetings", "extras"}
    lam.delete_layer_version(LayerName="extras", VersionNumber=1)
    assert error_code(lam.get_layer_version, LayerName="extras", VersionNumber=1) == "ResourceNotFoundException"
    assert lam.publish_layer_version(LayerName="extras", Content={"ZipFile": second})["Version"] == 2


def test_versions_and_aliases(lam, role):
    create(lam, role, "versioned")
    v1 = lam.publish_version(FunctionName="versioned", Description="first")
    assert v1["Version"] == "1" and v1["FunctionArn"].endswith(":versioned:1")
    assert lam.publish_version(FunctionName="versioned")["Version"] == "1"  # nothing changed
    lam.update_function_code(FunctionName="versioned", ZipFile=zip_of({"app.py": APP.replace('"v1"', '"v2"')}))
    lam.get_waiter("function_updated_v2").wait(FunctionName="versioned")
    v2 = lam.publish_version(FunctionName="versioned")
    assert v2["Version"] == "2"
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="versioned")["Versions"]] == [
        "$LATEST", "1", "2"]
    alias = lam.create_alias(FunctionName="versioned", Name="live", FunctionVersion="1")
    assert alias["AliasArn"].endswith(":versioned:live")
    response, result = invoke(lam, "versioned", Qualifier="live")
    assert response["ExecutedVersion"] == "1" and result["version_marker"] == "v1"
    assert result["invoked_function_arn"].endswith(":versioned:live") and result["function_version"] == "1"
    response, result = invoke(lam, "versioned:2")
    assert response["ExecutedVersion"] == "2" and result["version_marker"] == "v2"
    assert invoke(lam, "versioned")[1]["version_marker"] == "v2"
    lam.update_alias(FunctionName="versioned", Name="live", FunctionVersion="2")
    assert invoke(lam, "versioned", Qualifier="live")[0]["ExecutedVersion"] == "2"
    lam.update_alias(FunctionName="versioned", Name="live", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    executed = {invoke(lam, "versioned", Qualifier="live")[0]["ExecutedVersion"] for _ in range(30)}
    assert executed == {"1", "2"}
    assert lam.get_function(FunctionName="versioned", Qualifier="live")["Configuration"]["Version"] == "1"
    assert [a["Name"] for a in lam.list_aliases(FunctionName="versioned")["Aliases"]] == ["live"]
    assert error_code(lam.delete_function, FunctionName="versioned", Qualifier="1") == "ResourceConflictException"
    assert error_code(lam.create_alias, FunctionName="versioned", Name="live",
                      FunctionVersion="1") == "ResourceConflictException"
    assert error_code(lam.invoke, FunctionName="versioned", Qualifier="nope") == "ResourceNotFoundException"
    lam.delete_alias(FunctionName="versioned", Name="live")
    lam.delete_function(FunctionName="versioned", Qualifier="1")
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="versioned")["Versions"]] == [
        "$LATEST", "2"]


def test_resource_policy(lam, role):
    create(lam, role, "guarded")
    assert error_code(lam.get_policy, FunctionName="guarded") == "ResourceNotFoundException"
    added = lam.add_permission(FunctionName="guarded", StatementId="s3-invoke", Action="lambda:InvokeFunction",
                               Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::bucket",
                               SourceAccount=ACCOUNT)
    statement = json.loads(added["Statement"])
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Condition"]["ArnLike"] == {"AWS:SourceArn": "arn:aws:s3:::bucket"}
    policy = json.loads(lam.get_policy(FunctionName="guarded")["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["s3-invoke"]
    assert error_code(lam.add_permission, FunctionName="guarded", StatementId="s3-invoke",
                      Action="lambda:InvokeFunction", Principal="s3.amazonaws.com") == "ResourceConflictException"
    lam.remove_permission(FunctionName="guarded", StatementId="s3-invoke")
    assert error_code(lam.get_policy, FunctionName="guarded") == "ResourceNotFoundException"
    assert error_code(lam.remove_permission, FunctionName="guarded",
                      StatementId="s3-invoke") == "ResourceNotFoundException"


def test_role_policies_apply_inside_the_function(lam, stack):
    iam = stack.client("iam")
    s3 = stack.client("s3")
    s3.create_bucket(Bucket="guarded-data")
    reader = iam.create_role(RoleName="reader-only", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    iam.put_role_policy(RoleName="reader-only", PolicyName="read", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
                                                 "Resource": "*"}]}))
    code = '''
import boto3
from botocore.exceptions import ClientError

def handler(event, context):
    s3 = boto3.client("s3")
    me = boto3.client("sts").get_caller_identity()["Arn"]
    try:
        s3.put_object(Bucket="guarded-data", Key="written", Body=b"x")
        return {"me": me, "put": "ok"}
    except ClientError as error:
        return {"me": me, "put": error.response["Error"]["Code"]}
'''
    create(lam, reader, "reader", code=code, Timeout=15)
    result = invoke(lam, "reader")[1]
    assert result == {"me": f"arn:aws:sts::{ACCOUNT}:assumed-role/reader-only/reader", "put": "AccessDenied"}
    assert "Contents" not in s3.list_objects_v2(Bucket="guarded-data")
    iam.put_role_policy(RoleName="reader-only", PolicyName="write", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject",
                                                 "Resource": "arn:aws:s3:::guarded-data/*"}]}))
    assert invoke(lam, "reader")[1]["put"] == "ok"


def test_reserved_concurrency(lam, role):
    create(lam, role, "limited", Timeout=10)
    assert lam.put_function_concurrency(FunctionName="limited", ReservedConcurrentExecutions=0)[
        "ReservedConcurrentExecutions"] == 0
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName="limited", Payload=b"{}")
    assert caught.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert caught.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    lam.put_function_concurrency(FunctionName="limited", ReservedConcurrentExecutions=1)
    assert lam.get_function(FunctionName="limited")["Concurrency"] == {"ReservedConcurrentExecutions": 1}
    import threading

    slow = threading.Thread(target=invoke, args=(lam, "limited", {"do": "sleep", "seconds": 1.5}))
    slow.start()
    time.sleep(0.5)
    assert error_code(lam.invoke, FunctionName="limited", Payload=b"{}") == "TooManyRequestsException"
    slow.join()
    lam.delete_function_concurrency(FunctionName="limited")
    assert invoke(lam, "limited")[0]["StatusCode"] == 200
    assert error_code(lam.put_function_concurrency, FunctionName="limited",
                      ReservedConcurrentExecutions=950) == "InvalidParameterValueException"


MISBEHAVING = '''
import os, sys, time
hoard = []

def handler(event, context):
    action = event.get("do")
    if action == "hang":
        while True:
            time.sleep(1)
    if action == "exit":
        os._exit(3)
    if action == "sys_exit":
        sys.exit(0)
    if action == "shout":
        for i in range(200000):
            print(f"{i:08d} " + "y" * 90)
    if action == "leak":
        hoard.append(bytearray(64 * 1024 * 1024))
        for chunk in hoard:
            chunk[::4096] = b"x" * len(chunk[::4096])
    if action == "huge":
        data = bytearray(8 * 1024 * 1024 * 1024)
    if action == "big_answer":
        return "z" * (7 * 1024 * 1024)
    return {"ok": True, "pid": os.getpid()}
'''


def test_misbehaving_handlers_do_not_take_the_server_down(lam, role, stack):
    create(lam, role, "misbehaving", code=MISBEHAVING, Timeout=2, MemorySize=128)
    cases = [
        ({"do": "hang"}, "Sandbox.Timedout", "Task timed out after 2.00 seconds"),
        ({"do": "exit"}, "Runtime.ExitError", "Runtime exited with error: exit status 3"),
        ({"do": "sys_exit"}, "Runtime.ExitError", "Runtime exited without providing a reason"),
        ({"do": "huge"}, "Runtime.OutOfMemory", "Runtime exited with error: signal: killed"),
        ({"do": "big_answer"}, "Function.ResponseSizeTooLarge", "Response payload size exceeded"),
    ]
    for event, error_type, message in cases:
        response, report = invoke(lam, "misbehaving", event)
        assert response["FunctionError"] == "Unhandled", event
        assert report["errorType"] == error_type and message in report["errorMessage"], (event, report)
        assert invoke(lam, "misbehaving")[1]["ok"] is True
    # Megabytes of output: the invocation completes and the log keeps a bounded part.
    response, result = invoke(lam, "misbehaving", {"do": "shout"}, LogType="Tail")
    assert result["ok"] is True
    assert "bytes of output were not kept" in base64.b64decode(response["LogResult"]).decode()
    # A leak grows past MemorySize: that invocation fails as out of memory, the next runs fresh.
    reports = [invoke(lam, "misbehaving", {"do": "leak"})[1] for _ in range(3)]
    assert any(isinstance(r, dict) and r.get("errorType") == "Runtime.OutOfMemory" for r in reports)
    assert invoke(lam, "misbehaving")[1]["ok"] is True
    assert stack.client("s3").list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_init_errors_are_reported(lam, role):
    create(lam, role, "no-module", handler="missing.handler")
    response, report = invoke(lam, "no-module")
    assert response["FunctionError"] == "Unhandled"
    assert report["errorType"] == "Runtime.ImportModuleError"
    assert report["errorMessage"] == "Unable to import module 'missing': No module named 'missing'"
    create(lam, role, "no-handler", handler="app.nothing")
    assert invoke(lam, "no-handler")[1]["errorType"] == "Runtime.HandlerNotFound"


def test_json_log_format(lam, logs, role):
    code = '''
import logging
logger = logging.getLogger()
def handler(event, context):
    logger.info("structured %s", "hello")
    logger.debug("hidden")
    return 1
'''
    create(lam, role, "json-logs", code=code, LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "INFO"})
    response, _ = invoke(lam, "json-logs", LogType="Tail")
    records = [json.loads(line) for line in base64.b64decode(response["LogResult"]).decode().splitlines()]
    kinds = [r.get("type") or r.get("level") for r in records]
    assert kinds == ["platform.initStart", "platform.start", "INFO", "platform.runtimeDone", "platform.report"]
    assert records[2]["message"] == "structured hello"
    assert records[2]["requestId"] == response["ResponseMetadata"]["RequestId"]
    assert records[4]["record"]["metrics"]["memorySizeMB"] == 128


def test_tags_and_account_settings(lam, role):
    arn = create(lam, role, "tagged")["FunctionArn"]
    lam.tag_resource(Resource=arn, Tags={"a": "1", "b": "2"})
    lam.untag_resource(Resource=arn, TagKeys=["a"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"b": "2"}
    settings = lam.get_account_settings()
    assert settings["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert settings["AccountUsage"]["FunctionCount"] >= 1
