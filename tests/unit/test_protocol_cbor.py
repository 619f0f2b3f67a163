"""smithy-rpc-v2-cbor round trips through botocore's own serializer and parser: what boto3
sends, our parser reads back; what our serializer answers, boto3 reads back."""

import datetime as dt
import math
import random
from urllib.parse import urlsplit

import botocore.session
import cbor2
import pytest
from botocore.awsrequest import AWSResponse, HeadersDict
from botocore.model import ServiceModel
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from lakestack.aws.errors import AwsError
from lakestack.aws.protocols import cbor
from lakestack.aws.request import BytesBody, HttpRequest
from lakestack.aws.specs import service_model

UTC = dt.UTC
PROTOCOL = "smithy-rpc-v2-cbor"
WHEN = dt.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)


class Ctx:
    request_id = "req-1"


def to_http(serialized: dict) -> HttpRequest:
    headers = {k.lower(): v for k, v in serialized["headers"].items()}
    return HttpRequest(serialized["method"], serialized["url_path"], "", headers, BytesBody(serialized["body"]))


def roundtrip_request(model, operation, params):
    op = model.operation_model(operation)
    http = to_http(create_serializer(PROTOCOL).serialize_to_request(params, op))
    assert http.headers["smithy-protocol"] == "rpc-v2-cbor"
    assert cbor.operation_name(http) == operation
    assert cbor.service_shape_name(http) == model.metadata["targetPrefix"]
    return cbor.parse_request(op, http, http.body.read())


def parse_answer(resp, shape):
    parsed = create_parser(PROTOCOL).parse(
        {"status_code": resp.status, "headers": HeadersDict(resp.headers), "body": resp.body}, shape)
    parsed.pop("ResponseMetadata", None)
    return parsed


def roundtrip_response(model, operation, output):
    op = model.operation_model(operation)
    resp = cbor.serialize_response(op, output, Ctx())
    headers = HeadersDict(resp.headers)
    assert (resp.status, headers["content-type"]) == (200, "application/cbor")
    assert (headers["smithy-protocol"], headers["x-amzn-requestid"]) == ("rpc-v2-cbor", "req-1")
    return parse_answer(resp, op.output_shape)


def parse_raw(model, operation, data) -> dict:
    op = model.operation_model(operation)
    http = HttpRequest("POST", f"/service/{model.metadata['targetPrefix']}/operation/{operation}", "",
                       {"smithy-protocol": "rpc-v2-cbor"}, BytesBody(data))
    return cbor.parse_request(op, http, data)


CLOUDWATCH = service_model("cloudwatch")
DATASYNC = service_model("datasync")

