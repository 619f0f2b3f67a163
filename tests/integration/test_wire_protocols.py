"""A service answers every protocol it speaks or spoke, in the protocol the request came in.

Athena through botocore's own rest-json client (botocore >= 1.44) and through a client built
from the same model with JSON 1.1 in its metadata (what older botocore, the JavaScript and
Java SDKs and the JDBC/ODBC drivers send): every implemented operation, identical answers,
AWS-shaped errors in each. Services botocore knows but lakestack does not serve answer 501
in their own protocol; a request in a protocol the service never spoke gets that service's
error, never a 500.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re

import boto3
import botocore.session
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.helpers import error_of

NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})
OUTPUT = "s3://wire-protocols/results/"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _json_model(model_dir, service: str, target_prefix: str, json_version: str) -> None:
    """Write `service`'s current model with the `json` protocol in its metadata (REST bindings
    dropped, as in the JSON-era model) where botocore's loader will find it first."""
    _variant_model(model_dir, service, "json", jsonVersion=json_version, targetPrefix=target_prefix)


def _variant_model(model_dir, service: str, protocol: str, **metadata) -> None:
    loader = botocore.session.get_session().get_component("data_loader")
    version = loader.determine_latest_version(service, "service-2")
    model = copy.deepcopy(loader.load_service_model(service, "service-2"))
    model["metadata"].update(protocol=protocol, protocols=[protocol], **metadata)
    for shape in model["shapes"].values():
        shape.pop("payload", None)
        for member in shape.get("members", {}).values():
            member.pop("location", None)
            member.pop("locationName", None)
    path = model_dir / service / version
    path.mkdir(parents=True, exist_ok=True)
    (path / "service-2.json").write_text(json.dumps(model))


def client_speaking(stack, service: str, protocol: str, model_dir=None, config=NO_RETRY):
    """A boto3 client for `service`, from botocore's own model or (model_dir) a variant of it."""
    session = botocore.session.get_session()
    if model_dir is not None:
        session.get_component("data_loader").search_paths.insert(0, str(model_dir))
    client = boto3.Session(botocore_session=session).client(
        service, endpoint_url=stack.endpoint_url, region_name="us-east-1", config=config, **stack.credentials)
    assert client.meta.service_model.resolved_protocol == protocol
    sent = []
    client.meta.events.register("before-send", lambda request, **_: sent.append(dict(request.headers)))
    client.sent_headers = sent
    return client


@pytest.fixture(scope="module")
def athena_clients(lakestack_stack, tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("models")
    _json_model(model_dir, "athena", "AmazonAthena", "1.1")
    lakestack_stack.client("s3").create_bucket(Bucket="wire-protocols")
    glue = lakestack_stack.client("glue")
    glue.create_database(DatabaseInput={"Name": "wire_db"})
    glue.create_table(DatabaseName="wire_db", TableInput={
        "Name": "t", "StorageDescriptor": {"Columns": [{"Name": "a", "Type": "int"}],
                                           "Location": "s3://wire-protocols/t/"}})
    return {"rest-json": client_speaking(lakestack_stack, "athena", "rest-json"),
            "json": client_speaking(lakestack_stack, "athena", "json", model_dir)}


def _normalized(value, tag: str):
    """A transcript with what must differ between two runs (ids, times, durations) masked."""
    def walk(v, key=""):
        if isinstance(v, dict):
            return {k: walk(x, k) for k, x in v.items() if k != "ResponseMetadata"}
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, dt.datetime):
            return "<time>"
        if isinstance(v, int | float) and ("Millis" in key or "Time" in key):
            return "<ms>"
        if isinstance(v, str):
            return UUID.sub("<uuid>", v.replace(tag, "<tag>"))
        return v
    return walk(value)


