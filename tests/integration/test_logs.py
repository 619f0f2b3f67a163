"""CloudWatch Logs through boto3: groups, streams, events, reading forward and backward,
filtering, retention, tags, permissions and the errors AWS gives."""

import json
import time

import pytest
from botocore.exceptions import ClientError

ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def logs(stack):
    return stack.client("logs")


def now_ms() -> int:
    return int(time.time() * 1000)


def error(call, **kwargs):
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]


def test_groups_and_streams(logs):
    logs.create_log_group(logGroupName="/app/orders", tags={"team": "data"})
    logs.create_log_group(logGroupName="/app/payments")
    logs.create_log_group(logGroupName="/other/thing")
    assert error(logs.create_log_group, logGroupName="/app/orders") == {
        "Code": "ResourceAlreadyExistsException", "Message": "The specified log group already exists"}
    groups = logs.describe_log_groups(logGroupNamePrefix="/app/")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/app/orders", "/app/payments"]
    assert groups[0]["arn"] == f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/app/orders:*"
    assert groups[0]["logGroupArn"] == f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/app/orders"
    assert [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePattern="PAY")["logGroups"]] == [
        "/app/payments"]
    page = logs.describe_log_groups(limit=2)
    rest = logs.describe_log_groups(limit=2, nextToken=page["nextToken"])
    assert len(page["logGroups"]) == 2 and rest["logGroups"][0]["logGroupName"] == "/other/thing"
    for name in ("b-stream", "a-stream"):
        logs.create_log_stream(logGroupName="/app/orders", logStreamName=name)
    assert error(logs.create_log_stream, logGroupName="/app/orders", logStreamName="a-stream")["Code"] == \
        "ResourceAlreadyExistsException"
    assert error(logs.create_log_stream, logGroupName="/app/none", logStreamName="x") == {
        "Code": "ResourceNotFoundException", "Message": "The specified log group does not exist."}
    streams = logs.describe_log_streams(logGroupName="/app/orders")["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["a-stream", "b-stream"]
    assert logs.list_tags_log_group(logGroupName="/app/orders")["tags"] == {"team": "data"}
    arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/app/orders"
    logs.tag_resource(resourceArn=arn, tags={"env": "test"})
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "data", "env": "test"}
    logs.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "test"}
    logs.delete_log_stream(logGroupName="/app/orders", logStreamName="b-stream")
    assert [s["logStreamName"] for s in logs.describe_log_streams(logGroupName="/app/orders")["logStreams"]] == [
        "a-stream"]


def test_put_and_get_events_forward_and_backward(logs):
    logs.create_log_group(logGroupName="/reading")
    logs.create_log_stream(logGroupName="/reading", logStreamName="s")
    base = now_ms() - 10_000
    result = logs.put_log_events(logGroupName="/reading", logStreamName="s",
                                 logEvents=[{"timestamp": base + i, "message": f"event {i}"} for i in range(25)])
    assert "rejectedLogEventsInfo" not in result and result["nextSequenceToken"]
    # Without a token and startFromHead, the most recent events come back (in order).
    latest = logs.get_log_events(logGroupName="/reading", logStreamName="s", limit=10)
    assert [e["message"] for e in latest["events"]] == [f"event {i}" for i in range(15, 25)]
    earlier = logs.get_log_events(logGroupName="/reading", logStreamName="s", limit=10,
                                  nextToken=latest["nextBackwardToken"])
    assert [e["message"] for e in earlier["events"]] == [f"event {i}" for i in range(5, 15)]
    # From the head, page forward until the token stops changing.
    seen, token = [], None
    while True:
        kwargs = {"nextToken": token} if token else {"startFromHead": True}
        page = logs.get_log_events(logGroupName="/reading", logStreamName="s", limit=7, **kwargs)
        seen += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
    assert seen == [f"event {i}" for i in range(25)]
    window = logs.get_log_events(logGroupName="/reading", logStreamName="s", startTime=base + 3, endTime=base + 6,
                                 startFromHead=True)
    assert [e["message"] for e in window["events"]] == ["event 3", "event 4", "event 5"]
    event = window["events"][0]
    assert event["timestamp"] == base + 3 and event["ingestionTime"] >= event["timestamp"]
    stream = logs.describe_log_streams(logGroupName="/reading")["logStreams"][0]
    assert stream["firstEventTimestamp"] == base and stream["lastEventTimestamp"] == base + 24
    assert stream["storedBytes"] > 0