# What CloudWatch and DataSync lack (float, document, union, a map of structures, lists
# of lists, recursion, an error with extra fields), in a small model of our own.
SYNTHETIC = ServiceModel({
    "metadata": {"protocol": PROTOCOL, "protocols": [PROTOCOL], "apiVersion": "2024-01-01",
                 "serviceId": "Synthetic Things", "endpointPrefix": "synthetic", "signatureVersion": "v4",
                 "targetPrefix": "SyntheticService", "uid": "synthetic-2024-01-01"},
    "operations": {
        "Echo": {"name": "Echo", "http": {"method": "POST", "requestUri": "/"},
                 "input": {"shape": "Everything"}, "output": {"shape": "Everything"},
                 "errors": [{"shape": "BadThing"}]},
        "Nothing": {"name": "Nothing", "http": {"method": "POST", "requestUri": "/"},
                    "input": {"shape": "Empty"}, "output": {"shape": "Empty"}},
    },
    "shapes": {
        "Everything": {"type": "structure", "members": {
            "Str": {"shape": "String"}, "Int": {"shape": "Integer"}, "Long": {"shape": "Long"},
            "Float": {"shape": "Float"}, "Double": {"shape": "Double"}, "Bool": {"shape": "Boolean"},
            "When": {"shape": "Timestamp"}, "Data": {"shape": "Blob"}, "Doc": {"shape": "Document"},
            "Choice": {"shape": "Choice"}, "Grid": {"shape": "Grid"}, "Things": {"shape": "ThingMap"},
            "Child": {"shape": "Everything"},
            "Floats": {"shape": "FloatList"}, "Stamps": {"shape": "StampList"},
        }},
        "Empty": {"type": "structure", "members": {}},
        "Choice": {"type": "structure", "union": True,
                   "members": {"Text": {"shape": "String"}, "Number": {"shape": "Integer"}}},
        "Grid": {"type": "list", "member": {"shape": "Row"}},
        "Row": {"type": "list", "member": {"shape": "Integer"}},
        "ThingMap": {"type": "map", "key": {"shape": "String"}, "value": {"shape": "Thing"}},
        "Thing": {"type": "structure", "members": {"Name": {"shape": "String"}, "At": {"shape": "Timestamp"}}},
        "FloatList": {"type": "list", "member": {"shape": "Float"}},
        "StampList": {"type": "list", "member": {"shape": "Timestamp"}},
        "BadThing": {"type": "structure", "exception": True, "error": {"httpStatusCode": 409},
                     "members": {"Message": {"shape": "String"}, "Since": {"shape": "Timestamp"},
                                 "Count": {"shape": "Integer"}}},
        "String": {"type": "string"}, "Integer": {"type": "integer"}, "Long": {"type": "long"},
        "Float": {"type": "float"}, "Double": {"type": "double"}, "Boolean": {"type": "boolean"},
        "Timestamp": {"type": "timestamp"}, "Blob": {"type": "blob"},
        "Document": {"type": "structure", "document": True, "members": {}},
    },
}, service_name="synthetic")


# --- requests: botocore's serializer → our parser -------------------------------------------


def test_put_metric_data_request_with_doubles_lists_maps_and_timestamps():
    params = {
        "Namespace": "Lake/Ingest",
        "MetricData": [
            {"MetricName": "Rows", "Dimensions": [{"Name": "Table", "Value": "rides"}], "Timestamp": WHEN,
             "Value": 12.5, "Unit": "Count", "StorageResolution": 1},
            {"MetricName": "Latency", "Dimensions": [], "Timestamp": dt.datetime(2024, 1, 1, tzinfo=UTC),
             "Values": [0.25, 1.0, 1e300, -3.5], "Counts": [1.0, 2.0, 3.0, 4.0],
             "StatisticValues": {"SampleCount": 3.0, "Sum": 6.0, "Minimum": 1.0, "Maximum": 3.0}},
        ],
        "EntityMetricData": [{
            "Entity": {"KeyAttributes": {"Type": "Service", "Name": "ingest"}, "Attributes": {}},
            "MetricData": [{"MetricName": "Errors", "Value": 0.0}],
        }],
        "StrictEntityValidation": False,
    }
    parsed = roundtrip_request(CLOUDWATCH, "PutMetricData", params)
    assert parsed == params
    assert parsed["MetricData"][0]["Timestamp"].tzinfo is not None
    assert isinstance(parsed["MetricData"][1]["Values"][1], float)


def test_nan_and_infinity_doubles_read_back():
    params = {"Namespace": "n", "MetricData": [{"MetricName": "m", "Value": math.nan,
                                                "Values": [math.inf, -math.inf, math.nan]}]}
    datum = roundtrip_request(CLOUDWATCH, "PutMetricData", params)["MetricData"][0]
    assert math.isnan(datum["Value"])
    assert datum["Values"][:2] == [math.inf, -math.inf] and math.isnan(datum["Values"][2])


def test_get_metric_data_request_with_nested_structures():
    params = {
        "MetricDataQueries": [
            {"Id": "q1", "ReturnData": True, "MetricStat": {
                "Metric": {"Namespace": "AWS/Kinesis", "MetricName": "IncomingRecords",
                           "Dimensions": [{"Name": "StreamName", "Value": "rides"}]},
                "Period": 60, "Stat": "Sum", "Unit": "Count"}},
            {"Id": "q2", "Expression": "q1 * 2", "Label": "double", "ReturnData": False, "Period": 300},
        ],
        "StartTime": WHEN - dt.timedelta(hours=1),
        "EndTime": WHEN,
        "ScanBy": "TimestampDescending",
        "MaxDatapoints": 100800,
        "LabelOptions": {"Timezone": "+0130"},
    }
    assert roundtrip_request(CLOUDWATCH, "GetMetricData", params) == params