def _athena_scenario(athena, tag: str) -> list:
    """Every Athena operation lakestack implements, once, and a few errors; the transcript."""
    wg, catalog = f"wg_{tag}", f"cat_{tag}"
    steps: list = []

    def call(name, **params):
        try:
            steps.append([name, getattr(athena, name)(**params)])
        except ClientError as error:
            steps.append([name, "error", error.response["Error"].get("Code"), error.response["Error"].get("Message"),
                          error.response["ResponseMetadata"]["HTTPStatusCode"]])
        return steps[-1][1]

    def finished(query_id):
        for _ in range(500):
            state = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"]
            if state in ("SUCCEEDED", "FAILED", "CANCELLED"):
                return state
        raise AssertionError(f"{query_id} did not finish")

    output = {"ResultConfiguration": {"OutputLocation": OUTPUT + tag + "/"}}
    call("create_work_group", Name=wg, Configuration=output, Description="wire", Tags=[{"Key": "k", "Value": tag}])
    call("get_work_group", WorkGroup=wg)
    call("update_work_group", WorkGroup=wg, Description="wire 2")
    listed = call("list_work_groups")
    steps[-1][1] = sorted(w["Name"] for w in listed["WorkGroups"] if w["Name"] in ("primary", wg))
    query_id = call("start_query_execution", QueryString="SELECT 1 AS one, 'x' AS s", WorkGroup=wg,
                    QueryExecutionContext={"Database": "wire_db"})["QueryExecutionId"]
    assert finished(query_id) == "SUCCEEDED"
    call("get_query_execution", QueryExecutionId=query_id)
    call("get_query_results", QueryExecutionId=query_id)
    call("get_query_runtime_statistics", QueryExecutionId=query_id)
    call("batch_get_query_execution", QueryExecutionIds=[query_id, "00000000-0000-0000-0000-000000000000"])
    call("list_query_executions", WorkGroup=wg)
    call("stop_query_execution", QueryExecutionId=query_id)
    named = call("create_named_query", Name="nq", Database="wire_db", QueryString="SELECT 2", WorkGroup=wg)
    call("get_named_query", NamedQueryId=named["NamedQueryId"])
    call("batch_get_named_query", NamedQueryIds=[named["NamedQueryId"]])
    call("list_named_queries", WorkGroup=wg)
    call("update_named_query", NamedQueryId=named["NamedQueryId"], Name="nq2", QueryString="SELECT 3")
    call("delete_named_query", NamedQueryId=named["NamedQueryId"])
    call("create_prepared_statement", StatementName="ps", WorkGroup=wg, QueryStatement="SELECT ?")
    call("get_prepared_statement", StatementName="ps", WorkGroup=wg)
    call("batch_get_prepared_statement", PreparedStatementNames=["ps", "missing"], WorkGroup=wg)
    call("list_prepared_statements", WorkGroup=wg)
    call("update_prepared_statement", StatementName="ps", WorkGroup=wg, QueryStatement="SELECT ? + 1")
    call("delete_prepared_statement", StatementName="ps", WorkGroup=wg)
    call("create_data_catalog", Name=catalog, Type="HIVE", Parameters={"metadata-function": "arn:x"})
    call("get_data_catalog", Name=catalog)
    catalogs = call("list_data_catalogs")
    steps[-1][1] = sorted(c["CatalogName"] for c in catalogs["DataCatalogsSummary"]
                          if c["CatalogName"] in ("AwsDataCatalog", catalog))
    call("update_data_catalog", Name=catalog, Type="HIVE", Description="d", Parameters={"metadata-function": "arn:y"})
    call("delete_data_catalog", Name=catalog)
    databases = call("list_databases", CatalogName="AwsDataCatalog")
    steps[-1][1] = [d for d in databases["DatabaseList"] if d["Name"] == "wire_db"]
    call("get_database", CatalogName="AwsDataCatalog", DatabaseName="wire_db")
    call("list_table_metadata", CatalogName="AwsDataCatalog", DatabaseName="wire_db")
    call("get_table_metadata", CatalogName="AwsDataCatalog", DatabaseName="wire_db", TableName="t")
    call("list_engine_versions")
    arn = athena.get_work_group(WorkGroup=wg)  # for the tag calls' ARN
    arn = f"arn:aws:athena:us-east-1:000000000000:workgroup/{wg}"
    call("tag_resource", ResourceARN=arn, Tags=[{"Key": "x", "Value": "1"}])
    call("untag_resource", ResourceARN=arn, TagKeys=["k"])
    call("list_tags_for_resource", ResourceARN=arn)
    # Errors: each protocol answers them in its own shape, with the same code and message.
    call("get_work_group", WorkGroup=f"missing_{tag}")
    call("get_query_execution", QueryExecutionId="not-an-id")
    call("get_query_results", QueryExecutionId="00000000-0000-0000-0000-000000000000")
    call("get_table_metadata", CatalogName="AwsDataCatalog", DatabaseName="wire_db", TableName="nope")
    call("start_query_execution", QueryString="SELEC nonsense", WorkGroup=wg)
    call("delete_work_group", WorkGroup=wg, RecursiveDeleteOption=True)
    return _normalized(steps, tag)


def test_athena_answers_rest_json_and_json_identically(athena_clients):
    rest_json = _athena_scenario(athena_clients["rest-json"], "tagrest")
    json_11 = _athena_scenario(athena_clients["json"], "tagjson")
    assert [step[0] for step in json_11] == [step[0] for step in rest_json]
    for a, b in zip(rest_json, json_11, strict=True):
        assert a == b
    # Every implemented operation was called (a new one must join the scenario).
    from botocore import xform_name

    from lakestack.aws.specs import service_model
    from lakestack.services.athena.provider import AthenaProvider

    implemented = {xform_name(op) for op in service_model("athena").operation_names if AthenaProvider.implements(op)}
    assert implemented == {step[0] for step in rest_json}
    errors = [step for step in rest_json if step[1] == "error"]
    assert [e[2] for e in errors] == ["InvalidRequestException", "InvalidRequestException",
                                      "InvalidRequestException", "MetadataException"]
    # Each client really spoke its protocol.
    rest_headers = athena_clients["rest-json"].sent_headers
    json_headers = athena_clients["json"].sent_headers
    assert all("X-Amz-Target" not in h for h in rest_headers)
    assert all(h["X-Amz-Target"].startswith(b"AmazonAthena.") if isinstance(h["X-Amz-Target"], bytes)
               else h["X-Amz-Target"].startswith("AmazonAthena.") for h in json_headers)


