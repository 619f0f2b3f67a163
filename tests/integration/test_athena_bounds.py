"""What Athena keeps is bounded: 45 days of query history (older executions that have ended
are forgotten; their result files in S3 stay), and a DuckDB database made anew every so
many queries."""

import time

import pytest
from botocore.exceptions import ClientError

from lakestack.services.athena.provider import HISTORY_SECONDS


def run(athena, sql):
    query_id = athena.start_query_execution(QueryString=sql, ResultConfiguration={
        "OutputLocation": "s3://athena-history/out/"})["QueryExecutionId"]
    while athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"] in (
            "QUEUED", "RUNNING"):
        time.sleep(0.02)
    return query_id


def test_executions_older_than_45_days_are_forgotten(lakestack_stack):
    athena, s3 = lakestack_stack.client("athena"), lakestack_stack.client("s3")
    s3.create_bucket(Bucket="athena-history")
    provider = lakestack_stack.stack.provider("athena")
    now = time.time()
    kept = run(athena, "SELECT 1")
    template = provider.store.execution(kept)
    for execution_id, age_days, state in (("aged-out", 46, "SUCCEEDED"), ("failed-long-ago", 300, "FAILED"),
                                          ("still-queued", 46, "QUEUED"), ("recent", 44, "SUCCEEDED")):
        provider.store.insert_execution(dict(template, id=execution_id, state=state, client_token=None,
                                             submitted=now - age_days * 86400))
    provider._next_expiry = 0  # looked at most hourly: look on the next query
    run(athena, "SELECT 2")
    for gone in ("aged-out", "failed-long-ago"):
        with pytest.raises(ClientError) as error:
            athena.get_query_execution(QueryExecutionId=gone)
        assert error.value.response["Error"]["Code"] == "InvalidRequestException"
    listed = athena.list_query_executions()["QueryExecutionIds"]
    assert {"recent", "still-queued", kept} <= set(listed) and not {"aged-out", "failed-long-ago"} & set(listed)
    assert provider.store.expire_executions(now - HISTORY_SECONDS) == 0  # nothing left to expire


def test_queries_run_on_across_database_renewals(lakestack_stack):
    athena, s3 = lakestack_stack.client("athena"), lakestack_stack.client("s3")
    s3.create_bucket(Bucket="athena-renewals")
    engines = lakestack_stack.stack.provider("athena").engines
    engines.renew_after = 2
    try:
        first = engines.current  # held, so a later database cannot reuse its id
        renewed, i = False, 0
        deadline = time.monotonic() + 120
        # Renewal builds the next database in the background: keep querying until it is in use
        # (at least six queries), each answering correctly across the switch.
        while i < 6 or (not renewed and time.monotonic() < deadline):
            query_id = athena.start_query_execution(QueryString=f"SELECT {i} * 2", ResultConfiguration={
                "OutputLocation": "s3://athena-renewals/out/"})["QueryExecutionId"]
            while (state := athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"][
                    "State"]) in ("QUEUED", "RUNNING"):
                time.sleep(0.02)
            assert state == "SUCCEEDED"
            assert athena.get_query_results(QueryExecutionId=query_id)["ResultSet"]["Rows"][1] == {
                "Data": [{"VarCharValue": str(i * 2)}]}
            renewed |= engines.current is not first
            i += 1
        assert renewed  # the database was replaced on the way
    finally:
        engines.renew_after = 5000