def test_empty_and_absent_inputs():
    assert roundtrip_request(CLOUDWATCH, "ListMetrics", {}) == {}
    assert roundtrip_request(CLOUDWATCH, "DescribeAlarms", {"AlarmNames": [], "AlarmTypes": ["MetricAlarm"]}) == {
        "AlarmNames": [], "AlarmTypes": ["MetricAlarm"]}
    assert parse_raw(CLOUDWATCH, "ListMetrics", b"") == {}
    assert parse_raw(CLOUDWATCH, "ListMetrics", b"\xbf\xff") == {}  # an indefinite-length empty map


def test_datasync_blobs_and_longs():
    keytab = bytes(range(256)) * 3
    params = {"Subdirectory": "/data", "NameNodes": [{"Hostname": "nn", "Port": 8020}],
              "AuthenticationType": "KERBEROS", "KerberosPrincipal": "me@LAKE", "KerberosKeytab": keytab,
              "KerberosKrb5Conf": b"", "AgentArns": ["arn:aws:datasync:us-east-1:0:agent/a"]}
    assert roundtrip_request(DATASYNC, "CreateLocationHdfs", params) == params
    params = {"TaskArn": "arn:aws:datasync:us-east-1:0:task/t",
              "Options": {"BytesPerSecond": 2**40, "VerifyMode": "NONE"}}
    assert roundtrip_request(DATASYNC, "UpdateTask", params) == params
    params["Options"]["BytesPerSecond"] = -1  # the documented "no limit"
    assert roundtrip_request(DATASYNC, "UpdateTask", params) == params


def test_every_shape_type_in_a_synthetic_model():
    params = {
        "Str": "ü ☃ \x00", "Int": -(2**31), "Long": 2**63 - 1, "Float": 0.5, "Double": -1e-300, "Bool": True,
        "When": dt.datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC), "Data": b"\x00\xff",
        "Choice": {"Number": 7}, "Grid": [[1, 2], [], [3]], "Things": {"a": {"Name": "x", "At": WHEN}, "b": {}},
        "Child": {"Child": {"Str": "deep", "Floats": [1.5, math.inf]}}, "Stamps": [WHEN],
    }
    assert roundtrip_request(SYNTHETIC, "Echo", params) == params


def test_request_details_botocore_does_not_send():
    # A document (no SDK sends one in this protocol), integers for floats, a bare epoch
    # number for a timestamp, `undefined` and null members, unknown members and `__type`.
    data = cbor2.dumps({"Doc": {"k": [1, "two", None]}, "Float": 2, "Double": 3, "When": 1700000000,
                        "Str": cbor2.undefined, "Int": None, "Unknown": {"x": 1}, "__type": "x#Y",
                        "Choice": {"__type": "x#Choice", "Text": "t"}})
    parsed = parse_raw(SYNTHETIC, "Echo", data)
    assert parsed == {"Doc": {"k": [1, "two", None]}, "Float": 2.0, "Double": 3.0,
                      "When": dt.datetime.fromtimestamp(1700000000, UTC), "Choice": {"Text": "t"}}
    assert isinstance(parsed["Float"], float)


# --- responses: our serializer → botocore's parser ------------------------------------------


def test_get_metric_data_response_with_timestamp_lists_and_special_doubles():
    out = {
        "MetricDataResults": [
            {"Id": "q1", "Label": "IncomingRecords", "Timestamps": [WHEN, WHEN - dt.timedelta(minutes=1)],
             "Values": [10.0, 0.5], "StatusCode": "Complete", "Messages": []},
            {"Id": "q2", "Timestamps": [], "Values": [], "StatusCode": "PartialData",
             "Messages": [{"Code": "MaxQueryTimeRangeExceed", "Value": "v"}]},
        ],
        "NextToken": "tok",
        "Messages": [],
    }
    assert roundtrip_response(CLOUDWATCH, "GetMetricData", out) == out
    special = {"MetricDataResults": [{"Id": "q", "Values": [math.inf, -math.inf, math.nan]}]}
    values = roundtrip_response(CLOUDWATCH, "GetMetricData", special)["MetricDataResults"][0]["Values"]
    assert values[:2] == [math.inf, -math.inf] and math.isnan(values[2])


