"""Iceberg tables through Athena: DDL, INSERT, UPDATE, DELETE, MERGE INTO, time travel,
metadata tables, OPTIMIZE and VACUUM — backed by pyiceberg's Glue catalog on lakestack."""

import time

import pytest

OUTPUT = "s3://athena-ice-results/q/"


def wait(athena, query_id, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        if execution["Status"]["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return execution
        assert time.monotonic() < deadline
        time.sleep(0.02)


def execute(athena, sql):
    query_id = athena.start_query_execution(QueryString=sql, QueryExecutionContext={"Database": "ice"},
                                            ResultConfiguration={"OutputLocation": OUTPUT})["QueryExecutionId"]
    return wait(athena, query_id)


def run(athena, sql):
    execution = execute(athena, sql)
    assert execution["Status"]["State"] == "SUCCEEDED", (sql, execution["Status"])
    return execution


def query(athena, sql):
    execution = run(athena, sql)
    result = athena.get_query_results(QueryExecutionId=execution["QueryExecutionId"])
    return [[d.get("VarCharValue") for d in r["Data"]] for r in result["ResultSet"]["Rows"]][1:]


def update_count(athena, sql):
    execution = run(athena, sql)
    return athena.get_query_results(QueryExecutionId=execution["QueryExecutionId"])["UpdateCount"]


@pytest.fixture(scope="module")
def athena(lakestack_stack):
    s3 = lakestack_stack.client("s3")
    s3.create_bucket(Bucket="athena-ice-results")
    s3.create_bucket(Bucket="athena-ice-lake")
    client = lakestack_stack.client("athena")
    run(client, "CREATE DATABASE ice")
    return client


def test_create_insert_update_delete_merge_and_time_travel(athena, lakestack_stack):
    run(athena, "CREATE TABLE bikes (bike_id string, battery double, city string) PARTITIONED BY (city) "
                "LOCATION 's3://athena-ice-lake/bikes/' TBLPROPERTIES ('table_type'='ICEBERG')")
    glue_table = lakestack_stack.client("glue").get_table(DatabaseName="ice", Name="bikes")["Table"]
    assert glue_table["Parameters"]["table_type"].upper() == "ICEBERG"
    assert glue_table["Parameters"]["metadata_location"].startswith("s3://athena-ice-lake/bikes/metadata/")
    assert update_count(athena, "INSERT INTO bikes VALUES ('eb-1', 0.9, 'paris'), ('eb-2', 0.4, 'lyon')") == 2
    assert update_count(athena, "INSERT INTO bikes (bike_id, city) VALUES ('eb-3', 'paris')") == 1
    first = query(athena, 'SELECT snapshot_id FROM "bikes$snapshots" ORDER BY committed_at')
    assert len(first) == 2
    time.sleep(0.05)
    before_update = query(athena, "SELECT CAST(current_timestamp AS varchar)")[0][0]
    time.sleep(0.05)
    assert update_count(athena, "UPDATE bikes SET battery = 1.0 WHERE bike_id = 'eb-3'") == 1
    assert update_count(athena, "DELETE FROM bikes WHERE battery < 0.5") == 1
    merged = update_count(athena, """
        MERGE INTO bikes t USING (VALUES ('eb-1', 0.2, 'paris'), ('eb-9', 0.7, 'nice')) AS s(bike_id, battery, city)
        ON t.bike_id = s.bike_id
        WHEN MATCHED THEN UPDATE SET battery = s.battery
        WHEN NOT MATCHED THEN INSERT (bike_id, battery, city) VALUES (s.bike_id, s.battery, s.city)""")
    assert merged == 2
    assert query(athena, "SELECT bike_id, battery, city FROM bikes ORDER BY bike_id") == [
        ["eb-1", "0.2", "paris"], ["eb-3", "1.0", "paris"], ["eb-9", "0.7", "nice"]]
    # time travel by snapshot and by time
    assert query(athena, f"SELECT bike_id, battery FROM bikes FOR VERSION AS OF {first[0][0]} ORDER BY bike_id") == [
        ["eb-1", "0.9"], ["eb-2", "0.4"]]
    assert query(athena, f"SELECT bike_id, battery FROM bikes FOR TIMESTAMP AS OF "
                         f"TIMESTAMP '{before_update[:23]} UTC' ORDER BY bike_id") == [
        ["eb-1", "0.9"], ["eb-2", "0.4"], ["eb-3", None]]
    too_early = execute(athena, "SELECT * FROM bikes FOR TIMESTAMP AS OF TIMESTAMP '2000-01-01 00:00:00 UTC'")
    assert too_early["Status"]["State"] == "FAILED"
    # metadata tables
    snapshots = query(athena, 'SELECT operation FROM "bikes$snapshots" ORDER BY committed_at')
    assert len(snapshots) >= 5 and snapshots[0] == ["append"]
    assert int(query(athena, 'SELECT count(*) FROM "bikes$files"')[0][0]) >= 1
    assert len(query(athena, 'SELECT snapshot_id FROM "bikes$history"')) == len(snapshots)


def test_ctas_optimize_vacuum_and_schema_evolution(athena):
    run(athena, "CREATE TABLE fleet WITH (table_type = 'ICEBERG', location = 's3://athena-ice-lake/fleet/', "
                "is_external = false) AS SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS t(id, name)")
    for i in range(3):
        run(athena, f"INSERT INTO fleet VALUES ({10 + i}, 'n{i}')")
    files_before = int(query(athena, 'SELECT count(*) FROM "fleet$files"')[0][0])
    assert files_before == 4
    run(athena, "OPTIMIZE fleet REWRITE DATA USING BIN_PACK")
    assert int(query(athena, 'SELECT count(*) FROM "fleet$files"')[0][0]) < files_before
    assert query(athena, "SELECT count(*), sum(id) FROM fleet") == [["5", "36"]]
    run(athena, "ALTER TABLE fleet SET TBLPROPERTIES ('vacuum_max_snapshot_age_seconds'='0')")
    run(athena, "VACUUM fleet")
    assert len(query(athena, 'SELECT snapshot_id FROM "fleet$snapshots"')) == 1
    run(athena, "ALTER TABLE fleet ADD COLUMNS (range_km double)")
    run(athena, "INSERT INTO fleet VALUES (99, 'new', 42.5)")
    assert query(athena, "SELECT id, range_km FROM fleet WHERE id IN (1, 99) ORDER BY id") == [
        ["1", None], ["99", "42.5"]]


def test_row_level_changes_need_iceberg(athena, lakestack_stack):
    s3 = lakestack_stack.client("s3")
    s3.put_object(Bucket="athena-ice-lake", Key="plain/data.csv", Body=b"1\n")
    run(athena, "CREATE EXTERNAL TABLE plain (x int) LOCATION 's3://athena-ice-lake/plain/'")
    failed = execute(athena, "DELETE FROM plain WHERE x = 1")
    assert failed["Status"]["State"] == "FAILED"
    assert failed["Status"]["StateChangeReason"].startswith("NOT_SUPPORTED")
