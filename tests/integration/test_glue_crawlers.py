"""Glue crawlers through boto3 against a real lakestack, on lakes the tests write into S3:
Hive-partitioned Parquet, plain folders, gzipped JSON Lines, CSV with and without headers,
mixed formats, schema drift, recrawl policies, deleted folders, classifiers, the crawler
API and its state machine, metrics and schedules."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

BUCKET = "crawl-lake"
ROLE = "glue-crawler"
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
ACCESS = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
     "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]},
    {"Effect": "Allow", "Action": "glue:*", "Resource": "*"}]}
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"


@pytest.fixture(scope="module")
def s3(lakestack_stack):
    client = lakestack_stack.client("s3")
    client.create_bucket(Bucket=BUCKET)
    iam = lakestack_stack.client("iam")
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName=ROLE, PolicyName="lake", PolicyDocument=json.dumps(ACCESS))
    return client


@pytest.fixture(scope="module")
def glue(lakestack_stack, s3):
    return lakestack_stack.client("glue")


def code(info) -> str:
    return info.value.response["Error"]["Code"]


def parquet(**columns) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns), buffer)
    return buffer.getvalue()


def put(s3, key: str, body: bytes) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def delete_prefix(s3, prefix: str) -> None:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]
    if keys:
        s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in keys]})


def wait_ready(glue, name: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        crawler = glue.get_crawler(Name=name)["Crawler"]
        if crawler["State"] == "READY" and "LastCrawl" in crawler:
            return crawler
        time.sleep(0.05)
    raise AssertionError(f"crawler {name} did not finish")


def crawl(glue, name: str, expect: str = "SUCCEEDED") -> dict:
    glue.start_crawler(Name=name)
    crawler = wait_ready(glue, name)
    assert crawler["LastCrawl"]["Status"] == expect, crawler["LastCrawl"]
    return crawler


def make_crawler(glue, name: str, paths, database: str | None = None, **options) -> None:
    targets = [{"Path": p} if isinstance(p, str) else p for p in ([paths] if isinstance(paths, str) else paths)]
    glue.create_crawler(Name=name, Role=ROLE, DatabaseName=database or name, Targets={"S3Targets": targets},
                        **options)


def tables(glue, database: str) -> dict[str, dict]:
    return {t["Name"]: t for t in glue.get_tables(DatabaseName=database)["TableList"]}


def columns(item: dict) -> dict[str, str]:
    return {c["Name"]: c["Type"] for c in item["StorageDescriptor"]["Columns"]}


def partitions(glue, database: str, table: str) -> dict[tuple, dict]:
    found = {}
    for page in glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=table):
        found.update({tuple(p["Values"]): p for p in page["Partitions"]})
    return found


# -- what crawlers find -------------------------------------------------------------------------

def test_hive_partitioned_parquet(s3, glue):
    sizes = 0
    for year in (2023, 2024):
        for month in ("01", "02"):
            for day in ("01", "15"):
                for part in range(2):
                    body = parquet(ride_id=pa.array([1, 2, 3], pa.int64()), bike=["a", "b", "c"],
                                   km=pa.array([1.5, 2.0, 3.25], pa.float64()),
                                   battery=pa.array([90, 80, 70], pa.int32()),
                                   started=pa.array([dt.datetime(2024, 1, 1)] * 3, pa.timestamp("ms")))
                    sizes += len(body)
                    put(s3, f"hive/rides/year={year}/month={month}/day={day}/part-{part}.snappy.parquet", body)
    put(s3, "hive/rides/_SUCCESS", b"")
    put(s3, "hive/rides/year=2023/_temporary/0/junk", b"not data")
    make_crawler(glue, "hive", f"s3://{BUCKET}/hive/")
    crawl(glue, "hive")
    found = tables(glue, "hive")
    assert list(found) == ["rides"]
    table = found["rides"]
    assert table["PartitionKeys"] == [{"Name": "year", "Type": "string"}, {"Name": "month", "Type": "string"},
                                      {"Name": "day", "Type": "string"}]
    assert columns(table) == {"ride_id": "bigint", "bike": "string", "km": "double", "battery": "int",
                              "started": "timestamp"}
    sd = table["StorageDescriptor"]
    assert sd["Location"] == f"s3://{BUCKET}/hive/rides/"
    assert sd["SerdeInfo"] == {"SerializationLibrary": PARQUET_SERDE, "Parameters": {"serialization.format": "1"}}
    assert sd["InputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    assert sd["OutputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
    assert sd["Compressed"] is False and sd["NumberOfBuckets"] == -1
    params = table["Parameters"]
    assert {k: params[k] for k in ("classification", "compressionType", "typeOfData", "recordCount", "objectCount",
                                   "sizeKey", "averageRecordSize", "UPDATED_BY_CRAWLER")} == {
        "classification": "parquet", "compressionType": "none", "typeOfData": "file", "recordCount": "48",
        "objectCount": "16", "sizeKey": str(sizes), "averageRecordSize": str(sizes // 48),
        "UPDATED_BY_CRAWLER": "hive"}
    assert sd["Parameters"] == params and table["TableType"] == "EXTERNAL_TABLE"
    found_partitions = partitions(glue, "hive", "rides")
    assert sorted(found_partitions) == [(y, m, d) for y in ("2023", "2024") for m in ("01", "02")
                                        for d in ("01", "15")]
    p = found_partitions[("2024", "02", "15")]
    assert p["StorageDescriptor"]["Location"] == f"s3://{BUCKET}/hive/rides/year=2024/month=02/day=15/"
    assert p["Parameters"]["recordCount"] == "6" and p["Parameters"]["objectCount"] == "2"
    assert columns(p) == columns(table)
    # The partitions can be queried by the predicate language at once.
    june = glue.get_partitions(DatabaseName="hive", TableName="rides", Expression="year = '2024' AND day > '10'")
    assert sorted(tuple(p["Values"]) for p in june["Partitions"]) == [("2024", "01", "15"), ("2024", "02", "15")]


def test_plain_folders_become_numbered_partitions(s3, glue):
    for day in ("2024/05/01", "2024/05/02", "2024/06/01"):
        put(s3, f"plain/metrics/{day}/data.parquet", parquet(sensor=["s1"], value=[1.0]))
    make_crawler(glue, "plain", f"s3://{BUCKET}/plain/metrics")
    crawl(glue, "plain")
    table = tables(glue, "plain")["metrics"]
    assert [k["Name"] for k in table["PartitionKeys"]] == ["partition_0", "partition_1", "partition_2"]
    assert sorted(partitions(glue, "plain", "metrics")) == [("2024", "05", "01"), ("2024", "05", "02"),
                                                            ("2024", "06", "01")]


def test_gzipped_json_lines_with_nested_objects_and_arrays(s3, glue):
    records = [{"id": i, "device": {"name": f"bike-{i}", "firmware": {"major": 1, "minor": i}},
                "readings": [{"t": 1.5, "v": i}], "tags": ["a", "b"], "ok": i % 2 == 0} for i in range(40)]
    records[3]["extra"] = "only here"
    for n, chunk in enumerate((records[:20], records[20:])):
        body = gzip.compress("\n".join(json.dumps(r) for r in chunk).encode())
        put(s3, f"json/telemetry/dt=2024-0{n + 1}-01/events-{n}.json.gz", body)
    make_crawler(glue, "json", f"s3://{BUCKET}/json/")
    crawl(glue, "json")
    table = tables(glue, "json")["telemetry"]
    assert columns(table) == {
        "id": "int", "device": "struct<name:string,firmware:struct<major:int,minor:int>>",
        "readings": "array<struct<t:double,v:int>>", "tags": "array<string>", "ok": "boolean", "extra": "string"}
    sd = table["StorageDescriptor"]
    assert sd["SerdeInfo"] == {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe",
                               "Parameters": {"paths": "id,device,readings,tags,ok,extra"}}
    assert sd["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"
    assert sd["OutputFormat"] == "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
    assert sd["Compressed"] is True
    params = table["Parameters"]
    assert (params["classification"], params["compressionType"], params["recordCount"], params["objectCount"]) == (
        "json", "gzip", "40", "2")
    assert [k["Name"] for k in table["PartitionKeys"]] == ["dt"]
    assert sorted(partitions(glue, "json", "telemetry")) == [("2024-01-01",), ("2024-02-01",)]


def test_csv_with_and_without_header_and_quoted_fields(s3, glue):
    put(s3, "csv/stations/stations.csv",
        b'station_id,name,capacity,lat\n1,"Gare de Lyon, Paris",20,48.84\n2,"Le ""Grand"" Place",15,45.76\n'
        b"3,Bellecour,,45.75\n")
    put(s3, "csv/trips/trips.csv", b"1,bike-1,12.5,true\n2,bike-2,3,false\n3,bike-3,7.25,true\n")
    put(s3, "csv/pipes/p.psv", b"id|label\n1|a\n2|b\n")
    make_crawler(glue, "csv", [f"s3://{BUCKET}/csv/stations/", f"s3://{BUCKET}/csv/trips/",
                               f"s3://{BUCKET}/csv/pipes/"])
    crawl(glue, "csv")
    found = tables(glue, "csv")
    assert sorted(found) == ["pipes", "stations", "trips"]
    stations, trips, pipes = found["stations"], found["trips"], found["pipes"]
    assert columns(stations) == {"station_id": "bigint", "name": "string", "capacity": "bigint", "lat": "double"}
    assert stations["StorageDescriptor"]["SerdeInfo"] == {
        "SerializationLibrary": "org.apache.hadoop.hive.serde2.OpenCSVSerde",
        "Parameters": {"separatorChar": ",", "quoteChar": '"'}}
    assert {k: stations["Parameters"][k] for k in ("classification", "delimiter", "skip.header.line.count",
                                                   "areColumnsQuoted", "columnsOrdered", "recordCount")} == {
        "classification": "csv", "delimiter": ",", "skip.header.line.count": "1", "areColumnsQuoted": "true",
        "columnsOrdered": "true", "recordCount": "3"}
    assert columns(trips) == {"col0": "bigint", "col1": "string", "col2": "double", "col3": "boolean"}
    assert trips["StorageDescriptor"]["SerdeInfo"] == {
        "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
        "Parameters": {"field.delim": ","}}
    assert "skip.header.line.count" not in trips["Parameters"]
    assert trips["Parameters"]["areColumnsQuoted"] == "false"
    assert pipes["Parameters"]["delimiter"] == "|" and columns(pipes) == {"id": "bigint", "label": "string"}


def test_include_path_naming_one_file(s3, glue):
    put(s3, "single/prices.csv", b"sku,price\nA1,9.5\nB2,3\n")
    put(s3, "single/other.csv", b"x,y\n1,2\n3,4\n")
    make_crawler(glue, "single", f"s3://{BUCKET}/single/prices.csv")
    crawl(glue, "single")
    found = tables(glue, "single")
    assert list(found) == ["prices_csv"]
    assert found["prices_csv"]["StorageDescriptor"]["Location"] == f"s3://{BUCKET}/single/prices.csv"
    assert columns(found["prices_csv"]) == {"sku": "string", "price": "double"}


def test_mixed_formats_in_sibling_folders(s3, glue):
    put(s3, "mixed/orders_parquet/a.parquet", parquet(id=[1], total=[9.5]))
    put(s3, "mixed/orders_json/a.json", b'{"id": 1, "total": 9.5}\n{"id": 2, "total": 3}\n')
    put(s3, "mixed/orders_csv/a.csv", b"id,total\n1,9.5\n2,3\n")
    put(s3, "mixed/notes.txt", b"\x00\x01 binary notes \xff")
    make_crawler(glue, "mixed", f"s3://{BUCKET}/mixed/")
    crawl(glue, "mixed")
    found = tables(glue, "mixed")
    assert {name: t["Parameters"]["classification"] for name, t in found.items()} == {
        "orders_parquet": "parquet", "orders_json": "json", "orders_csv": "csv", "notes_txt": "UNKNOWN"}
    assert columns(found["orders_json"]) == {"id": "int", "total": "double"}
    assert found["notes_txt"]["StorageDescriptor"]["Location"] == f"s3://{BUCKET}/mixed/notes.txt"


def test_schema_drift_between_partitions(s3, glue):
    put(s3, "drift/orders/dt=2024-01-01/a.parquet", parquet(id=[1], item=["x"], amount=pa.array([5], pa.int32())))
    put(s3, "drift/orders/dt=2024-01-02/a.parquet",
        parquet(id=[2], item=["y"], amount=pa.array([5.5], pa.float64()), coupon=["SUMMER"]))
    make_crawler(glue, "drift", f"s3://{BUCKET}/drift/")
    crawl(glue, "drift")
    table = tables(glue, "drift")["orders"]
    # One table: amount widened to double, the new column added.
    assert columns(table) == {"id": "bigint", "item": "string", "amount": "double", "coupon": "string"}
    found = partitions(glue, "drift", "orders")
    assert columns(found[("2024-01-01",)]) == {"id": "bigint", "item": "string", "amount": "int"}
    assert columns(found[("2024-01-02",)]) == {"id": "bigint", "item": "string", "amount": "double",
                                               "coupon": "string"}


def test_crawl_new_folders_only(s3, glue):
    put(s3, "incremental/sales/dt=1/a.parquet", parquet(id=[1], v=[1.0]))
    with pytest.raises(ClientError) as info:  # new-folders-only needs LOG for both behaviours
        make_crawler(glue, "incremental", f"s3://{BUCKET}/incremental/",
                     RecrawlPolicy={"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"})
    assert code(info) == "InvalidInputException"
    make_crawler(glue, "incremental", f"s3://{BUCKET}/incremental/",
                 RecrawlPolicy={"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"},
                 SchemaChangePolicy={"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"})
    crawl(glue, "incremental")
    first = tables(glue, "incremental")["sales"]
    # Between the crawls: a new partition folder, a new file (with a new column) in the old
    # folder, and a whole new table folder.
    put(s3, "incremental/sales/dt=2/a.parquet", parquet(id=[2], v=[2.0]))
    put(s3, "incremental/sales/dt=1/b.parquet", parquet(id=[3], v=[3.0], late=["yes"]))
    put(s3, "incremental/returns/r.json", b'{"order": 1, "reason": "broken"}\n{"order": 2, "reason": "late"}\n')
    crawl(glue, "incremental")
    found = tables(glue, "incremental")
    assert sorted(found) == ["returns", "sales"]
    sales = found["sales"]
    assert sorted(partitions(glue, "incremental", "sales")) == [("1",), ("2",)]
    assert columns(sales) == columns(first) == {"id": "bigint", "v": "double"}  # the old folder was not re-read
    assert sales["VersionId"] == first["VersionId"]
    assert partitions(glue, "incremental", "sales")[("1",)]["Parameters"]["objectCount"] == "1"
    metrics = glue.get_crawler_metrics(CrawlerNameList=["incremental"])["CrawlerMetricsList"][0]
    assert (metrics["TablesCreated"], metrics["TablesUpdated"]) == (1, 0)


@pytest.mark.parametrize("behavior", ["DELETE_FROM_DATABASE", "DEPRECATE_IN_DATABASE", "LOG"])
def test_deleted_folders(s3, glue, behavior):
    name = f"del_{behavior.lower()}"
    root = f"deleted/{behavior}/"
    for dt_ in ("1", "2"):
        put(s3, f"{root}kept/dt={dt_}/a.parquet", parquet(id=[1], v=[1.0]))
    put(s3, f"{root}dropped/d.json", b'{"city": "paris", "count": 3}\n')
    make_crawler(glue, name, f"s3://{BUCKET}/{root}", SchemaChangePolicy={
        "UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": behavior})
    crawl(glue, name)
    assert sorted(tables(glue, name)) == ["dropped", "kept"]
    delete_prefix(s3, f"{root}dropped/")
    delete_prefix(s3, f"{root}kept/dt=2/")
    crawl(glue, name)
    found = tables(glue, name)
    kept = sorted(partitions(glue, name, "kept"))
    metrics = glue.get_crawler_metrics(CrawlerNameList=[name])["CrawlerMetricsList"][0]
    if behavior == "DELETE_FROM_DATABASE":
        assert sorted(found) == ["kept"] and kept == [("1",)]
        assert metrics["TablesDeleted"] == 1
    elif behavior == "DEPRECATE_IN_DATABASE":
        assert sorted(found) == ["dropped", "kept"] and kept == [("1",), ("2",)]
        deprecated = found["dropped"]["Parameters"]["DEPRECATED_BY_CRAWLER"]
        assert dt.datetime.strptime(deprecated, "%Y-%m-%dT%H:%M:%SZ")
        assert "DEPRECATED_BY_CRAWLER" not in found["kept"]["Parameters"]
        assert metrics["TablesDeleted"] == 1
    else:
        assert sorted(found) == ["dropped", "kept"] and kept == [("1",), ("2",)]
        assert "DEPRECATED_BY_CRAWLER" not in found["dropped"]["Parameters"]
        assert metrics["TablesDeleted"] == 0


def test_update_behavior_and_merge_new_columns(s3, glue):
    put(s3, "updates/a/t/x.parquet", parquet(id=[1], v=pa.array([1], pa.int32())))
    put(s3, "updates/b/t/x.parquet", parquet(id=[1], v=pa.array([1], pa.int32())))
    put(s3, "updates/c/t/x.parquet", parquet(id=[1], v=pa.array([1], pa.int32())))
    make_crawler(glue, "upd_update", f"s3://{BUCKET}/updates/a/")
    make_crawler(glue, "upd_log", f"s3://{BUCKET}/updates/b/",
                 SchemaChangePolicy={"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"})
    make_crawler(glue, "upd_merge", f"s3://{BUCKET}/updates/c/", Configuration=json.dumps(
        {"Version": 1.0, "CrawlerOutput": {"Tables": {"AddOrUpdateBehavior": "MergeNewColumns"}}}))
    for name in ("upd_update", "upd_log", "upd_merge"):
        crawl(glue, name)
    for folder in "abc":  # the data changes: a column's type widens, one goes, one comes
        put(s3, f"updates/{folder}/t/x.parquet", parquet(id=[1], w=["new"]))
    for name in ("upd_update", "upd_log", "upd_merge"):
        crawl(glue, name)
    assert columns(tables(glue, "upd_update")["t"]) == {"id": "bigint", "w": "string"}
    assert tables(glue, "upd_update")["t"]["VersionId"] == "1"
    assert columns(tables(glue, "upd_log")["t"]) == {"id": "bigint", "v": "int"}
    assert columns(tables(glue, "upd_merge")["t"]) == {"id": "bigint", "v": "int", "w": "string"}


# -- crawler options -----------------------------------------------------------------------------

def test_custom_classifiers_exclusions_sample_size_and_prefix(s3, glue):
    glue.create_classifier(GrokClassifier={
        "Name": "access-log", "Classification": "access",
        "GrokPattern": "%{IPV4:client} %{WORD:method} %{URIPATHPARAM:path} %{INT:status:int} %{NUMBER:ms:double}"})
    glue.create_classifier(CsvClassifier={"Name": "bang", "Delimiter": "!", "ContainsHeader": "PRESENT"})
    put(s3, "options/logs/day1.log", b"10.0.0.1 GET /a 200 1.5\n10.0.0.2 POST /b?x=1 500 20\n")
    put(s3, "options/bang/b.txt", b"k!v\nx!1\ny!2\n")
    put(s3, "options/skip/me.csv", b"a,b\n1,2\n")
    put(s3, "options/logs/ignored.tmp", b"whatever\n")
    for i in range(5):
        put(s3, f"options/many/part-{i}.json", json.dumps({"n": i}).encode())
    make_crawler(glue, "options", [{"Path": f"s3://{BUCKET}/options/", "Exclusions": ["skip/**", "**.tmp"],
                                    "SampleSize": 2}],
                 Classifiers=["access-log", "bang"], TablePrefix="raw_")
    crawl(glue, "options")
    found = tables(glue, "options")
    assert sorted(found) == ["raw_bang", "raw_logs", "raw_many"]
    logs = found["raw_logs"]
    assert logs["Parameters"]["classification"] == "access"
    assert columns(logs) == {"client": "string", "method": "string", "path": "string", "status": "int",
                             "ms": "double"}
    assert logs["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == "com.amazonaws.glue.serde.GrokSerDe"
    assert columns(found["raw_bang"]) == {"k": "string", "v": "bigint"}
    assert found["raw_bang"]["Parameters"]["delimiter"] == "!"
    # Five files, two of them read: every file still counts.
    assert found["raw_many"]["Parameters"]["objectCount"] == "5"


def test_grouping_configuration_and_partition_inheritance(s3, glue):
    for m in ("1", "2"):
        for d in ("1", "2"):
            extra = {"note": ["x"]} if d == "2" else {}
            put(s3, f"grouping/events/year=2024/month={m}/day={d}/f.parquet", parquet(id=[1], **extra))
    make_crawler(glue, "levels", f"s3://{BUCKET}/grouping/", Configuration=json.dumps(
        {"Version": 1.0, "Grouping": {"TableLevelConfiguration": 4},
         "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}}}))
    crawl(glue, "levels")
    found = tables(glue, "levels")
    assert sorted(found) == ["month_1", "month_2"]
    assert [k["Name"] for k in found["month_1"]["PartitionKeys"]] == ["day"]
    for p in partitions(glue, "levels", "month_1").values():
        assert columns(p) == columns(found["month_1"]) == {"id": "bigint", "note": "string"}
    with pytest.raises(ClientError) as info:
        make_crawler(glue, "bad_config", f"s3://{BUCKET}/grouping/", Configuration='{"Version": 1.0, "Grouping": '
                     '{"TableGroupingPolicy": "Nope"}}')
    assert code(info) == "InvalidInputException"
    with pytest.raises(ClientError) as info:
        make_crawler(glue, "bad_json", f"s3://{BUCKET}/grouping/", Configuration="{not json")
    assert code(info) == "InvalidInputException"


def test_combine_compatible_schemas(s3, glue):
    put(s3, "combine/a/x.parquet", parquet(id=[1], name=["a"]))
    put(s3, "combine/b/y.parquet", parquet(city=["p"], population=[2]))
    make_crawler(glue, "combine", f"s3://{BUCKET}/combine/", Configuration=json.dumps(
        {"Version": 1.0, "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"}}))
    crawl(glue, "combine")
    table = tables(glue, "combine")["combine"]
    assert columns(table) == {"id": "bigint", "name": "string", "city": "string", "population": "bigint"}
    assert sorted(partitions(glue, "combine", "combine")) == [("a",), ("b",)]


# -- the crawler API, its states and its failures -------------------------------------------------------

def test_crawler_definition_api(glue):
    glue.create_crawler(Name="api", Role=ROLE, DatabaseName="apidb", Description="d",
                        Targets={"S3Targets": [{"Path": f"s3://{BUCKET}/api/", "Exclusions": ["*.tmp"]}]},
                        Schedule="cron(0 3 * * ? *)", Tags={"team": "data"})
    crawler = glue.get_crawler(Name="api")["Crawler"]
    assert crawler["State"] == "READY" and crawler["Version"] == 1 and crawler["Role"] == ROLE
    assert crawler["SchemaChangePolicy"] == {"UpdateBehavior": "UPDATE_IN_DATABASE",
                                             "DeleteBehavior": "DEPRECATE_IN_DATABASE"}
    assert crawler["RecrawlPolicy"] == {"RecrawlBehavior": "CRAWL_EVERYTHING"}
    assert crawler["Schedule"] == {"ScheduleExpression": "cron(0 3 * * ? *)", "State": "SCHEDULED"}
    assert crawler["Targets"]["S3Targets"] == [{"Path": f"s3://{BUCKET}/api/", "Exclusions": ["*.tmp"]}]
    assert "LastCrawl" not in crawler
    glue.update_crawler(Name="api", Description="new", TablePrefix="p_")
    crawler = glue.get_crawler(Name="api")["Crawler"]
    assert (crawler["Description"], crawler["TablePrefix"], crawler["Version"]) == ("new", "p_", 2)
    assert "api" in glue.list_crawlers()["CrawlerNames"]
    assert glue.list_crawlers(Tags={"team": "data"})["CrawlerNames"] == ["api"]
    assert "api" in [c["Name"] for c in glue.get_crawlers()["Crawlers"]]
    got = glue.batch_get_crawlers(CrawlerNames=["api", "ghost"])
    assert [c["Name"] for c in got["Crawlers"]] == ["api"] and got["CrawlersNotFound"] == ["ghost"]
    glue.stop_crawler_schedule(CrawlerName="api")
    assert glue.get_crawler(Name="api")["Crawler"]["Schedule"]["State"] == "NOT_SCHEDULED"
    with pytest.raises(ClientError) as info:
        glue.stop_crawler_schedule(CrawlerName="api")
    assert code(info) == "SchedulerNotRunningException"
    glue.update_crawler_schedule(CrawlerName="api", Schedule="cron(15 4 ? * MON *)")
    glue.start_crawler_schedule(CrawlerName="api")
    assert glue.get_crawler(Name="api")["Crawler"]["Schedule"] == {"ScheduleExpression": "cron(15 4 ? * MON *)",
                                                                  "State": "SCHEDULED"}
    with pytest.raises(ClientError) as info:
        glue.start_crawler_schedule(CrawlerName="api")
    assert code(info) == "SchedulerRunningException"
    glue.delete_crawler(Name="api")
    with pytest.raises(ClientError) as info:
        glue.get_crawler(Name="api")
    assert code(info) == "EntityNotFoundException"


@pytest.mark.parametrize("options, error", [
    ({"Schedule": "cron(0 3 * * * *)"}, "InvalidInputException"),
    ({"Schedule": "every day"}, "InvalidInputException"),
    ({"Targets": {"S3Targets": [{"Path": "/not/s3"}]}}, "InvalidInputException"),
    ({"Targets": {}}, "InvalidInputException"),
    ({"Targets": {"S3Targets": [{"Path": f"s3://{BUCKET}/x", "Exclusions": ["{a,b"]}]}}, "InvalidInputException"),
    ({"Classifiers": ["no-such-classifier"]}, "EntityNotFoundException"),
])
def test_bad_crawler_definitions(glue, options, error):
    request = {"Name": "bad", "Role": ROLE, "DatabaseName": "x", "Targets": {"S3Targets": [
        {"Path": f"s3://{BUCKET}/x/"}]}, **options}
    with pytest.raises(ClientError) as info:
        glue.create_crawler(**request)
    assert code(info) == error


def test_crawler_errors(glue):
    make_crawler(glue, "dupe", f"s3://{BUCKET}/nothing-here/")
    with pytest.raises(ClientError) as info:
        make_crawler(glue, "dupe", f"s3://{BUCKET}/nothing-here/")
    assert code(info) == "AlreadyExistsException"
    for call in (lambda: glue.start_crawler(Name="ghost"), lambda: glue.stop_crawler(Name="ghost"),
                 lambda: glue.delete_crawler(Name="ghost"), lambda: glue.update_crawler(Name="ghost", TablePrefix="x")):
        with pytest.raises(ClientError) as info:
            call()
        assert code(info) == "EntityNotFoundException"
    with pytest.raises(ClientError) as info:
        glue.stop_crawler(Name="dupe")
    assert code(info) == "CrawlerNotRunningException"
    with pytest.raises(ClientError) as info:
        glue.start_crawler_schedule(CrawlerName="dupe")
    assert code(info) == "NoScheduleException"
    crawl(glue, "dupe")  # an empty prefix crawls fine and finds nothing
    assert tables(glue, "dupe") == {}


def test_stopping_a_running_crawl(s3, glue):
    # Each file takes the classifier a catastrophic-backtracking regex: slow enough to stop.
    glue.create_classifier(GrokClassifier={"Name": "slow", "Classification": "slow", "GrokPattern": "%{EVIL:x}",
                                           "CustomPatterns": "EVIL (a+)+b"})
    for i in range(60):
        put(s3, f"slow/f{i:02d}.txt", b"a" * 20 + b"c\n")
    make_crawler(glue, "slow", f"s3://{BUCKET}/slow/", Classifiers=["slow"])
    glue.start_crawler(Name="slow")
    assert glue.get_crawler(Name="slow")["Crawler"]["State"] == "RUNNING"
    with pytest.raises(ClientError) as info:
        glue.start_crawler(Name="slow")
    assert code(info) == "CrawlerRunningException"
    with pytest.raises(ClientError) as info:
        glue.delete_crawler(Name="slow")
    assert code(info) == "CrawlerRunningException"
    time.sleep(0.3)
    metrics = glue.get_crawler_metrics(CrawlerNameList=["slow"])["CrawlerMetricsList"][0]
    assert metrics["TimeLeftSeconds"] > 0
    glue.stop_crawler(Name="slow")
    # STOPPING lasts until the file being read is done (tens of milliseconds here).
    assert glue.get_crawler(Name="slow")["Crawler"]["State"] in ("STOPPING", "READY")
    with pytest.raises(ClientError) as info:
        glue.stop_crawler(Name="slow")
    assert code(info) in ("CrawlerStoppingException", "CrawlerNotRunningException")
    crawler = wait_ready(glue, "slow")
    assert crawler["LastCrawl"]["Status"] == "CANCELLED"
    assert glue.list_crawls(CrawlerName="slow")["Crawls"][0]["State"] == "STOPPED"
    assert tables(glue, "slow") == {}


def test_failed_crawls_say_why(lakestack_stack, s3, glue):
    iam = lakestack_stack.client("iam")
    iam.create_role(RoleName="no-s3", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName="no-s3", PolicyName="glue-only", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "glue:*", "Resource": "*"}]}))
    iam.create_role(RoleName="untrusting", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))
    put(s3, "private/t/a.parquet", parquet(id=[1]))
    for name, role in (("denied", "no-s3"), ("untrusted", "untrusting"), ("missing-role", "does-not-exist")):
        glue.create_crawler(Name=name, Role=role, DatabaseName="failures",
                            Targets={"S3Targets": [{"Path": f"s3://{BUCKET}/private/"}]})
        crawler = crawl(glue, name, expect="FAILED")
        assert "not authorized" in crawler["LastCrawl"]["ErrorMessage"]
    history = glue.list_crawls(CrawlerName="denied")["Crawls"]
    assert history[0]["State"] == "FAILED" and "ErrorMessage" in history[0]


def test_metrics_and_history(s3, glue):
    put(s3, "metered/t1/a.parquet", parquet(id=[1], name=["a"], v=[1.0]))
    put(s3, "metered/t2/a.json", b'{"x": "y"}\n')
    make_crawler(glue, "metered", f"s3://{BUCKET}/metered/")
    first = crawl(glue, "metered")
    put(s3, "metered/t1/b.parquet", parquet(id=[1], name=["b"], v=[2.0], more=[2]))
    crawl(glue, "metered")
    metrics = glue.get_crawler_metrics(CrawlerNameList=["metered"])["CrawlerMetricsList"][0]
    assert (metrics["TablesCreated"], metrics["TablesUpdated"], metrics["TablesDeleted"]) == (0, 1, 0)
    assert metrics["LastRuntimeSeconds"] > 0 and metrics["MedianRuntimeSeconds"] > 0
    assert metrics["StillEstimating"] is False and metrics["TimeLeftSeconds"] == 0
    crawls = glue.list_crawls(CrawlerName="metered")["Crawls"]
    assert [c["State"] for c in crawls] == ["COMPLETED", "COMPLETED"]
    assert json.loads(crawls[1]["Summary"]) == {"TABLE": {"ADD": {"Count": 2}}}
    assert json.loads(crawls[0]["Summary"]) == {"TABLE": {"UPDATE": {"Count": 1}}}
    assert crawls[1]["CrawlId"] == first["LastCrawl"]["MessagePrefix"]
    only_first = glue.list_crawls(CrawlerName="metered", Filters=[
        {"FieldName": "CRAWL_ID", "FilterOperator": "EQ", "FieldValue": crawls[1]["CrawlId"]}])["Crawls"]
    assert [c["CrawlId"] for c in only_first] == [crawls[1]["CrawlId"]]
    everything = glue.get_crawler_metrics()["CrawlerMetricsList"]
    assert "metered" in [m["CrawlerName"] for m in everything]


@pytest.mark.slow
def test_schedule_starts_crawls(s3, glue):
    put(s3, "scheduled/t/a.parquet", parquet(id=[1]))
    make_crawler(glue, "scheduled", f"s3://{BUCKET}/scheduled/", Schedule="cron(* * * * ? *)")
    crawler = wait_ready(glue, "scheduled", timeout=90)  # the next minute boundary starts it
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"
    assert "t" in tables(glue, "scheduled")
    glue.stop_crawler_schedule(CrawlerName="scheduled")