def test_describe_alarms_response_with_booleans_integers_and_nested_queries():
    alarm = {
        "AlarmName": "too-slow", "AlarmArn": "arn:aws:cloudwatch:us-east-1:0:alarm:too-slow",
        "AlarmConfigurationUpdatedTimestamp": WHEN, "ActionsEnabled": True, "OKActions": [],
        "AlarmActions": ["arn:aws:sns:us-east-1:0:t"], "StateValue": "ALARM", "StateReason": "r",
        "StateUpdatedTimestamp": dt.datetime(2024, 1, 1, tzinfo=UTC), "EvaluationPeriods": 3,
        "DatapointsToAlarm": 2, "Threshold": 1.5, "ComparisonOperator": "GreaterThanThreshold",
        "Metrics": [{"Id": "m1", "ReturnData": False, "MetricStat": {
            "Metric": {"Namespace": "Lake", "MetricName": "Latency", "Dimensions": []},
            "Period": 60, "Stat": "p99"}}],
    }
    out = {"MetricAlarms": [alarm], "CompositeAlarms": [], "NextToken": "n"}
    assert roundtrip_response(CLOUDWATCH, "DescribeAlarms", out) == out


def test_list_metrics_get_metric_statistics_and_insight_report_responses():
    out = {"Metrics": [{"Namespace": "Lake", "MetricName": "Rows", "Dimensions": [{"Name": "T", "Value": "v"}]}],
           "OwningAccounts": ["000000000000"]}
    assert roundtrip_response(CLOUDWATCH, "ListMetrics", out) == out
    out = {"Label": "Rows", "Datapoints": [{"Timestamp": WHEN, "Sum": 3.0, "Unit": "Count",
                                            "ExtendedStatistics": {"p99": 2.5, "p50": 1.0}},
                                           {"Timestamp": WHEN, "ExtendedStatistics": {}}]}
    assert roundtrip_response(CLOUDWATCH, "GetMetricStatistics", out) == out
    out = {"KeyLabels": ["k"], "AggregateValue": 7.0, "ApproximateUniqueCount": 2**53 + 1,
           "Contributors": [{"Keys": ["a"], "ApproximateAggregateValue": 1.0,
                             "Datapoints": [{"Timestamp": WHEN, "ApproximateValue": 1.0}]}]}
    assert roundtrip_response(CLOUDWATCH, "GetInsightRuleReport", out) == out


def test_blob_long_and_timestamp_responses():
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    assert roundtrip_response(CLOUDWATCH, "GetMetricWidgetImage", {"MetricWidgetImage": png}) == {
        "MetricWidgetImage": png}
    out = {"TaskExecutionArn": "arn:aws:datasync:us-east-1:0:task/t/execution/e", "Status": "SUCCESS",
           "BytesTransferred": 2**40, "FilesTransferred": 0, "StartTime": WHEN, "Includes": []}
    assert roundtrip_response(DATASYNC, "DescribeTaskExecution", out) == out


def test_every_shape_type_in_a_synthetic_response():
    out = {
        "Str": "ü", "Int": 42, "Long": -(2**63), "Float": 1.25, "Double": math.pi, "Bool": False,
        "When": WHEN, "Data": b"\x00", "Choice": {"Text": "t"},
        "Grid": [[1], []], "Things": {"k": {"Name": "n", "At": WHEN}}, "Child": {"Child": {}},
        "Floats": [-math.inf], "Stamps": [],
    }
    assert roundtrip_response(SYNTHETIC, "Echo", out) == out