def test_put_rules(logs):
    logs.create_log_group(logGroupName="/rules")
    logs.create_log_stream(logGroupName="/rules", logStreamName="s")
    now = now_ms()
    assert error(logs.put_log_events, logGroupName="/rules", logStreamName="s",
                 logEvents=[{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}])[
        "Message"] == "Log events in a single PutLogEvents request must be in chronological order."
    result = logs.put_log_events(logGroupName="/rules", logStreamName="s", logEvents=[
        {"timestamp": now - 20 * 86400_000, "message": "too old"}])
    assert result["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 0}
    result = logs.put_log_events(logGroupName="/rules", logStreamName="s", logEvents=[
        {"timestamp": now, "message": "fine"}, {"timestamp": now + 3 * 3600_000, "message": "too new"}])
    assert result["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 1}
    assert error(logs.put_log_events, logGroupName="/rules", logStreamName="s", logEvents=[
        {"timestamp": now - 25 * 3600_000, "message": "a"}, {"timestamp": now, "message": "b"}])["Message"] == \
        "The batch of log events in a single PutLogEvents request cannot span more than 24 hours."
    stored = logs.get_log_events(logGroupName="/rules", logStreamName="s")["events"]
    assert [e["message"] for e in stored] == ["fine"]
    assert error(logs.put_log_events, logGroupName="/rules", logStreamName="nope",
                 logEvents=[{"timestamp": now, "message": "x"}])["Message"] == "The specified log stream does not exist."


def test_filter_log_events(logs):
    logs.create_log_group(logGroupName="/filter")
    base = now_ms() - 60_000
    lines = {
        "api-1": ['{"level": "ERROR", "latency": 30, "path": "/orders"}', "[INFO] started",
                  '{"level": "INFO", "latency": 900, "path": "/orders"}'],
        "api-2": ["[ERROR] Failed to connect to db", "[WARN] slow", '{"level": "ERROR", "latency": 5}'],
        "worker": ["[ERROR] Failed to connect to queue", "Exiting after ERROR"],
    }
    offset = 0
    for stream, messages in lines.items():
        logs.create_log_stream(logGroupName="/filter", logStreamName=stream)
        logs.put_log_events(logGroupName="/filter", logStreamName=stream, logEvents=[
            {"timestamp": base + offset + i, "message": m} for i, m in enumerate(messages)])
        offset += 10

    def found(**kwargs):
        return [e["message"] for e in logs.filter_log_events(logGroupName="/filter", **kwargs)["events"]]

    assert len(found()) == 8
    assert found(filterPattern='{ $.level = "ERROR" }') == ['{"level": "ERROR", "latency": 30, "path": "/orders"}',
                                                            '{"level": "ERROR", "latency": 5}']
    assert found(filterPattern="{ $.latency > 100 }") == ['{"level": "INFO", "latency": 900, "path": "/orders"}']
    assert found(filterPattern='{ ($.level = "ERROR") && ($.latency < 10) }') == ['{"level": "ERROR", "latency": 5}']
    assert found(filterPattern='"Failed to connect"') == ["[ERROR] Failed to connect to db",
                                                          "[ERROR] Failed to connect to queue"]
    assert found(filterPattern="?WARN ?Exiting") == ["[WARN] slow", "Exiting after ERROR"]
    assert found(filterPattern="ERROR -Exiting -level") == ["[ERROR] Failed to connect to db",
                                                            "[ERROR] Failed to connect to queue"]
    assert found(filterPattern="ERROR", logStreamNames=["worker"]) == ["[ERROR] Failed to connect to queue",
                                                                      "Exiting after ERROR"]
    assert found(filterPattern="ERROR", logStreamNamePrefix="api-") == [
        '{"level": "ERROR", "latency": 30, "path": "/orders"}', "[ERROR] Failed to connect to db",
        '{"level": "ERROR", "latency": 5}']
    assert found(startTime=base + 10, endTime=base + 11) == ["[ERROR] Failed to connect to db", "[WARN] slow"]
    first = logs.filter_log_events(logGroupName="/filter", limit=3)
    second = logs.filter_log_events(logGroupName="/filter", limit=3, nextToken=first["nextToken"])
    assert [e["message"] for e in first["events"] + second["events"]] == found()[:6]
    event = first["events"][0]
    assert event["logStreamName"] == "api-1" and len(event["eventId"]) == 56
    assert error(logs.filter_log_events, logGroupName="/filter", filterPattern="{ $.level = ")["Code"] == \
        "InvalidParameterException"


def test_retention_expires_events(logs, stack):
    logs.create_log_group(logGroupName="/retained")
    logs.create_log_stream(logGroupName="/retained", logStreamName="s")
    now = now_ms()
    logs.put_log_events(logGroupName="/retained", logStreamName="s", logEvents=[
        {"timestamp": now - 3 * 86400_000, "message": "three days old"}])
    logs.put_log_events(logGroupName="/retained", logStreamName="s", logEvents=[
        {"timestamp": now - 1000, "message": "recent"}])
    assert len(logs.get_log_events(logGroupName="/retained", logStreamName="s")["events"]) == 2
    assert error(logs.put_retention_policy, logGroupName="/retained", retentionInDays=2)["Code"] == \
        "InvalidParameterException"
    logs.put_retention_policy(logGroupName="/retained", retentionInDays=1)
    assert logs.describe_log_groups(logGroupNamePrefix="/retained")["logGroups"][0]["retentionInDays"] == 1
    # Expired events disappear from reads at once, and from disk when the sweep runs.
    assert [e["message"] for e in logs.get_log_events(logGroupName="/retained", logStreamName="s")["events"]] == [
        "recent"]
    assert [e["message"] for e in logs.filter_log_events(logGroupName="/retained")["events"]] == ["recent"]
    deadline = time.monotonic() + 10
    while logs.describe_log_streams(logGroupName="/retained")["logStreams"][0]["storedBytes"] != len("recent"):
        assert time.monotonic() < deadline, "the expired event was not removed"
        time.sleep(0.05)
    result = logs.put_log_events(logGroupName="/retained", logStreamName="s", logEvents=[
        {"timestamp": now - 2 * 86400_000, "message": "expired on arrival"}])
    assert result["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 0}
    logs.delete_retention_policy(logGroupName="/retained")
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix="/retained")["logGroups"][0]


def test_delete_log_group(logs):
    logs.create_log_group(logGroupName="/doomed")
    logs.create_log_stream(logGroupName="/doomed", logStreamName="s")
    logs.put_log_events(logGroupName="/doomed", logStreamName="s", logEvents=[{"timestamp": now_ms(), "message": "x"}])
    logs.delete_log_group(logGroupName="/doomed")
    assert error(logs.get_log_events, logGroupName="/doomed", logStreamName="s")["Code"] == "ResourceNotFoundException"
    assert error(logs.delete_log_group, logGroupName="/doomed")["Code"] == "ResourceNotFoundException"
    logs.create_log_group(logGroupName="/doomed")  # the name is free again, and empty
    assert logs.describe_log_streams(logGroupName="/doomed")["logStreams"] == []


def test_iam_policies_apply(stack, logs):
    iam = stack.client("iam")
    iam.create_user(UserName="log-writer")
    iam.put_user_policy(UserName="log-writer", PolicyName="w", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["logs:PutLogEvents", "logs:GetLogEvents"],
                                                "Resource": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/granted:*"}]}))
    key = iam.create_access_key(UserName="log-writer")["AccessKey"]
    user = stack.client("logs", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    logs.create_log_group(logGroupName="/granted")
    logs.create_log_stream(logGroupName="/granted", logStreamName="s")
    user.put_log_events(logGroupName="/granted", logStreamName="s", logEvents=[{"timestamp": now_ms(), "message": "ok"}])
    assert user.get_log_events(logGroupName="/granted", logStreamName="s")["events"][0]["message"] == "ok"
    assert error(user.create_log_group, logGroupName="/mine")["Code"] == "AccessDeniedException"
    assert error(user.describe_log_groups)["Code"] == "AccessDeniedException"
