"""Athena's API through boto3: executions, results, workgroups, named queries, prepared
statements, data catalogs, catalog metadata, tags, errors and IAM."""

import csv
import io
import json
import time
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

OUTPUT = "s3://athena-api-results/out/"


def wait(athena, query_id, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        if execution["Status"]["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return execution
        assert time.monotonic() < deadline, f"query {query_id} did not finish"
        time.sleep(0.02)


def start(athena, sql, database="default", **kwargs):
    kwargs.setdefault("ResultConfiguration", {"OutputLocation": OUTPUT})
    return athena.start_query_execution(QueryString=sql, QueryExecutionContext={"Database": database},
                                        **kwargs)["QueryExecutionId"]


def run(athena, sql, database="default", **kwargs):
    execution = wait(athena, start(athena, sql, database, **kwargs))
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    return execution


def rows(athena, query_id, **kwargs):
    result = athena.get_query_results(QueryExecutionId=query_id, **kwargs)
    return [[d.get("VarCharValue") for d in r["Data"]] for r in result["ResultSet"]["Rows"]]


@pytest.fixture(scope="module")
def env(lakestack_stack):
    s3 = lakestack_stack.client("s3")
    s3.create_bucket(Bucket="athena-api-results")
    s3.create_bucket(Bucket="athena-api-lake")
    athena = lakestack_stack.client("athena")
    run(athena, "CREATE DATABASE api_db")
    s3.put_object(Bucket="athena-api-lake", Key="people/part-0.csv", Body=b"1,ann,30\n2,bob,\n3,cy,41\n")
    run(athena, "CREATE EXTERNAL TABLE api_db.people (id int, name string, age int) "
                "ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' LOCATION 's3://athena-api-lake/people/'")
    return {"s3": s3, "athena": athena, "stack": lakestack_stack}


def test_select_results_with_header_types_and_nulls(env):
    athena = env["athena"]
    execution = run(athena, "SELECT id, name, age, CAST(age AS double) / 2 AS half FROM people ORDER BY id", "api_db")
    assert execution["StatementType"] == "DML"
    assert execution["QueryExecutionContext"] == {"Database": "api_db"}
    assert execution["ResultConfiguration"]["OutputLocation"] == f"{OUTPUT}{execution['QueryExecutionId']}.csv"
    stats = execution["Statistics"]
    for key in ("EngineExecutionTimeInMillis", "DataScannedInBytes", "TotalExecutionTimeInMillis",
                "QueryQueueTimeInMillis"):
        assert key in stats
    assert stats["DataScannedInBytes"] == len(b"1,ann,30\n2,bob,\n3,cy,41\n")
    assert execution["Status"]["SubmissionDateTime"] <= execution["Status"]["CompletionDateTime"]
    result = athena.get_query_results(QueryExecutionId=execution["QueryExecutionId"])
    columns = result["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
    assert [(c["Name"], c["Type"]) for c in columns] == [("id", "integer"), ("name", "varchar"),
                                                          ("age", "integer"), ("half", "double")]
    assert columns[1]["Precision"] == 2147483647 and columns[1]["CaseSensitive"] is True
    assert columns[0]["Precision"] == 10 and columns[0]["Nullable"] == "UNKNOWN"
    data = [[d.get("VarCharValue") for d in r["Data"]] for r in result["ResultSet"]["Rows"]]
    assert data == [["id", "name", "age", "half"], ["1", "ann", "30", "15.0"], ["2", "bob", None, None],
                    ["3", "cy", "41", "20.5"]]
    assert result["ResultSet"]["Rows"][2]["Data"][2] == {}  # NULL: no VarCharValue at all
    assert "NextToken" not in result


def test_result_files_in_s3(env):
    athena, s3 = env["athena"], env["s3"]
    execution = run(athena, "SELECT 'a,b' AS x, '' AS empty, CAST(NULL AS varchar) AS n, 'say \"hi\"' AS q")
    key = f"out/{execution['QueryExecutionId']}.csv"
    body = s3.get_object(Bucket="athena-api-results", Key=key)["Body"].read().decode()
    assert body == '"x","empty","n","q"\n"a,b","",,"say ""hi"""\n'
    parsed = list(csv.reader(io.StringIO(body)))
    assert parsed[1] == ["a,b", "", "", 'say "hi"']
    metadata = s3.get_object(Bucket="athena-api-results", Key=key + ".metadata")["Body"].read()
    assert b"varchar" in metadata and b"hive" in metadata
    ddl = run(athena, "SHOW TABLES IN api_db")
    assert ddl["StatementType"] == "UTILITY"
    assert ddl["ResultConfiguration"]["OutputLocation"].endswith(".txt")
    text = s3.get_object(Bucket="athena-api-results", Key=f"out/{ddl['QueryExecutionId']}.txt")["Body"].read()
    assert text == b"people\n"
    assert rows(athena, ddl["QueryExecutionId"]) == [["people"]]  # no header row for DDL/utility


def test_encrypted_results(env):
    athena, s3 = env["athena"], env["s3"]
    execution = run(athena, "SELECT 1", ResultConfiguration={
        "OutputLocation": OUTPUT, "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"}})
    assert execution["ResultConfiguration"]["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
    head = s3.head_object(Bucket="athena-api-results", Key=f"out/{execution['QueryExecutionId']}.csv")
    assert head["ServerSideEncryption"] == "AES256"


def test_paging_with_max_results_and_next_token(env):
    athena = env["athena"]
    execution = run(athena, "SELECT x, repeat('y', x % 5) AS s FROM UNNEST(sequence(1, 2500)) AS t(x)")
    query_id = execution["QueryExecutionId"]
    collected, token, pages = [], None, 0
    while True:
        kwargs = {"MaxResults": 700}
        if token:
            kwargs["NextToken"] = token
        result = athena.get_query_results(QueryExecutionId=query_id, **kwargs)
        page = [[d.get("VarCharValue") for d in r["Data"]] for r in result["ResultSet"]["Rows"]]
        assert len(page) <= 700
        collected.extend(page)
        pages += 1
        token = result.get("NextToken")
        if not token:
            break
    assert pages == 4
    assert collected[0] == ["x", "s"]
    assert [int(r[0]) for r in collected[1:]] == list(range(1, 2501))
    paginator = athena.get_paginator("get_query_results")
    total = sum(len(p["ResultSet"]["Rows"]) for p in paginator.paginate(QueryExecutionId=query_id))
    assert total == 2501


def test_failed_queries_report_athena_errors(env):
    athena = env["athena"]
    cases = [
        ("SELECT * FROM missing_table", "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.api_db.missing_table' "
                                        "does not exist"),
        ("SELECT nope FROM people", "COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved"),
        ("SELECT * FROM nodb.t", "SCHEMA_NOT_FOUND: line 1:15: Schema 'nodb' does not exist"),
        ("SELECT a FORM t", "SYNTAX_ERROR: line 1:15: mismatched input 't'"),
        ("SELECT 1 / 0", "DIVISION_BY_ZERO: Division by zero"),
    ]
    for sql, reason in cases:
        execution = wait(athena, start(athena, sql, "api_db"))
        status = execution["Status"]
        assert status["State"] == "FAILED", sql
        assert status["StateChangeReason"].startswith(reason), status["StateChangeReason"]
        assert status["AthenaError"]["ErrorCategory"] == 2
        assert status["AthenaError"]["Retryable"] is False
        with pytest.raises(ClientError) as caught:
            athena.get_query_results(QueryExecutionId=execution["QueryExecutionId"])
        assert caught.value.response["Error"]["Code"] == "InvalidRequestException"


def test_api_errors(env):
    athena = env["athena"]
    with pytest.raises(ClientError) as caught:
        athena.get_query_execution(QueryExecutionId=str(uuid.uuid4()))
    assert caught.value.response["Error"]["Code"] == "InvalidRequestException"
    assert caught.value.response["AthenaErrorCode"] == "INVALID_INPUT"
    with pytest.raises(ClientError) as caught:
        athena.start_query_execution(QueryString="SELECT 1")  # no output location anywhere
    assert caught.value.response["Error"]["Code"] == "InvalidRequestException"
    assert "output location" in caught.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as caught:
        athena.start_query_execution(QueryString="SELECT 1", WorkGroup="no-such-group")
    assert caught.value.response["Error"]["Code"] == "InvalidRequestException"
    with pytest.raises(ClientError) as caught:
        athena.get_prepared_statement(StatementName="nope", WorkGroup="primary")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as caught:
        athena.get_table_metadata(CatalogName="AwsDataCatalog", DatabaseName="api_db", TableName="nope")
    assert caught.value.response["Error"]["Code"] == "MetadataException"


def test_results_before_the_query_finishes(env):
    athena = env["athena"]
    query_id = start(athena, "SELECT count(*) FROM UNNEST(sequence(1, 30000000)) AS t(x) "
                             "CROSS JOIN UNNEST(sequence(1, 3)) AS u(y)")
    with pytest.raises(ClientError) as caught:
        athena.get_query_results(QueryExecutionId=query_id)
    assert "not yet finished" in caught.value.response["Error"]["Message"]
    athena.stop_query_execution(QueryExecutionId=query_id)
    assert wait(athena, query_id)["Status"]["State"] == "CANCELLED"


def test_stop_really_cancels_a_running_query(env):
    athena = env["athena"]
    slow = ("SELECT count(*) FROM UNNEST(sequence(1, 20000)) AS a(x) CROSS JOIN UNNEST(sequence(1, 20000)) AS b(y) "
            "WHERE (x * y) % 7 = 3")
    query_id = start(athena, slow)
    deadline = time.monotonic() + 30
    while athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"] == "QUEUED":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    began = time.monotonic()
    athena.stop_query_execution(QueryExecutionId=query_id)
    execution = wait(athena, query_id)
    assert execution["Status"]["State"] == "CANCELLED"
    # The worker is free again promptly: a new query runs right away.
    quick = run(athena, "SELECT 42")
    assert time.monotonic() - began < 10
    assert rows(athena, quick["QueryExecutionId"]) == [["_col0"], ["42"]]
    athena.stop_query_execution(QueryExecutionId=query_id)  # stopping a finished query is a no-op


def test_queries_run_concurrently_without_blocking_the_gateway(env):
    athena = env["athena"]
    ids = [start(athena, f"SELECT {i} AS n, count(*) FROM UNNEST(sequence(1, 200000)) AS t(x)") for i in range(6)]
    # While they run, the API answers at once.
    began = time.monotonic()
    athena.list_work_groups()
    assert time.monotonic() - began < 2
    for i, query_id in enumerate(ids):
        assert wait(athena, query_id)["Status"]["State"] == "SUCCEEDED"
        assert rows(athena, query_id)[1] == [str(i), "200000"]
    batch = athena.batch_get_query_execution(QueryExecutionIds=ids + ["missing-id"])
    assert sorted(e["QueryExecutionId"] for e in batch["QueryExecutions"]) == sorted(ids)
    assert batch["UnprocessedQueryExecutionIds"][0]["QueryExecutionId"] == "missing-id"
    listed = athena.list_query_executions(WorkGroup="primary", MaxResults=3)
    assert len(listed["QueryExecutionIds"]) == 3 and "NextToken" in listed
    everything = [i for page in athena.get_paginator("list_query_executions").paginate() for i in
                  page["QueryExecutionIds"]]
    assert set(ids) <= set(everything)
    assert len(everything) == len(set(everything))


def test_runtime_statistics(env):
    athena = env["athena"]
    execution = run(athena, "SELECT * FROM people", "api_db")
    stats = athena.get_query_runtime_statistics(QueryExecutionId=execution["QueryExecutionId"])
    runtime = stats["QueryRuntimeStatistics"]
    assert runtime["Rows"]["OutputRows"] == 3
    assert runtime["Rows"]["InputBytes"] == execution["Statistics"]["DataScannedInBytes"]
    assert "TotalExecutionTimeInMillis" in runtime["Timeline"]


def test_client_request_token_is_idempotent(env):
    athena = env["athena"]
    token = "token-" + uuid.uuid4().hex
    first = start(athena, "SELECT 1", ClientRequestToken=token)
    second = start(athena, "SELECT 1", ClientRequestToken=token)
    assert first == second
    wait(athena, first)


def test_execution_parameters_and_prepared_statements(env):
    athena = env["athena"]
    execution = run(athena, "SELECT name FROM people WHERE id = ? AND name <> ?", "api_db",
                    ExecutionParameters=["2", "'zed'"])
    assert rows(athena, execution["QueryExecutionId"]) == [["name"], ["bob"]]
    assert execution["ExecutionParameters"] == ["2", "'zed'"]
    run(athena, "PREPARE by_id FROM SELECT name FROM people WHERE id = ?", "api_db")
    execute = run(athena, "EXECUTE by_id USING 3", "api_db")
    assert rows(athena, execute["QueryExecutionId"]) == [["name"], ["cy"]]
    with_params = run(athena, "EXECUTE by_id", "api_db", ExecutionParameters=["1"])
    assert rows(athena, with_params["QueryExecutionId"]) == [["name"], ["ann"]]
    statement = athena.get_prepared_statement(StatementName="by_id", WorkGroup="primary")["PreparedStatement"]
    assert statement["QueryStatement"] == "SELECT name FROM people WHERE id = ?"
    athena.create_prepared_statement(StatementName="older", WorkGroup="primary",
                                     QueryStatement="SELECT name FROM people WHERE age > ?", Description="d")
    names = [s["StatementName"] for s in athena.list_prepared_statements(WorkGroup="primary")["PreparedStatements"]]
    assert {"by_id", "older"} <= set(names)
    older = run(athena, "EXECUTE older USING 35", "api_db")
    assert rows(athena, older["QueryExecutionId"]) == [["name"], ["cy"]]
    athena.update_prepared_statement(StatementName="older", WorkGroup="primary",
                                     QueryStatement="SELECT name FROM people WHERE age < ?")
    batch = athena.batch_get_prepared_statement(PreparedStatementNames=["older", "nope"], WorkGroup="primary")
    assert batch["PreparedStatements"][0]["QueryStatement"].endswith("age < ?")
    assert batch["UnprocessedPreparedStatementNames"][0]["StatementName"] == "nope"
    run(athena, "DEALLOCATE PREPARE by_id", "api_db")
    athena.delete_prepared_statement(StatementName="older", WorkGroup="primary")
    assert athena.list_prepared_statements(WorkGroup="primary")["PreparedStatements"] == []
    failed = wait(athena, start(athena, "EXECUTE by_id USING 1", "api_db"))
    assert failed["Status"]["State"] == "FAILED"


def test_named_queries(env):
    athena = env["athena"]
    query_id = athena.create_named_query(Name="fleet", Database="api_db", QueryString="SELECT count(*) FROM people",
                                         Description="fleet size")["NamedQueryId"]
    named = athena.get_named_query(NamedQueryId=query_id)["NamedQuery"]
    assert named["Name"] == "fleet" and named["WorkGroup"] == "primary"
    assert query_id in athena.list_named_queries()["NamedQueryIds"]
    execution = run(athena, named["QueryString"], named["Database"])
    assert rows(athena, execution["QueryExecutionId"])[1] == ["3"]
    athena.update_named_query(NamedQueryId=query_id, Name="fleet2", QueryString="SELECT 2")
    batch = athena.batch_get_named_query(NamedQueryIds=[query_id, str(uuid.uuid4())])
    assert batch["NamedQueries"][0]["Name"] == "fleet2"
    assert len(batch["UnprocessedNamedQueryIds"]) == 1
    athena.delete_named_query(NamedQueryId=query_id)
    with pytest.raises(ClientError):
        athena.get_named_query(NamedQueryId=query_id)


def test_workgroups_result_location_enforcement_and_cutoff(env):
    athena, s3 = env["athena"], env["s3"]
    primary = athena.get_work_group(WorkGroup="primary")["WorkGroup"]
    assert primary["State"] == "ENABLED"
    assert primary["Configuration"]["EngineVersion"]["EffectiveEngineVersion"] == "Athena engine version 3"
    athena.create_work_group(Name="analysts", Description="team",
                             Configuration={"ResultConfiguration": {"OutputLocation": "s3://athena-api-results/wg/"},
                                            "EnforceWorkGroupConfiguration": True},
                             Tags=[{"Key": "team", "Value": "bi"}])
    with pytest.raises(ClientError):
        athena.create_work_group(Name="analysts")
    names = [w["Name"] for w in athena.list_work_groups()["WorkGroups"]]
    assert {"primary", "analysts"} <= set(names)
    # Enforced: the workgroup's location wins over the request's.
    execution = run(athena, "SELECT 1", WorkGroup="analysts",
                    ResultConfiguration={"OutputLocation": "s3://athena-api-results/elsewhere/"})
    assert execution["WorkGroup"] == "analysts"
    assert execution["ResultConfiguration"]["OutputLocation"].startswith("s3://athena-api-results/wg/")
    s3.head_object(Bucket="athena-api-results", Key=f"wg/{execution['QueryExecutionId']}.csv")
    # Without a request location the workgroup's is used.
    plain = athena.start_query_execution(QueryString="SELECT 2", WorkGroup="analysts")["QueryExecutionId"]
    assert wait(athena, plain)["Status"]["State"] == "SUCCEEDED"
    # Bytes scanned cutoff (at least 10 MB, as on AWS).
    s3.put_object(Bucket="athena-api-lake", Key="big/data.csv", Body=b"x" * 99 + b"\n" * 1 + (b"y" * 99 + b"\n") *
                  110_000)
    run(athena, "CREATE EXTERNAL TABLE api_db.big (line string) LOCATION 's3://athena-api-lake/big/'")
    athena.update_work_group(WorkGroup="analysts", ConfigurationUpdates={"BytesScannedCutoffPerQuery": 10_000_000})
    assert athena.get_work_group(WorkGroup="analysts")["WorkGroup"]["Configuration"][
        "BytesScannedCutoffPerQuery"] == 10_000_000
    run(athena, "SELECT count(*) FROM people", "api_db", WorkGroup="analysts")
    capped = wait(athena, start(athena, "SELECT count(*) FROM big", "api_db", WorkGroup="analysts"))
    assert capped["Status"]["State"] == "FAILED"
    assert "Bytes scanned limit was exceeded" in capped["Status"]["StateChangeReason"]
    athena.update_work_group(WorkGroup="analysts", ConfigurationUpdates={"RemoveBytesScannedCutoffPerQuery": True})
    run(athena, "SELECT count(*) FROM big", "api_db", WorkGroup="analysts")
    # Disabled workgroups take no queries.
    athena.update_work_group(WorkGroup="analysts", State="DISABLED")
    with pytest.raises(ClientError) as caught:
        start(athena, "SELECT 1", WorkGroup="analysts")
    assert "disabled" in caught.value.response["Error"]["Message"]
    arn = "arn:aws:athena:us-east-1:000000000000:workgroup/analysts"
    assert athena.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "bi"}]
    athena.tag_resource(ResourceARN=arn, Tags=[{"Key": "env", "Value": "dev"}])
    athena.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert athena.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    athena.delete_work_group(WorkGroup="analysts", RecursiveDeleteOption=True)
    with pytest.raises(ClientError):
        athena.get_work_group(WorkGroup="analysts")
    with pytest.raises(ClientError):
        athena.delete_work_group(WorkGroup="primary")


def test_data_catalogs_and_metadata(env):
    athena = env["athena"]
    summaries = athena.list_data_catalogs()["DataCatalogsSummary"]
    assert summaries[0]["CatalogName"] == "AwsDataCatalog" and summaries[0]["Type"] == "GLUE"
    assert athena.get_data_catalog(Name="AwsDataCatalog")["DataCatalog"]["Type"] == "GLUE"
    athena.create_data_catalog(Name="mirror", Type="GLUE", Parameters={"catalog-id": "000000000000"})
    assert athena.get_data_catalog(Name="mirror")["DataCatalog"]["Parameters"] == {"catalog-id": "000000000000"}
    execution = run(athena, "SELECT count(*) FROM mirror.api_db.people")
    assert rows(athena, execution["QueryExecutionId"])[1] == ["3"]
    databases = [d["Name"] for d in athena.list_databases(CatalogName="AwsDataCatalog")["DatabaseList"]]
    assert "api_db" in databases
    assert athena.get_database(CatalogName="AwsDataCatalog", DatabaseName="api_db")["Database"]["Name"] == "api_db"
    tables = athena.list_table_metadata(CatalogName="AwsDataCatalog", DatabaseName="api_db")["TableMetadataList"]
    people = next(t for t in tables if t["Name"] == "people")
    assert [(c["Name"], c["Type"]) for c in people["Columns"]] == [("id", "int"), ("name", "string"), ("age", "int")]
    metadata = athena.get_table_metadata(CatalogName="AwsDataCatalog", DatabaseName="api_db",
                                         TableName="people")["TableMetadata"]
    assert metadata["TableType"] == "EXTERNAL_TABLE"
    assert metadata["Parameters"]["location"] == "s3://athena-api-lake/people/"
    athena.update_data_catalog(Name="mirror", Type="GLUE", Description="same account",
                               Parameters={"catalog-id": "000000000000"})
    assert athena.get_data_catalog(Name="mirror")["DataCatalog"]["Description"] == "same account"
    versions = athena.list_engine_versions()["EngineVersions"]
    assert {"SelectedEngineVersion": "AUTO", "EffectiveEngineVersion": "Athena engine version 3"} in versions
    athena.delete_data_catalog(Name="mirror")
    failed = wait(athena, start(athena, "SELECT count(*) FROM mirror.api_db.people"))
    assert failed["Status"]["StateChangeReason"].startswith("CATALOG_NOT_FOUND")


def test_iam_authorizes_athena_and_the_underlying_services(env):
    stack = env["stack"]
    iam = stack.client("iam")
    iam.create_user(UserName="analyst")
    key = iam.create_access_key(UserName="analyst")["AccessKey"]
    session = boto3.session.Session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                                     region_name="us-east-1")
    user_athena = session.client("athena", endpoint_url=stack.endpoint_url)
    with pytest.raises(ClientError) as caught:
        user_athena.start_query_execution(QueryString="SELECT 1", ResultConfiguration={"OutputLocation": OUTPUT})
    assert caught.value.response["Error"]["Code"] in ("AccessDeniedException", "AccessDenied")
    iam.put_user_policy(UserName="analyst", PolicyName="athena-only", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "athena:*", "Resource": "*"}]}))
    # Athena itself is allowed, but writing results to S3 and reading the catalog are not.
    query_id = user_athena.start_query_execution(QueryString="SELECT * FROM api_db.people",
                                                 ResultConfiguration={"OutputLocation": OUTPUT})["QueryExecutionId"]
    execution = wait(user_athena, query_id)
    assert execution["Status"]["State"] == "FAILED"
    iam.put_user_policy(UserName="analyst", PolicyName="lake", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:*", "glue:*"], "Resource": "*"}]}))
    query_id = user_athena.start_query_execution(QueryString="SELECT count(*) FROM api_db.people",
                                                 ResultConfiguration={"OutputLocation": OUTPUT})["QueryExecutionId"]
    assert wait(user_athena, query_id)["Status"]["State"] == "SUCCEEDED"
    assert rows(user_athena, query_id)[1] == ["3"]