def test_wire_form_of_answers():
    resp = cbor.serialize_response(SYNTHETIC.operation_model("Echo"), {
        "When": dt.datetime(2024, 1, 1, tzinfo=UTC), "Stamps": [WHEN], "Double": 2, "Str": None,
        "Data": "text", "Doc": {"any": [1, {"thing": True}]}}, Ctx())
    body = cbor2.loads(resp.body, tag_hook=lambda _, tag: tag, semantic_decoders={1: lambda v, _: ("tag1", v)})
    # Whole seconds as an integer, otherwise milliseconds; floats as floats; nulls omitted; a
    # document as it is (botocore's parser cannot read one: no rpcv2Cbor model has any).
    assert body == {"When": ("tag1", 1704067200), "Stamps": [("tag1", 1714979289.123)], "Double": 2.0,
                    "Data": b"text", "Doc": {"any": [1, {"thing": True}]}}
    assert isinstance(body["Double"], float)
    assert cbor.serialize_response(SYNTHETIC.operation_model("Nothing"), None, Ctx()).body == b"\xa0"


def test_operation_without_output_answers_with_no_body():
    op = CLOUDWATCH.operation_model("PutMetricData")
    assert op.output_shape is None
    resp = cbor.serialize_response(op, {}, Ctx())
    headers = HeadersDict(resp.headers)
    assert (resp.status, resp.body, "content-type" in headers) == (200, b"", False)
    assert headers["smithy-protocol"] == "rpc-v2-cbor"
    assert parse_answer(resp, None) == {}


# --- errors ---------------------------------------------------------------------------------


def error_of(model, error):
    resp = cbor.serialize_error(model, error, "req-9")
    assert resp.status == error.status
    headers = HeadersDict(resp.headers)
    assert (headers["content-type"], headers["smithy-protocol"]) == ("application/cbor", "rpc-v2-cbor")
    parsed = create_parser(PROTOCOL).parse(
        {"status_code": resp.status, "headers": headers, "body": resp.body}, None)
    return resp, headers, parsed


def test_query_compatible_error_names_the_query_code():
    resp, headers, parsed = error_of(CLOUDWATCH, AwsError("ResourceNotFound", "no such alarm", status=404))
    assert cbor2.loads(resp.body) == {"__type": "com.amazonaws.cloudwatch#ResourceNotFound",
                                      "message": "no such alarm"}
    assert headers["x-amzn-query-error"] == "ResourceNotFound;Sender"
    assert parsed["Error"]["Code"] == "ResourceNotFound"
    assert parsed["Error"]["Message"] == "no such alarm"
    assert parsed["ResponseMetadata"]["RequestId"] == "req-9"

    # Raised by shape name, the answer still carries the code the shape is modeled with.
    resp, headers, parsed = error_of(CLOUDWATCH, AwsError("InvalidParameterValueException", "bad", status=400))
    assert cbor2.loads(resp.body)["__type"] == "com.amazonaws.cloudwatch#InvalidParameterValueException"
    assert parsed["Error"]["Code"] == "InvalidParameterValue"

    # A server fault, with the capitalised message member that shape has.
    resp, headers, parsed = error_of(CLOUDWATCH, AwsError("InternalServiceError", "oops", status=500,
                                                          sender_fault=False))
    assert cbor2.loads(resp.body) == {"__type": "com.amazonaws.cloudwatch#InternalServiceFault", "Message": "oops"}
    assert headers["x-amzn-query-error"] == "InternalServiceError;Receiver"
    assert parsed["Error"]["Code"] == "InternalServiceError" and parsed["Error"]["Message"] == "oops"

    # An error the model does not know keeps its own code.
    _, headers, parsed = error_of(CLOUDWATCH, AwsError("SerializationException", "bad body"))
    assert headers["x-amzn-query-error"] == "SerializationException;Sender"
    assert parsed["Error"]["Code"] == "SerializationException"


