"""Real Athena clients, unchanged, against lakestack: PyAthena's DB-API cursor and its
SQLAlchemy dialect, and awswrangler's read_sql_query with and without the CTAS approach."""

import datetime as dt
import decimal
import io
import time

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

STAGING = "s3://athena-clients-results/staging/"


@pytest.fixture(scope="module")
def env(lakestack_stack):
    s3 = lakestack_stack.client("s3")
    s3.create_bucket(Bucket="athena-clients-results")
    s3.create_bucket(Bucket="athena-clients-lake")
    table = pa.table({"vehicle_id": ["eb-1", "eb-2", "eb-3"], "battery": [0.5, 0.25, None],
                      "km": pa.array([10, 20, 30], type=pa.int64()),
                      "seen": pa.array([dt.datetime(2024, 5, 1, 8, 30), dt.datetime(2024, 5, 1, 9), None],
                                       type=pa.timestamp("us")),
                      "price": pa.array([decimal.Decimal("1.50"), decimal.Decimal("2.25"), decimal.Decimal("0.10")],
                                        type=pa.decimal128(10, 2))})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    s3.put_object(Bucket="athena-clients-lake", Key="fleet/part-0.parquet", Body=buffer.getvalue())
    athena = lakestack_stack.client("athena")
    for sql in ("CREATE DATABASE clients",
                "CREATE EXTERNAL TABLE clients.fleet (vehicle_id string, battery double, km bigint, seen timestamp, "
                "price decimal(10,2)) STORED AS PARQUET LOCATION 's3://athena-clients-lake/fleet/'"):
        query_id = athena.start_query_execution(QueryString=sql, ResultConfiguration={
            "OutputLocation": STAGING})["QueryExecutionId"]
        while athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"] in (
                "QUEUED", "RUNNING"):
            time.sleep(0.02)
    credentials = lakestack_stack.credentials
    return {"stack": lakestack_stack, "key": credentials["aws_access_key_id"],
            "secret": credentials["aws_secret_access_key"]}


def test_pyathena_cursor(env):
    from pyathena import connect

    connection = connect(s3_staging_dir=STAGING, region_name="us-east-1", schema_name="clients",
                         aws_access_key_id=env["key"], aws_secret_access_key=env["secret"],
                         endpoint_url=env["stack"].endpoint_url)
    cursor = connection.cursor()
    cursor.execute("SELECT vehicle_id, battery, km, seen, price FROM fleet ORDER BY vehicle_id")
    assert [d[0] for d in cursor.description] == ["vehicle_id", "battery", "km", "seen", "price"]
    assert [d[1] for d in cursor.description] == ["varchar", "double", "bigint", "timestamp", "decimal"]
    rows = cursor.fetchall()
    assert rows[0] == ("eb-1", 0.5, 10, dt.datetime(2024, 5, 1, 8, 30), decimal.Decimal("1.50"))
    assert rows[2][1] is None and rows[2][3] is None
    cursor.execute("SELECT count(*) FROM fleet WHERE km > %(km)s", {"km": 15})
    assert cursor.fetchone() == (2,)
    assert cursor.query_id and cursor.output_location.endswith(".csv")
    cursor.execute("SHOW TABLES")
    assert cursor.fetchall() == [("fleet",)]
    connection.close()


def test_pyathena_sqlalchemy(env):
    from urllib.parse import quote_plus

    import sqlalchemy

    url = (f"awsathena+rest://{quote_plus(env['key'])}:{quote_plus(env['secret'])}@athena.us-east-1.amazonaws.com:443/"
           f"clients?s3_staging_dir={quote_plus(STAGING)}")
    engine = sqlalchemy.create_engine(url, connect_args={"endpoint_url": env["stack"].endpoint_url})
    with engine.connect() as connection:
        result = connection.execute(sqlalchemy.text("SELECT vehicle_id, km FROM fleet WHERE km >= :km ORDER BY km"),
                                    {"km": 20})
        assert result.fetchall() == [("eb-2", 20), ("eb-3", 30)]
        fleet = sqlalchemy.Table("fleet", sqlalchemy.MetaData(), autoload_with=connection, schema="clients")
        assert [c.name for c in fleet.columns] == ["vehicle_id", "battery", "km", "seen", "price"]
        query = sqlalchemy.select(fleet.c.vehicle_id).where(fleet.c.battery > 0.3)
        assert connection.execute(query).fetchall() == [("eb-1",)]


@pytest.fixture
def wrangler(env):
    import awswrangler as wr

    endpoint = env["stack"].endpoint_url
    saved = {name: getattr(wr.config, name) for name in
             ("athena_endpoint_url", "s3_endpoint_url", "glue_endpoint_url", "sts_endpoint_url")}
    for name in saved:
        setattr(wr.config, name, endpoint)
    session = boto3.session.Session(aws_access_key_id=env["key"], aws_secret_access_key=env["secret"],
                                    region_name="us-east-1")
    yield wr, session
    for name, value in saved.items():
        setattr(wr.config, name, value)


def test_awswrangler_without_ctas(wrangler):
    wr, session = wrangler
    frame = wr.athena.read_sql_query("SELECT vehicle_id, battery, km, seen, price FROM fleet ORDER BY vehicle_id",
                                     database="clients", ctas_approach=False, boto3_session=session,
                                     s3_output=STAGING)
    assert list(frame["vehicle_id"]) == ["eb-1", "eb-2", "eb-3"]
    assert list(frame["km"]) == [10, 20, 30]
    assert frame["battery"].isna().tolist() == [False, False, True]
    assert str(frame["seen"].iloc[0]) == "2024-05-01 08:30:00"
    assert frame["price"].iloc[1] == decimal.Decimal("2.25")


def test_awswrangler_with_ctas(wrangler):
    wr, session = wrangler
    frame = wr.athena.read_sql_query("SELECT vehicle_id, km * 2 AS double_km FROM fleet WHERE km > 10",
                                     database="clients", ctas_approach=True, boto3_session=session,
                                     s3_output=STAGING)
    assert sorted(zip(frame["vehicle_id"], frame["double_km"], strict=True)) == [("eb-2", 40), ("eb-3", 60)]
    # The temporary CTAS table is gone again afterwards.
    tables = wr.catalog.get_tables(database="clients", boto3_session=session)
    assert [t["Name"] for t in tables] == ["fleet"]
