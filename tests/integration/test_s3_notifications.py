"""S3 event notifications to Lambda through boto3: configuration rules and errors as S3
gives them, the function policy check, AWS's event record, prefix/suffix filters, and one
invocation per object write or delete."""

import io
import json
import time
import zipfile

import pytest
from botocore.exceptions import ClientError

import lakestack

ACCOUNT = "000000000000"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
# Records every event it receives as an object in the "seen" bucket.
RECORDER = '''
import boto3, json
s3 = boto3.client("s3")
def handler(event, context):
    s3.put_object(Bucket="seen", Key=context.aws_request_id, Body=json.dumps(event).encode())
'''


def zip_of(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def stack():
    with lakestack.local() as running:
        iam = running.client("iam")
        role = iam.create_role(RoleName="recorder", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
        iam.attach_role_policy(RoleName="recorder", PolicyArn="arn:aws:iam::aws:policy/AmazonS3FullAccess")
        lam = running.client("lambda")
        for name in ("recorder", "other"):
            lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler",
                                Code={"ZipFile": zip_of({"app.py": RECORDER})}, Timeout=10)
            lam.get_waiter("function_active_v2").wait(FunctionName=name)
        s3 = running.client("s3")
        for bucket in ("uploads", "seen", "unpermitted"):
            s3.create_bucket(Bucket=bucket)
        lam.add_permission(FunctionName="recorder", StatementId="from-uploads", Action="lambda:InvokeFunction",
                           Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::uploads", SourceAccount=ACCOUNT)
        yield running


@pytest.fixture(scope="module")
def function_arn(stack):
    return stack.client("lambda").get_function(FunctionName="recorder")["Configuration"]["FunctionArn"]


def lambda_config(arn, events, prefix=None, suffix=None, config_id=None):
    config = {"LambdaFunctionArn": arn, "Events": events}
    rules = [{"Name": n, "Value": v} for n, v in (("prefix", prefix), ("suffix", suffix)) if v is not None]
    if rules:
        config["Filter"] = {"Key": {"FilterRules": rules}}
    if config_id:
        config["Id"] = config_id
    return config


def seen_events(s3, at_least: int, timeout: float = 20.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="seen").get("Contents", [])]
        if len(keys) >= at_least or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    return [json.loads(s3.get_object(Bucket="seen", Key=k)["Body"].read()) for k in keys]


def clear_seen(s3):
    for obj in s3.list_objects_v2(Bucket="seen").get("Contents", []):
        s3.delete_object(Bucket="seen", Key=obj["Key"])


def put_error(s3, bucket, configuration, **kwargs):
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=configuration, **kwargs)
    return caught.value.response["Error"]


def test_destinations_are_validated(s3, function_arn, stack):
    # The function's policy allows S3 only for the "uploads" bucket.
    failure = put_error(s3, "unpermitted", {"LambdaFunctionConfigurations": [
        lambda_config(function_arn, ["s3:ObjectCreated:*"])]})
    assert failure["Code"] == "InvalidArgument"
    assert failure["Message"] == "Unable to validate the following destination configurations"
    assert failure["ArgumentName1"] == function_arn
    assert failure["ArgumentValue1"] == f"Not authorized to invoke function [{function_arn}]"
    missing = function_arn.replace(":recorder", ":nothing")
    assert put_error(s3, "uploads", {"LambdaFunctionConfigurations": [
        lambda_config(missing, ["s3:ObjectCreated:*"])]})["ArgumentName1"] == missing
    other = stack.client("lambda").get_function(FunctionName="other")["Configuration"]["FunctionArn"]
    assert put_error(s3, "uploads", {"LambdaFunctionConfigurations": [
        lambda_config(other, ["s3:ObjectCreated:*"])]})["Code"] == "InvalidArgument"
    # SkipDestinationValidation stores it anyway, as on AWS (deliveries are then dropped).
    s3.put_bucket_notification_configuration(Bucket="unpermitted", SkipDestinationValidation=True,
                                             NotificationConfiguration={"LambdaFunctionConfigurations": [
                                                 lambda_config(function_arn, ["s3:ObjectCreated:*"])]})
    s3.put_object(Bucket="unpermitted", Key="dropped", Body=b"x")
    s3.put_bucket_notification_configuration(Bucket="unpermitted", NotificationConfiguration={})


def test_configuration_rules(s3, function_arn):
    assert put_error(s3, "uploads", {"LambdaFunctionConfigurations": [
        lambda_config(function_arn, ["s3:ObjectCreated:Everything"])]}) == {
        "Code": "InvalidArgument", "Message": "The event is not supported for notifications",
        "ArgumentName": "Event", "ArgumentValue": "s3:ObjectCreated:Everything"}
    doubled = lambda_config(function_arn, ["s3:ObjectCreated:*"])
    doubled["Filter"] = {"Key": {"FilterRules": [{"Name": "prefix", "Value": "a"}, {"Name": "prefix", "Value": "b"}]}}
    assert put_error(s3, "uploads", {"LambdaFunctionConfigurations": [doubled]})["Message"] == \
        "Cannot specify more than one prefix rule in a filter."
    overlapping = [lambda_config(function_arn, ["s3:ObjectCreated:*"], prefix="data/"),
                   lambda_config(function_arn, ["s3:ObjectCreated:Put"], prefix="data/raw/")]
    assert put_error(s3, "uploads", {"LambdaFunctionConfigurations": overlapping})["Message"] == \
        "Configurations overlap. Configurations on the same bucket cannot share a common event type."
    assert put_error(s3, "uploads", {"QueueConfigurations": [
        {"QueueArn": "arn:aws:sqs:us-east-1:000000000000:q", "Events": ["s3:ObjectCreated:*"]}]})[
        "Message"] == "Unable to validate the following destination configurations"
    assert s3.get_bucket_notification_configuration(Bucket="uploads").get("LambdaFunctionConfigurations") is None


