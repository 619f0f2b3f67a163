"""Tables through the Glue catalog: file formats and SerDes, partitions and pruning,
partition projection, views, DDL, CTAS, INSERT INTO and UNLOAD — all via boto3 Athena."""

import gzip
import io
import json
import time

import pyarrow as pa
import pyarrow.orc as orc
import pyarrow.parquet as pq
import pytest

OUTPUT = "s3://athena-tables-results/q/"
LAKE = "athena-tables-lake"


def wait(athena, query_id, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        if execution["Status"]["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return execution
        assert time.monotonic() < deadline
        time.sleep(0.02)


def execute(athena, sql, database="lake"):
    query_id = athena.start_query_execution(QueryString=sql, QueryExecutionContext={"Database": database},
                                            ResultConfiguration={"OutputLocation": OUTPUT})["QueryExecutionId"]
    return wait(athena, query_id)


def run(athena, sql, database="lake"):
    execution = execute(athena, sql, database)
    assert execution["Status"]["State"] == "SUCCEEDED", (sql, execution["Status"])
    return execution


def query(athena, sql, database="lake"):
    """Data rows (header dropped for SELECTs)."""
    execution = run(athena, sql, database)
    result = athena.get_query_results(QueryExecutionId=execution["QueryExecutionId"])
    data = [[d.get("VarCharValue") for d in r["Data"]] for r in result["ResultSet"]["Rows"]]
    return data[1:] if execution["StatementType"] == "DML" else data


def parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def env(lakestack_stack):
    s3 = lakestack_stack.client("s3")
    s3.create_bucket(Bucket="athena-tables-results")
    s3.create_bucket(Bucket=LAKE)
    athena = lakestack_stack.client("athena")
    run(athena, "CREATE DATABASE lake", "default")
    return {"s3": s3, "athena": athena, "glue": lakestack_stack.client("glue")}


def test_parquet_with_nested_types_and_schema_evolution(env):
    s3, athena = env["s3"], env["athena"]
    first = pa.table({"id": [1, 2], "tags": [["a", "b"], []], "attrs": [{"k": 1}, {"k": 2}],
                      "price": pa.array([1.5, 2.25])})
    second = pa.table({"price": pa.array([3.0]), "id": [3], "tags": [["c"]], "attrs": [{"k": 3}]})
    s3.put_object(Bucket=LAKE, Key="items/a.parquet", Body=parquet_bytes(first))
    s3.put_object(Bucket=LAKE, Key="items/b.parquet", Body=parquet_bytes(second))
    s3.put_object(Bucket=LAKE, Key="items/_SUCCESS", Body=b"")
    run(athena, "CREATE EXTERNAL TABLE items (id bigint, tags array<string>, attrs struct<k:bigint>, price double, "
                "added string) STORED AS PARQUET LOCATION 's3://athena-tables-lake/items/'")
    assert query(athena, "SELECT id, cardinality(tags), attrs.k, price, added FROM items ORDER BY id") == [
        ["1", "2", "1", "1.5", None], ["2", "0", "2", "2.25", None], ["3", "1", "3", "3.0", None]]
    assert query(athena, "SELECT tags, attrs FROM items WHERE id = 1") == [["[a, b]", "{k=1}"]]
    # Strings some writers store without the UTF8 annotation still read as text.
    s3.put_object(Bucket=LAKE, Key="blobs/a.parquet",
                  Body=parquet_bytes(pa.table({"name": pa.array([b"caf\xc3\xa9"], type=pa.binary())})))
    run(athena, "CREATE EXTERNAL TABLE blobs (name string) STORED AS PARQUET LOCATION 's3://athena-tables-lake/blobs/'")
    assert query(athena, "SELECT name, length(name) FROM blobs") == [["café", "4"]]
    plan = query(athena, "EXPLAIN SELECT id FROM items WHERE price > 2")
    assert plan and any("read_parquet" in line[0].lower() or "parquet" in line[0].lower() for line in plan)


def test_orc_table(env):
    s3, athena = env["s3"], env["athena"]
    buffer = io.BytesIO()
    orc.write_table(pa.table({"city": ["Paris", "Lyon"], "riders": [120, 45]}), buffer)
    s3.put_object(Bucket=LAKE, Key="cities/data.orc", Body=buffer.getvalue())
    run(athena, "CREATE EXTERNAL TABLE cities (city string, riders int) STORED AS ORC "
                "LOCATION 's3://athena-tables-lake/cities/'")
    assert query(athena, "SELECT city, riders FROM cities ORDER BY riders") == [["Lyon", "45"], ["Paris", "120"]]


def test_text_lazy_simple_with_header_and_compressed_files(env):
    s3, athena = env["s3"], env["athena"]
    s3.put_object(Bucket=LAKE, Key="trips/part-0.csv", Body=b"trip_id,km,ok\nt1,2.5,true\nt2,notanumber,false\n")
    s3.put_object(Bucket=LAKE, Key="trips/part-1.csv.gz",
                  Body=gzip.compress(b"trip_id,km,ok\nt3,10,true\nt4,\\N,\n"))
    run(athena, "CREATE EXTERNAL TABLE trips (trip_id string, km double, ok boolean) "
                "ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' STORED AS TEXTFILE "
                "LOCATION 's3://athena-tables-lake/trips/' TBLPROPERTIES ('skip.header.line.count'='1')")
    assert query(athena, "SELECT trip_id, km, ok FROM trips ORDER BY trip_id") == [
        ["t1", "2.5", "true"], ["t2", None, "false"], ["t3", "10.0", "true"], ["t4", None, None]]
    s3.put_object(Bucket=LAKE, Key="tabs/data.tsv", Body=b"a\t1\tx|y\nb\t2\t\n")
    run(athena, "CREATE EXTERNAL TABLE tabs (k string, v int, items array<string>) ROW FORMAT DELIMITED "
                "FIELDS TERMINATED BY '\\t' COLLECTION ITEMS TERMINATED BY '|' LOCATION 's3://athena-tables-lake/tabs/'")
    assert query(athena, "SELECT k, v, items FROM tabs ORDER BY k") == [["a", "1", "[x, y]"], ["b", "2", "[]"]]


def test_open_csv_serde(env):
    s3, athena = env["s3"], env["athena"]
    s3.put_object(Bucket=LAKE, Key="stations/stations.csv",
                  Body=b'"id","name","capacity"\n"s1","Gare, Nord","20"\n"s2","Quai ""B""","8"\n')
    run(athena, "CREATE EXTERNAL TABLE stations (id string, name string, capacity int) "
                "ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde' "
                "WITH SERDEPROPERTIES ('separatorChar'=',', 'quoteChar'='\"', 'escapeChar'='\\\\') "
                "LOCATION 's3://athena-tables-lake/stations/' TBLPROPERTIES ('skip.header.line.count'='1')")
    assert query(athena, "SELECT id, name, capacity + 1 FROM stations ORDER BY id") == [
        ["s1", "Gare, Nord", "21"], ["s2", 'Quai "B"', "9"]]


def test_json_serde(env):
    s3, athena = env["s3"], env["athena"]
    lines = [{"vehicle_id": "eb-1", "lat": 48.85, "current_fuel_percent": 0.5, "trip_id": None, "extra": 1},
             {"vehicle_id": "eb-2", "lat": 45.76, "current_fuel_percent": 0.9, "trip_id": "t9"}]
    body = "\n".join(json.dumps(line) for line in lines).encode()
    s3.put_object(Bucket=LAKE, Key="telemetry/a.json.gz", Body=gzip.compress(body))
    run(athena, "CREATE EXTERNAL TABLE telemetry (vehicle_id string, lat double, current_fuel_percent double, "
                "trip_id string) ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe' "
                "LOCATION 's3://athena-tables-lake/telemetry/'")
    assert query(athena, "SELECT vehicle_id, lat, trip_id FROM telemetry ORDER BY vehicle_id") == [
        ["eb-1", "48.85", None], ["eb-2", "45.76", "t9"]]


def test_avro_table(env):
    fastavro = pytest.importorskip("fastavro")
    s3, athena = env["s3"], env["athena"]
    schema = fastavro.parse_schema({"type": "record", "name": "r", "fields": [
        {"name": "sku", "type": "string"}, {"name": "qty", "type": "long"}]})
    buffer = io.BytesIO()
    fastavro.writer(buffer, schema, [{"sku": "a", "qty": 3}, {"sku": "b", "qty": 5}])
    s3.put_object(Bucket=LAKE, Key="stock/data.avro", Body=buffer.getvalue())
    run(athena, "CREATE EXTERNAL TABLE stock (sku string, qty bigint) STORED AS AVRO "
                "LOCATION 's3://athena-tables-lake/stock/'")
    assert query(athena, "SELECT sum(qty) FROM stock") == [["8"]]


def test_partitions_added_by_ddl_and_pruned(env):
    s3, athena = env["s3"], env["athena"]
    for day in ("2024-05-01", "2024-05-02", "2024-05-03"):
        data = parquet_bytes(pa.table({"bike": ["eb-1", "eb-2"], "km": [1.0, 2.0]}))
        s3.put_object(Bucket=LAKE, Key=f"rides/day={day}/city=paris/part.parquet", Body=data)
    s3.put_object(Bucket=LAKE, Key="elsewhere/rides-0504/part.parquet",
                  Body=parquet_bytes(pa.table({"bike": ["eb-9"], "km": [9.0]})))
    run(athena, "CREATE EXTERNAL TABLE rides (bike string, km double) PARTITIONED BY (day string, city string) "
                "STORED AS PARQUET LOCATION 's3://athena-tables-lake/rides/'")
    assert query(athena, "SELECT count(*) FROM rides") == [["0"]]
    run(athena, "ALTER TABLE rides ADD PARTITION (day='2024-05-01', city='paris') "
                "PARTITION (day='2024-05-02', city='paris')")
    run(athena, "ALTER TABLE rides ADD IF NOT EXISTS PARTITION (day='2024-05-01', city='paris')")
    failed = execute(athena, "ALTER TABLE rides ADD PARTITION (day='2024-05-01', city='paris')")
    assert failed["Status"]["State"] == "FAILED"
    run(athena, "ALTER TABLE rides ADD PARTITION (day='2024-05-04', city='lyon') "
                "LOCATION 's3://athena-tables-lake/elsewhere/rides-0504/'")
    assert query(athena, "SHOW PARTITIONS rides") == [["day=2024-05-01/city=paris"], ["day=2024-05-02/city=paris"],
                                                      ["day=2024-05-04/city=lyon"]]
    everything = run(athena, "SELECT count(*) FROM rides")
    one_day = run(athena, "SELECT count(*) FROM rides WHERE day = '2024-05-02'")
    assert one_day["Statistics"]["DataScannedInBytes"] < everything["Statistics"]["DataScannedInBytes"] / 2
    assert query(athena, "SELECT day, city, sum(km) FROM rides WHERE city = 'lyon' OR day > '2024-05-01' "
                         "GROUP BY day, city ORDER BY day") == [["2024-05-02", "paris", "3.0"],
                                                                ["2024-05-04", "lyon", "9.0"]]
    run(athena, "MSCK REPAIR TABLE rides")
    assert ["day=2024-05-03/city=paris"] in query(athena, "SHOW PARTITIONS rides")
    run(athena, "ALTER TABLE rides DROP PARTITION (day='2024-05-04', city='lyon')")
    assert query(athena, "SELECT count(*) FROM rides") == [["6"]]


def test_partition_projection(env):
    s3, athena = env["s3"], env["athena"]
    for day in ("2024-01-01", "2024-01-02", "2024-01-05"):
        for hour in (0, 7):
            s3.put_object(Bucket=LAKE, Key=f"events/{day}/{hour:02d}/e.json",
                          Body=json.dumps({"event": f"{day}-{hour}"}).encode())
    run(athena, "CREATE EXTERNAL TABLE events (event string) PARTITIONED BY (day string, hour int) "
                "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe' LOCATION 's3://athena-tables-lake/events/' "
                "TBLPROPERTIES ('projection.enabled'='true', 'projection.day.type'='date', "
                "'projection.day.range'='2024-01-01,2024-01-31', 'projection.day.format'='yyyy-MM-dd', "
                "'projection.hour.type'='integer', 'projection.hour.range'='0,23', 'projection.hour.digits'='2', "
                "'storage.location.template'='s3://athena-tables-lake/events/${day}/${hour}/')")
    assert query(athena, "SELECT count(*) FROM events") == [["6"]]
    assert query(athena, "SELECT event, day, hour FROM events WHERE day = '2024-01-05' AND hour = 7") == [
        ["2024-01-05-7", "2024-01-05", "7"]]
    assert query(athena, "SELECT count(*) FROM events WHERE day BETWEEN '2024-01-02' AND '2024-01-10'") == [["4"]]
    # enum and injected projections
    s3.put_object(Bucket=LAKE, Key="fleet/city=paris/model=e1/f.json", Body=b'{"n": 1}')
    s3.put_object(Bucket=LAKE, Key="fleet/city=lyon/model=e1/f.json", Body=b'{"n": 2}')
    run(athena, "CREATE EXTERNAL TABLE fleet (n int) PARTITIONED BY (city string, model string) "
                "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe' LOCATION 's3://athena-tables-lake/fleet/' "
                "TBLPROPERTIES ('projection.enabled'='true', 'projection.city.type'='enum', "
                "'projection.city.values'='paris,lyon,nice', 'projection.model.type'='injected')")
    assert query(athena, "SELECT city, n FROM fleet WHERE model = 'e1' ORDER BY n") == [["paris", "1"], ["lyon", "2"]]
    failed = execute(athena, "SELECT count(*) FROM fleet")
    assert failed["Status"]["State"] == "FAILED"
    assert "injected" in failed["Status"]["StateChangeReason"].lower()


def test_views_are_glue_virtual_views(env):
    athena, glue = env["athena"], env["glue"]
    run(athena, "CREATE VIEW cheap_items AS SELECT id, price FROM items WHERE price < 3")
    table = glue.get_table(DatabaseName="lake", Name="cheap_items")["Table"]
    assert table["TableType"] == "VIRTUAL_VIEW"
    assert table["ViewOriginalText"].startswith("/* Presto View: ")
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == ["id", "price"]
    assert query(athena, "SELECT id FROM cheap_items ORDER BY id") == [["1"], ["2"]]
    failed = execute(athena, "CREATE VIEW cheap_items AS SELECT 1 AS x")
    assert failed["Status"]["State"] == "FAILED"
    run(athena, "CREATE OR REPLACE VIEW cheap_items AS SELECT id FROM items WHERE price < 2")
    assert query(athena, "SELECT * FROM cheap_items") == [["1"]]
    assert query(athena, "SHOW VIEWS") == [["cheap_items"]]
    assert query(athena, "DESCRIBE cheap_items") == [["id", "bigint", ""]]
    run(athena, "DROP VIEW cheap_items")
    assert query(athena, "SHOW VIEWS") == []


def test_ddl_statements(env):
    athena, glue = env["athena"], env["glue"]
    run(athena, "CREATE DATABASE IF NOT EXISTS scratch COMMENT 'tmp' LOCATION 's3://athena-tables-lake/scratch/'", "default")
    assert glue.get_database(Name="scratch")["Database"]["Description"] == "tmp"
    assert ["scratch"] in query(athena, "SHOW DATABASES", "default")
    assert query(athena, "SHOW SCHEMAS LIKE 'scr*'", "default") == [["scratch"]]
    run(athena, "CREATE EXTERNAL TABLE scratch.t (a string COMMENT 'first', b int) "
                "PARTITIONED BY (p string) STORED AS PARQUET LOCATION 's3://athena-tables-lake/scratch/t/' "
                "TBLPROPERTIES ('owner'='me')")
    failed = execute(athena, "CREATE EXTERNAL TABLE scratch.t (a string) LOCATION 's3://athena-tables-lake/x/'")
    assert failed["Status"]["State"] == "FAILED"
    run(athena, "CREATE EXTERNAL TABLE IF NOT EXISTS scratch.t (a string) LOCATION 's3://athena-tables-lake/x/'")
    assert query(athena, "SHOW COLUMNS IN scratch.t") == [["a"], ["b"], ["p"]]
    run(athena, "ALTER TABLE scratch.t ADD COLUMNS (c double)")
    assert query(athena, "SHOW COLUMNS FROM t IN scratch") == [["a"], ["b"], ["c"], ["p"]]
    described = query(athena, "DESCRIBE scratch.t")
    assert [r[0].strip() for r in described[:4]] == ["a", "b", "c", "p"]
    assert described[0][2] == "first"
    create = "\n".join(r[0] for r in query(athena, "SHOW CREATE TABLE scratch.t"))
    assert "CREATE EXTERNAL TABLE `scratch`.`t`" in create and "PARTITIONED BY" in create
    assert "'owner'='me'" in create
    assert ["owner", "me"] in query(athena, "SHOW TBLPROPERTIES scratch.t")
    run(athena, "ALTER TABLE scratch.t SET TBLPROPERTIES ('owner'='you')")
    assert glue.get_table(DatabaseName="scratch", Name="t")["Table"]["Parameters"]["owner"] == "you"
    run(athena, "ALTER TABLE scratch.t CHANGE COLUMN c cost double")
    assert query(athena, "SHOW COLUMNS IN scratch.t") == [["a"], ["b"], ["cost"], ["p"]]
    run(athena, "ALTER TABLE scratch.t SET LOCATION 's3://athena-tables-lake/scratch/t2/'")
    assert glue.get_table(DatabaseName="scratch", Name="t")["Table"]["StorageDescriptor"]["Location"] == \
        "s3://athena-tables-lake/scratch/t2/"
    run(athena, "ALTER TABLE scratch.t REPLACE COLUMNS (a string, b bigint)")
    assert query(athena, "SHOW COLUMNS IN scratch.t") == [["a"], ["b"], ["p"]]
    assert query(athena, "SHOW TABLES IN scratch") == [["t"]]
    failed = execute(athena, "DROP DATABASE scratch", "default")
    assert "not empty" in failed["Status"]["StateChangeReason"]
    run(athena, "DROP TABLE scratch.t")
    run(athena, "DROP TABLE IF EXISTS scratch.t")
    assert execute(athena, "DROP TABLE scratch.t")["Status"]["State"] == "FAILED"
    run(athena, "DROP DATABASE scratch CASCADE", "default")
    assert ["scratch"] not in query(athena, "SHOW DATABASES", "default")


def test_ctas_formats_partitions_and_buckets(env):
    athena, glue, s3 = env["athena"], env["glue"], env["s3"]
    execution = run(athena, "CREATE TABLE ride_summary WITH (format = 'PARQUET', write_compression = 'SNAPPY', "
                            "external_location = 's3://athena-tables-lake/curated/ride_summary/', "
                            "partitioned_by = ARRAY['day']) AS SELECT bike, sum(km) AS km, day FROM rides "
                            "GROUP BY bike, day")
    assert execution["StatementType"] == "DML"
    assert execution["SubstatementType"] == "CREATE_TABLE_AS_SELECT"
    manifest = execution["Statistics"]["DataManifestLocation"]
    assert manifest.endswith(f"{execution['QueryExecutionId']}-manifest.csv")
    result = athena.get_query_results(QueryExecutionId=execution["QueryExecutionId"])
    assert result["UpdateCount"] == 6
    table = glue.get_table(DatabaseName="lake", Name="ride_summary")["Table"]
    assert [k["Name"] for k in table["PartitionKeys"]] == ["day"]
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == [("bike", "string"),
                                                                                         ("km", "double")]
    partitions = glue.get_partitions(DatabaseName="lake", TableName="ride_summary")["Partitions"]
    assert sorted(p["Values"][0] for p in partitions) == ["2024-05-01", "2024-05-02", "2024-05-03"]
    bucket, key = manifest[len("s3://"):].split("/", 1)
    listed = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().split()
    assert len(listed) == 3 and all(u.startswith("s3://athena-tables-lake/curated/ride_summary/day=") for u in listed)
    assert query(athena, "SELECT day, sum(km) FROM ride_summary GROUP BY day ORDER BY day") == [
        ["2024-05-01", "3.0"], ["2024-05-02", "3.0"], ["2024-05-03", "3.0"]]
    again = execute(athena, "CREATE TABLE ride_summary AS SELECT 1 AS x")
    assert again["Status"]["StateChangeReason"].startswith("TABLE_ALREADY_EXISTS")
    occupied = execute(athena, "CREATE TABLE other WITH (external_location = "
                               "'s3://athena-tables-lake/curated/ride_summary/') AS SELECT 1 AS x")
    assert occupied["Status"]["StateChangeReason"].startswith("HIVE_PATH_ALREADY_EXISTS")
    for fmt in ("ORC", "JSON", "TEXTFILE"):
        name = f"copy_{fmt.lower()}"
        run(athena, f"CREATE TABLE {name} WITH (format = '{fmt}') AS SELECT id, price, tags FROM items")
        assert query(athena, f"SELECT id, price, cardinality(tags) FROM {name} ORDER BY id") == [
            ["1", "1.5", "2"], ["2", "2.25", "0"], ["3", "3.0", "1"]], fmt
    run(athena, "CREATE TABLE bucketed WITH (bucketed_by = ARRAY['bike'], bucket_count = 2) AS "
                "SELECT bike, km FROM rides")
    assert glue.get_table(DatabaseName="lake", Name="bucketed")["Table"]["StorageDescriptor"]["NumberOfBuckets"] == 2
    assert query(athena, "SELECT count(*) FROM bucketed") == [["6"]]
    run(athena, "CREATE TABLE empty_copy AS SELECT * FROM items WITH NO DATA")
    assert query(athena, "SELECT count(*) FROM empty_copy") == [["0"]]


def test_insert_into_registers_new_partitions(env):
    athena, glue = env["athena"], env["glue"]
    execution = run(athena, "INSERT INTO ride_summary SELECT 'eb-7', 4.5, '2024-06-01'")
    assert execution["SubstatementType"] == "INSERT"
    assert athena.get_query_results(QueryExecutionId=execution["QueryExecutionId"])["UpdateCount"] == 1
    values = sorted(p["Values"][0] for p in glue.get_partitions(DatabaseName="lake",
                                                                TableName="ride_summary")["Partitions"])
    assert values[-1] == "2024-06-01"
    run(athena, "INSERT INTO ride_summary (day, bike) VALUES ('2024-05-01', 'eb-8')")
    assert query(athena, "SELECT bike, km FROM ride_summary WHERE day = '2024-05-01' AND bike = 'eb-8'") == [
        ["eb-8", None]]
    run(athena, "INSERT INTO copy_textfile VALUES (4, 4.0, ARRAY['x', 'y'])")
    assert query(athena, "SELECT tags FROM copy_textfile WHERE id = 4") == [["[x, y]"]]
    # As on Athena, skip.header.line.count applies to every file, the inserted one too.
    run(athena, "INSERT INTO trips VALUES ('t5', 1.0, true)")
    assert query(athena, "SELECT count(*) FROM trips") == [["4"]]


def test_unload(env):
    athena, s3 = env["athena"], env["s3"]
    execution = run(athena, "UNLOAD (SELECT bike, km, day FROM rides WHERE day = '2024-05-01') "
                            "TO 's3://athena-tables-lake/exports/rides/' WITH (format = 'PARQUET', "
                            "compression = 'SNAPPY', partitioned_by = ARRAY['day'])")
    assert execution["SubstatementType"] == "UNLOAD"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=LAKE, Prefix="exports/rides/")["Contents"]]
    assert keys and all(k.startswith("exports/rides/day=2024-05-01/") for k in keys)
    table = pq.read_table(io.BytesIO(s3.get_object(Bucket=LAKE, Key=keys[0])["Body"].read()))
    assert sorted(table.column("bike").to_pylist()) == ["eb-1", "eb-2"]
    run(athena, "UNLOAD (SELECT id, price FROM items) TO 's3://athena-tables-lake/exports/items/' "
                "WITH (format = 'TEXTFILE', field_delimiter = ',', compression = 'NONE')")
    body = s3.get_object(Bucket=LAKE, Key=[o["Key"] for o in s3.list_objects_v2(
        Bucket=LAKE, Prefix="exports/items/")["Contents"]][0])["Body"].read().decode()
    assert sorted(body.split()) == ["1,1.5", "2,2.25", "3,3.0"]
    again = execute(athena, "UNLOAD (SELECT 1) TO 's3://athena-tables-lake/exports/items/'")
    assert again["Status"]["StateChangeReason"].startswith("HIVE_PATH_ALREADY_EXISTS")