def test_plain_service_error_has_no_query_header_and_keeps_fields():
    resp, headers, parsed = error_of(DATASYNC, AwsError("InvalidRequestException", "nope",
                                                        errorCode="InvalidParameters"))
    assert "x-amzn-query-error" not in headers
    assert cbor2.loads(resp.body) == {"__type": "com.amazonaws.datasync#InvalidRequestException",
                                      "message": "nope", "errorCode": "InvalidParameters"}
    assert parsed["Error"]["Code"] == "InvalidRequestException"

    resp, _, parsed = error_of(SYNTHETIC, AwsError("BadThing", "conflict", status=409, Since=WHEN, Count=2,
                                                   Extra=dt.datetime(2024, 1, 1, tzinfo=UTC)))
    body = cbor2.loads(resp.body)
    assert body == {"__type": "com.amazonaws.syntheticthings#BadThing", "Message": "conflict",
                    "Since": WHEN, "Count": 2, "Extra": dt.datetime(2024, 1, 1, tzinfo=UTC)}
    assert parsed["Error"]["Code"] == "BadThing"


class _Raw:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **_):
        yield self.body


def test_botocore_client_end_to_end_raises_the_modeled_exception(monkeypatch):
    """A real botocore client, its HTTP send replaced by our parser and serializer.

    botocore itself prefers `json` where a model also lists it (CloudWatch does); the other
    SDKs (JavaScript v3, Go v2, Java v2) speak CBOR to it, so make botocore do the same."""
    monkeypatch.setattr("botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS", (PROTOCOL,))
    seen = {}

    def answer(request, **_):
        headers = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        assert headers["smithy-protocol"] == "rpc-v2-cbor"
        http = HttpRequest(request.method, urlsplit(request.url).path, "", headers, BytesBody(request.body or b""))
        op = CLOUDWATCH.operation_model(cbor.operation_name(http))
        seen[op.name] = cbor.parse_request(op, http, http.body.read())
        if op.name == "DeleteDashboards":
            resp = cbor.serialize_error(CLOUDWATCH, AwsError("ResourceNotFound", "gone", status=404), "r")
        else:
            resp = cbor.serialize_response(op, {"Metrics": [{"Namespace": "Lake", "MetricName": "m"}]}, Ctx())
        return AWSResponse(request.url, resp.status, HeadersDict(resp.headers), _Raw(resp.body))

    client = botocore.session.get_session().create_client(
        "cloudwatch", region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
    client.meta.events.register("before-send.cloudwatch", answer)
    got = client.list_metrics(Namespace="Lake", RecentlyActive="PT3H")
    assert got["Metrics"] == [{"Namespace": "Lake", "MetricName": "m"}]
    assert seen["ListMetrics"] == {"Namespace": "Lake", "RecentlyActive": "PT3H"}
    with pytest.raises(client.exceptions.ResourceNotFound) as caught:
        client.delete_dashboards(DashboardNames=["d"])
    assert caught.value.response["Error"]["Code"] == "ResourceNotFound"
    assert caught.value.response["Error"]["Message"] == "gone"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


# --- routing --------------------------------------------------------------------------------


@pytest.mark.parametrize("path, service, operation", [
    ("/service/GraniteServiceVersion20100801/operation/PutMetricData", "GraniteServiceVersion20100801",
     "PutMetricData"),
    ("/v1/service/FmrsService/operation/CreateTask", "FmrsService", "CreateTask"),
    ("/service/com.amazonaws.cloudwatch.GraniteServiceVersion20100801/operation/ListMetrics",
     "GraniteServiceVersion20100801", "ListMetrics"),
    ("/service/X/operation/Y?x=1", "X", "Y"),
    ("/", None, None),
    ("/service//operation/Y", None, None),
    ("/service/X/operation/", None, None),
    ("/bucket/service/X/key", None, None),
])
def test_routing_from_the_path(path, service, operation):
    http = HttpRequest("POST", path, "", {}, BytesBody(b""))
    assert (cbor.service_shape_name(http), cbor.operation_name(http)) == (service, operation)


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    b"\xa1",  # a map missing its pair
    b"\xff",  # a break with nothing to end
    b"\x5b\x7f\xff\xff\xff\xff\xff\xff\xff",  # a byte string longer than the body
    b"\xa1\x61",  # a truncated key
    b"\xa0\xa0",  # data after the top-level map
    b"\xa1\x62\xc3\x28\x01",  # a key that is not UTF-8
    b"\xa2\x61a\x01\x61a\x02",  # a duplicate key
    b"\x81\x01",  # a list where a map must be
    b"\xf6",  # null
    b"\xd8\x1c\x81\xd8\x1d\x00",  # a shared value that contains itself
    b"\xa1\x61a" + b"\x81" * 10000 + b"\x01",  # nesting deeper than any model
    b"\xc1\x61x",  # a timestamp tag around a string
    b"{}",  # JSON is not CBOR
])
def test_malformed_cbor_is_a_serialization_exception(body):
    with pytest.raises(AwsError) as caught:
        parse_raw(CLOUDWATCH, "PutMetricData", body)
    assert (caught.value.code, caught.value.status) == ("SerializationException", 400)


