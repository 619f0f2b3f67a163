"""Real clients of the Glue Data Catalog against lakestack: pyiceberg's GlueCatalog (Iceberg
tables committed through UpdateTable's optimistic lock, data and metadata written to S3
through pyarrow's S3 filesystem) and awswrangler's `wr.catalog` / `wr.s3` dataset calls."""

from __future__ import annotations

import boto3
import pandas as pd
import pyarrow as pa
import pytest
from pyiceberg.catalog.glue import GlueCatalog
from pyiceberg.exceptions import CommitFailedException

WAREHOUSE = "iceberg-warehouse"


@pytest.fixture(scope="module")
def catalog(lakestack_stack):
    lakestack_stack.client("s3").create_bucket(Bucket=WAREHOUSE)
    creds = lakestack_stack.credentials
    endpoint = lakestack_stack.endpoint_url

    def connect() -> GlueCatalog:
        # Property names as pyiceberg documents them for its Glue catalog and S3 FileIO.
        return GlueCatalog("glue", **{
            "glue.endpoint": endpoint, "glue.region": "us-east-1",
            "glue.access-key-id": creds["aws_access_key_id"],
            "glue.secret-access-key": creds["aws_secret_access_key"],
            "s3.endpoint": endpoint, "s3.region": "us-east-1",
            "s3.access-key-id": creds["aws_access_key_id"], "s3.secret-access-key": creds["aws_secret_access_key"],
        })

    return connect


RIDES = pa.schema([pa.field("ride_id", pa.int64(), nullable=False), pa.field("bike", pa.string()),
                   pa.field("km", pa.float64())])


def rides(first: int, n: int) -> pa.Table:
    return pa.table({"ride_id": pa.array(range(first, first + n), pa.int64()),
                     "bike": [f"bike-{i % 7}" for i in range(n)], "km": [i * 0.5 for i in range(n)]}, schema=RIDES)


def test_pyiceberg_namespace_table_and_appends(lakestack_stack, catalog):
    cat = catalog()
    cat.create_namespace("mobility", {"location": f"s3://{WAREHOUSE}/mobility.db"})
    assert ("mobility",) in cat.list_namespaces()
    table = cat.create_table("mobility.rides", schema=RIDES)
    table.append(rides(0, 10))
    table.append(rides(10, 5))
    loaded = catalog().load_table("mobility.rides")
    assert loaded.scan().to_arrow().num_rows == 15
    assert len(loaded.history()) == 2
    assert cat.list_tables("mobility") == [("mobility", "rides")]
    # What Glue holds: an Iceberg table pointing at its current metadata file in S3.
    glue_table = lakestack_stack.client("glue").get_table(DatabaseName="mobility", Name="rides")["Table"]
    params = glue_table["Parameters"]
    assert params["table_type"] == "ICEBERG"
    assert params["metadata_location"] == loaded.metadata_location
    assert params["previous_metadata_location"].startswith(f"s3://{WAREHOUSE}/mobility.db/rides/metadata/")
    assert glue_table["VersionId"] == "2"  # created, then one UpdateTable per append
    assert [c["Name"] for c in glue_table["StorageDescriptor"]["Columns"]] == ["ride_id", "bike", "km"]
    objects = lakestack_stack.client("s3").list_objects_v2(Bucket=WAREHOUSE, Prefix="mobility.db/rides/data/")
    assert objects["KeyCount"] == 2


NO_RETRIES = {"commit.retry.num-retries": "0"}


def test_pyiceberg_stale_commit_fails(lakestack_stack, catalog):
    cat = catalog()
    cat.create_namespace("races", {"location": f"s3://{WAREHOUSE}/races"})
    cat.create_table("races.laps", schema=RIDES, properties=NO_RETRIES)
    writer_a = catalog().load_table("races.laps")
    writer_b = catalog().load_table("races.laps")
    writer_a.append(rides(0, 3))
    # B's view is stale: its commit is refused, and the table keeps A's data only.
    with pytest.raises(CommitFailedException):
        writer_b.append(rides(100, 3))
    assert catalog().load_table("races.laps").scan().to_arrow().num_rows == 3
    # With Iceberg's default commit retries, the stale append is refreshed and retried, and
    # both land — what the same code does against AWS Glue.
    cat.create_table("races.sprints", schema=RIDES)
    writer_a, writer_b = catalog().load_table("races.sprints"), catalog().load_table("races.sprints")
    writer_a.append(rides(0, 3))
    writer_b.append(rides(100, 3))
    assert catalog().load_table("races.sprints").scan().to_arrow().num_rows == 6