def test_athena_errors_take_each_protocols_shape(lakestack_stack, athena_clients, tmp_path):
    for protocol, client in athena_clients.items():
        error = error_of(client.get_work_group, WorkGroup="nope")
        assert error["Error"]["Code"] == "InvalidRequestException", protocol
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        content_type = error["ResponseMetadata"]["HTTPHeaders"]["content-type"]
        assert content_type == ("application/x-amz-json-1.1" if protocol == "json" else "application/json")
    # Validation errors too (a client that does not validate first).
    _json_model(tmp_path, "athena", "AmazonAthena", "1.1")
    unchecked = Config(parameter_validation=False, retries={"max_attempts": 1, "mode": "standard"})
    for client in (client_speaking(lakestack_stack, "athena", "rest-json", config=unchecked),
                   client_speaking(lakestack_stack, "athena", "json", tmp_path, config=unchecked)):
        for call, kwargs in ((client.get_named_query, {"NamedQueryId": "x" * 200}),
                             (client.list_work_groups, {"MaxResults": 0})):
            error = error_of(call, **kwargs)
            assert error["Error"]["Code"] == "ValidationException", error
            assert error["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize("service,call,kwargs", [
    ("cloudwatch", "list_metrics", {}),                        # smithy-rpc-v2-cbor
    ("dynamodb", "list_tables", {}),                           # json 1.0
    ("sns", "list_topics", {}),                                # query
    ("apigateway", "get_rest_apis", {}),                       # rest-json
    ("route53", "list_hosted_zones", {}),                      # rest-xml
    ("ec2", "describe_vpcs", {}),                              # ec2
])
def test_services_not_served_yet_say_so_in_their_protocol(lakestack_stack, service, call, kwargs):
    client = lakestack_stack.client(service, config=NO_RETRY)
    error = error_of(getattr(client, call), **kwargs)
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert error["Error"]["Code"] == "NotImplementedError"
    assert f"does not serve {service}" in error["Error"]["Message"]


def test_cloudwatch_in_each_protocol_it_spoke_is_answered_in_that_protocol(lakestack_stack, tmp_path):
    # boto3 picks JSON 1.0 among CloudWatch's protocols; the other SDKs pick CBOR.
    _variant_model(tmp_path, "cloudwatch", "smithy-rpc-v2-cbor")
    for client in (client_speaking(lakestack_stack, "cloudwatch", "json"),
                   client_speaking(lakestack_stack, "cloudwatch", "smithy-rpc-v2-cbor", tmp_path)):
        error = error_of(client.put_metric_data, Namespace="n", MetricData=[{"MetricName": "m", "Value": 1.0}])
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 501
        assert error["Error"]["Code"] == "NotImplementedError"
        assert "cloudwatch.PutMetricData" in error["Error"]["Message"]
    # The query protocol, as botocore before 1.42.7 sent it.
    resp = requests.post(lakestack_stack.endpoint_url, data={"Action": "ListMetrics", "Version": "2010-08-01"},
                         auth=_sigv4(lakestack_stack, "monitoring"))
    assert resp.status_code == 501
    assert "<Code>NotImplementedError</Code>" in resp.text


@pytest.mark.parametrize("headers,body,service,status,code", [
    # JSON to STS, which only ever spoke query: STS's own answer to a request without an Action.
    ({"X-Amz-Target": "AWSSecurityTokenServiceV20110615.GetCallerIdentity",
      "Content-Type": "application/x-amz-json-1.1"}, b"{}", "sts", 400, "<Code>MissingAction</Code>"),
    # CBOR to Kinesis (json only): Kinesis's answer to a request naming no operation.
    ({"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"}, b"\xa0", "kinesis", 400,
     "UnknownOperationException"),
    # Query to Glue (json only).
    ({"Content-Type": "application/x-www-form-urlencoded"}, b"Action=GetDatabases", "glue", 400,
     "UnknownOperationException"),
])
def test_a_protocol_the_service_never_spoke_gets_its_error(lakestack_stack, headers, body, service, status, code):
    resp = requests.post(lakestack_stack.endpoint_url + ("/service/Kinesis_20131202/operation/ListStreams"
                                                         if "smithy-protocol" in headers else "/"),
                         data=body, headers=headers, auth=_sigv4(lakestack_stack, service))
    assert resp.status_code == status, resp.text
    assert code in resp.text


def _sigv4(stack, service):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    creds = Credentials(stack.credentials["aws_access_key_id"], stack.credentials["aws_secret_access_key"])

    def sign(r):
        request = AWSRequest(method=r.method, url=r.url, data=r.body, headers=dict(r.headers))
        SigV4Auth(creds, service, "us-east-1").add_auth(request)
        r.headers.update(dict(request.headers))
        return r

    return sign