def test_upload_under_the_prefix_triggers_exactly_once(s3, function_arn):
    clear_seen(s3)
    s3.put_bucket_notification_configuration(Bucket="uploads", NotificationConfiguration={
        "LambdaFunctionConfigurations": [
            lambda_config(function_arn, ["s3:ObjectCreated:*"], prefix="incoming/", suffix=".csv", config_id="csv"),
            lambda_config(function_arn, ["s3:ObjectRemoved:*"], prefix="incoming/", config_id="removed")]})
    stored = s3.get_bucket_notification_configuration(Bucket="uploads")["LambdaFunctionConfigurations"]
    assert [c["Id"] for c in stored] == ["csv", "removed"]
    # S3 answers the rule names capitalised, whatever case they were sent in.
    assert stored[0]["Filter"]["Key"]["FilterRules"] == [{"Name": "Prefix", "Value": "incoming/"},
                                                         {"Name": "Suffix", "Value": ".csv"}]
    s3.put_object(Bucket="uploads", Key="elsewhere/a.csv", Body=b"no")
    s3.put_object(Bucket="uploads", Key="incoming/notes.txt", Body=b"no")
    put = s3.put_object(Bucket="uploads", Key="incoming/day=1/sales file.csv", Body=b"a,b\n1,2\n")
    events = seen_events(s3, 1)
    time.sleep(1.0)  # nothing else arrives
    events = seen_events(s3, 1, timeout=0)
    assert len(events) == 1
    (record,) = events[0]["Records"]
    assert record["eventVersion"] == "2.1" and record["eventSource"] == "aws:s3"
    assert record["awsRegion"] == "us-east-1" and record["eventName"] == "ObjectCreated:Put"
    assert record["eventTime"].endswith("Z")
    assert record["userIdentity"] == {"principalId": ACCOUNT}
    assert record["requestParameters"]["sourceIPAddress"] == "127.0.0.1"
    assert record["responseElements"]["x-amz-request-id"] == put["ResponseMetadata"]["RequestId"]
    assert record["s3"]["s3SchemaVersion"] == "1.0" and record["s3"]["configurationId"] == "csv"
    assert record["s3"]["bucket"] == {"name": "uploads", "ownerIdentity": {"principalId": ACCOUNT},
                                      "arn": "arn:aws:s3:::uploads"}
    obj = record["s3"]["object"]
    assert obj["key"] == "incoming/day%3D1/sales+file.csv"  # URL-encoded, as S3 sends it
    assert obj["size"] == 8 and obj["eTag"] == put["ETag"].strip('"')
    assert len(obj["sequencer"]) >= 16


def test_copy_multipart_and_delete_events(s3):
    clear_seen(s3)
    s3.copy_object(Bucket="uploads", Key="incoming/copy.csv", CopySource="uploads/incoming/day=1/sales file.csv")
    upload = s3.create_multipart_upload(Bucket="uploads", Key="incoming/big.csv")
    part = s3.upload_part(Bucket="uploads", Key="incoming/big.csv", UploadId=upload["UploadId"], PartNumber=1,
                          Body=b"x" * 1024)
    s3.complete_multipart_upload(Bucket="uploads", Key="incoming/big.csv", UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    s3.delete_object(Bucket="uploads", Key="incoming/copy.csv")
    s3.delete_objects(Bucket="uploads", Delete={"Objects": [{"Key": "incoming/big.csv"}, {"Key": "elsewhere/a.csv"}]})
    seen_events(s3, 4)
    time.sleep(0.5)  # and no more than that
    events = seen_events(s3, 4, timeout=0)
    names = sorted((r["eventName"], r["s3"]["object"]["key"]) for e in events for r in e["Records"])
    # The copy's source key and "elsewhere/…" match no configuration.
    assert names == [("ObjectCreated:CompleteMultipartUpload", "incoming/big.csv"),
                     ("ObjectCreated:Copy", "incoming/copy.csv"),
                     ("ObjectRemoved:Delete", "incoming/big.csv"),
                     ("ObjectRemoved:Delete", "incoming/copy.csv")]
    created = [r for e in events for r in e["Records"] if r["eventName"].startswith("ObjectCreated")]
    assert all(r["s3"]["object"]["size"] > 0 and r["s3"]["object"]["eTag"] for r in created)
    removed = [r for e in events for r in e["Records"] if r["eventName"] == "ObjectRemoved:Delete"]
    assert all(set(r["s3"]["object"]) == {"key", "sequencer"} for r in removed)


def test_deleting_the_bucket_drops_its_configuration(s3, function_arn, stack):
    stack.client("lambda").add_permission(FunctionName="recorder", StatementId="from-ephemeral",
                                          Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
                                          SourceArn="arn:aws:s3:::ephemeral")
    s3.create_bucket(Bucket="ephemeral")
    s3.put_bucket_notification_configuration(Bucket="ephemeral", NotificationConfiguration={
        "LambdaFunctionConfigurations": [lambda_config(function_arn, ["s3:ObjectCreated:*"])]})
    s3.delete_bucket(Bucket="ephemeral")
    s3.create_bucket(Bucket="ephemeral")
    assert "LambdaFunctionConfigurations" not in s3.get_bucket_notification_configuration(Bucket="ephemeral")