@pytest.mark.parametrize("params", [
    {"Namespace": 1},
    {"Namespace": b"bytes"},
    {"MetricData": {"MetricName": "m"}},  # a map where a list must be
    {"MetricData": ["m"]},  # a string where a structure must be
    {"MetricData": [{"Value": "1.5"}]},
    {"MetricData": [{"Value": True}]},
    {"MetricData": [{"StorageResolution": 1.0}]},
    {"MetricData": [{"StorageResolution": True}]},
    {"MetricData": [{"StorageResolution": 2**31}]},  # past a 32-bit integer
    {"MetricData": [{"Timestamp": "2024-01-01T00:00:00Z"}]},
    {"MetricData": [{"Timestamp": 10**30}]},
    {"MetricData": [{"Timestamp": math.nan}]},
    {"MetricData": [{"Values": [1.0, "x"]}]},
    {"StrictEntityValidation": 1},
    {"EntityMetricData": [{"Entity": {"KeyAttributes": {1: "x"}}}]},  # a key that is no string
    {"EntityMetricData": [{"Entity": {"KeyAttributes": {"k": 1}}}]},
])
def test_values_of_the_wrong_type_are_a_serialization_exception(params):
    with pytest.raises(AwsError) as caught:
        parse_raw(CLOUDWATCH, "PutMetricData", cbor2.dumps(params))
    assert caught.value.code == "SerializationException"


def test_wrong_types_in_datasync_and_synthetic_shapes():
    for model, op, params in [
        (DATASYNC, "CreateLocationHdfs", {"KerberosKeytab": "not bytes"}),
        (DATASYNC, "UpdateTask", {"Options": {"BytesPerSecond": 2**63}}),
        (DATASYNC, "UpdateTask", {"Options": {"BytesPerSecond": 1.5}}),
        (SYNTHETIC, "Echo", {"Float": 10**400}),
        (SYNTHETIC, "Echo", {"Grid": [[1], "row"]}),
        (SYNTHETIC, "Echo", {"Things": {"k": [1]}}),
        (SYNTHETIC, "Echo", {"Doc": 1, "Child": {"Child": {"Bool": "yes"}}}),
    ]:
        with pytest.raises(AwsError) as caught:
            parse_raw(model, op, cbor2.dumps(params))
        assert caught.value.code == "SerializationException", params


def test_arbitrary_bytes_never_raise_anything_but_serialization_exception():
    valid = create_serializer(PROTOCOL).serialize_to_request(
        {"Namespace": "n", "MetricData": [{"MetricName": "m", "Timestamp": WHEN, "Values": [1.0, 2.0],
                                           "Dimensions": [{"Name": "a", "Value": "b"}]}]},
        CLOUDWATCH.operation_model("PutMetricData"))["body"]
    rng = random.Random(7)
    bodies = [rng.randbytes(rng.randint(1, 40)) for _ in range(300)]
    for _ in range(700):  # the valid body with a few bytes changed, cut or repeated
        body = bytearray(valid)
        for _ in range(rng.randint(1, 3)):
            body[rng.randrange(len(body))] = rng.randrange(256)
        bodies.append(bytes(body[: rng.randint(1, len(body))]) if rng.random() < 0.3 else bytes(body))
    for body in bodies:
        try:
            parse_raw(CLOUDWATCH, "PutMetricData", body)
        except AwsError as error:
            assert error.code == "SerializationException"