def test_pyiceberg_concurrent_update_table_is_a_concurrent_modification(lakestack_stack, catalog):
    """The race Glue's VersionId guards: B reads the table, A commits, then B's UpdateTable
    arrives with the version it read. Glue answers ConcurrentModificationException and
    pyiceberg raises CommitFailedException caused by it."""
    cat = catalog()
    cat.create_namespace("relay", {"location": f"s3://{WAREHOUSE}/relay"})
    cat.create_table("relay.legs", schema=RIDES, properties=NO_RETRIES)
    writer_a = catalog().load_table("relay.legs")
    cat_b = catalog()
    writer_b = cat_b.load_table("relay.legs")
    fired = []

    def a_commits_first(**kwargs):
        if not fired:
            fired.append(True)
            writer_a.append(rides(0, 2))

    cat_b.glue.meta.events.register("before-call.glue.UpdateTable", a_commits_first)
    with pytest.raises(CommitFailedException) as info:
        writer_b.append(rides(50, 2))
    cause = info.value.__cause__
    assert cause is not None and cause.response["Error"]["Code"] == "ConcurrentModificationException"
    final = catalog().load_table("relay.legs")
    assert final.scan().to_arrow()["ride_id"].to_pylist() == [0, 1]


@pytest.fixture(scope="module")
def wr(lakestack_stack):
    import awswrangler

    awswrangler.config.glue_endpoint_url = lakestack_stack.endpoint_url
    awswrangler.config.s3_endpoint_url = lakestack_stack.endpoint_url
    awswrangler.config.sts_endpoint_url = lakestack_stack.endpoint_url
    yield awswrangler
    awswrangler.config.reset()


@pytest.fixture(scope="module")
def session(lakestack_stack):
    lakestack_stack.client("s3").create_bucket(Bucket="wrangled")
    return boto3.Session(region_name="us-east-1", **lakestack_stack.credentials)


def test_awswrangler_catalog(wr, session):
    wr.catalog.create_database("wrangled", description="from awswrangler", boto3_session=session)
    assert "wrangled" in wr.catalog.databases(boto3_session=session)["Database"].tolist()
    wr.catalog.create_parquet_table(
        database="wrangled", table="readings", path="s3://wrangled/readings/",
        columns_types={"sensor": "string", "value": "double"}, partitions_types={"day": "string"},
        table_type="EXTERNAL_TABLE", description="sensor readings", parameters={"source": "test"},
        boto3_session=session)
    assert wr.catalog.does_table_exist(database="wrangled", table="readings", boto3_session=session)
    assert wr.catalog.get_table_types(database="wrangled", table="readings", boto3_session=session) == {
        "sensor": "string", "value": "double", "day": "string"}
    assert wr.catalog.get_table_parameters(database="wrangled", table="readings",
                                           boto3_session=session)["source"] == "test"
    assert wr.catalog.get_table_description(database="wrangled", table="readings",
                                            boto3_session=session) == "sensor readings"
    wr.catalog.add_parquet_partitions(
        database="wrangled", table="readings", boto3_session=session,
        partitions_values={f"s3://wrangled/readings/day={d}/": [d] for d in ("2024-01-01", "2024-01-02")})
    found = wr.catalog.get_parquet_partitions(database="wrangled", table="readings", boto3_session=session)
    assert found == {"s3://wrangled/readings/day=2024-01-01/": ["2024-01-01"],
                     "s3://wrangled/readings/day=2024-01-02/": ["2024-01-02"]}
    filtered = wr.catalog.get_partitions(database="wrangled", table="readings", expression="day > '2024-01-01'",
                                         boto3_session=session)
    assert list(filtered.values()) == [["2024-01-02"]]
    wr.catalog.delete_partitions(table="readings", database="wrangled", partitions_values=[["2024-01-01"]],
                                 boto3_session=session)
    assert len(wr.catalog.get_partitions(database="wrangled", table="readings", boto3_session=session)) == 1
    wr.catalog.add_column(database="wrangled", table="readings", column_name="unit", column_type="string",
                          column_comment="", boto3_session=session)
    assert "unit" in wr.catalog.get_table_types(database="wrangled", table="readings", boto3_session=session)
    listed = wr.catalog.tables(database="wrangled", boto3_session=session)
    assert listed["Table"].tolist() == ["readings"]
    assert wr.catalog.delete_table_if_exists(database="wrangled", table="readings", boto3_session=session)
    assert not wr.catalog.delete_table_if_exists(database="wrangled", table="readings", boto3_session=session)


def test_awswrangler_dataset_round_trip(wr, session):
    wr.catalog.create_database("datasets", exist_ok=True, boto3_session=session)
    frame = pd.DataFrame({"trip": [1, 2, 3, 4], "city": ["paris", "lyon", "paris", "nice"],
                          "km": [1.5, 2.0, 3.5, 4.0]})
    wr.s3.to_parquet(frame, path="s3://wrangled/trips/", dataset=True, database="datasets", table="trips",
                     partition_cols=["city"], boto3_session=session)
    partitions = wr.catalog.get_parquet_partitions(database="datasets", table="trips", boto3_session=session)
    assert sorted(v[0] for v in partitions.values()) == ["lyon", "nice", "paris"]
    back = wr.s3.read_parquet_table(database="datasets", table="trips", boto3_session=session)
    assert sorted(back["trip"].tolist()) == [1, 2, 3, 4]
    paris = wr.s3.read_parquet_table(database="datasets", table="trips", boto3_session=session,
                                     partition_filter=lambda p: p["city"] == "paris")
    assert sorted(paris["trip"].tolist()) == [1, 3]
    wr.catalog.delete_database("datasets", boto3_session=session)
