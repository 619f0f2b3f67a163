"""Glue Data Catalog through boto3 against a real lakestack: databases, tables and their
versions, partitions and the predicate language, indexes, statistics, functions,
classifiers, tags, IAM, and the AWS error codes."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest
from botocore.exceptions import ClientError

from lakestack.inprocess import LocalStack


@pytest.fixture(scope="module")
def glue(lakestack_stack):
    return lakestack_stack.client("glue")


def code(info) -> str:
    return info.value.response["Error"]["Code"]


def subset(actual: dict, expected: dict) -> dict:
    """The members of `actual` that `expected` names."""
    return {k: actual.get(k) for k in expected}


RICH_TABLE = {
    "Name": "rides",
    "Description": "bike rides",
    "Owner": "data-team",
    "Retention": 0,
    "TableType": "EXTERNAL_TABLE",
    "LastAccessTime": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
    "Parameters": {"classification": "parquet", "has_encrypted_data": "false", "EXTERNAL": "TRUE"},
    "PartitionKeys": [{"Name": "year", "Type": "int", "Comment": "ride year"},
                      {"Name": "city", "Type": "string", "Parameters": {"k": "v"}}],
    "StorageDescriptor": {
        "Columns": [{"Name": "ride_id", "Type": "bigint", "Comment": "id", "Parameters": {"pii": "no"}},
                    {"Name": "route", "Type": "array<struct<lat:double,lon:double>>"},
                    {"Name": "meta", "Type": "map<string,string>"}],
        "Location": "s3://lake/rides/",
        "AdditionalLocations": ["s3://lake/rides-archive/"],
        "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "Compressed": True,
        "NumberOfBuckets": 4,
        "SerdeInfo": {"Name": "parquet", "SerializationLibrary":
                      "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                      "Parameters": {"serialization.format": "1"}},
        "BucketColumns": ["ride_id"],
        "SortColumns": [{"Column": "ride_id", "SortOrder": 1}],
        "Parameters": {"sd-param": "x"},
        "SkewedInfo": {"SkewedColumnNames": ["city"], "SkewedColumnValues": ["paris"],
                       "SkewedColumnValueLocationMaps": {"paris": "s3://lake/rides/paris/"}},
        "StoredAsSubDirectories": False,
    },
}


# -- databases ----------------------------------------------------------------------------------

def test_database_round_trip_case_and_errors(glue):
    glue.create_database(DatabaseInput={"Name": "Bikes", "Description": "d", "LocationUri": "s3://lake/bikes/",
                                        "Parameters": {"owner": "me"}}, Tags={"team": "data"})
    db = glue.get_database(Name="BIKES")["Database"]
    assert db["Name"] == "bikes"  # Glue keeps names in lower case
    assert subset(db, {"Description": 0, "LocationUri": 0, "Parameters": 0}) == {
        "Description": "d", "LocationUri": "s3://lake/bikes/", "Parameters": {"owner": "me"}}
    assert db["CreateTableDefaultPermissions"][0]["Principal"]["DataLakePrincipalIdentifier"] == \
        "IAM_ALLOWED_PRINCIPALS"
    assert isinstance(db["CreateTime"], dt.datetime) and db["CatalogId"]
    with pytest.raises(ClientError) as info:
        glue.create_database(DatabaseInput={"Name": "bikes"})
    assert code(info) == "AlreadyExistsException"
    with pytest.raises(ClientError) as info:
        glue.get_database(Name="nope")
    assert code(info) == "EntityNotFoundException"
    glue.update_database(Name="bikes", DatabaseInput={"Name": "bikes", "Description": "new"})
    db = glue.get_database(Name="bikes")["Database"]
    assert db["Description"] == "new" and "Parameters" not in db
    arn = f"arn:aws:glue:us-east-1:{db['CatalogId']}:database/bikes"
    assert glue.get_tags(ResourceArn=arn)["Tags"] == {"team": "data"}


def test_get_databases_pages(glue):
    for i in range(5):
        glue.create_database(DatabaseInput={"Name": f"page_db_{i}"})
    seen, token = [], None
    while True:
        page = glue.get_databases(MaxResults=2, **({"NextToken": token} if token else {}))
        seen += [d["Name"] for d in page["DatabaseList"]]
        token = page.get("NextToken")
        if not token:
            break
    assert [n for n in seen if n.startswith("page_db_")] == [f"page_db_{i}" for i in range(5)]
    assert len(seen) == len(set(seen))


def test_delete_database_takes_its_tables(glue):
    glue.create_database(DatabaseInput={"Name": "doomed"})
    glue.create_table(DatabaseName="doomed", TableInput={"Name": "t"})
    glue.delete_database(Name="doomed")
    glue.create_database(DatabaseInput={"Name": "doomed"})
    with pytest.raises(ClientError) as info:
        glue.get_table(DatabaseName="doomed", Name="t")
    assert code(info) == "EntityNotFoundException"
    with pytest.raises(ClientError) as info:
        glue.delete_database(Name="never-was")
    assert code(info) == "EntityNotFoundException"


# -- tables ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def catalog(glue):
    glue.create_database(DatabaseInput={"Name": "cat"})
    return "cat"


def test_table_round_trips_exactly(glue, catalog):
    glue.create_table(DatabaseName=catalog, TableInput=RICH_TABLE)
    table = glue.get_table(DatabaseName=catalog, Name="RIDES")["Table"]
    assert subset(table, RICH_TABLE) == RICH_TABLE
    assert table["DatabaseName"] == catalog and table["VersionId"] == "0"
    assert table["CreateTime"] == table["UpdateTime"] and table["IsRegisteredWithLakeFormation"] is False
    assert table["CreatedBy"].endswith(":root")


@pytest.mark.parametrize("table_input", [
    {"Name": "view_1", "TableType": "VIRTUAL_VIEW", "ViewOriginalText": "/* Presto View: eyJ */",
     "ViewExpandedText": "/* Presto View */", "Parameters": {"presto_view": "true", "comment": "Presto View"},
     "StorageDescriptor": {"Columns": [{"Name": "n", "Type": "bigint"}], "SerdeInfo": {}}},
    {"Name": "iceberg_1", "TableType": "EXTERNAL_TABLE",
     "Parameters": {"table_type": "ICEBERG", "metadata_location": "s3://lake/ice/metadata/00000-a.metadata.json"},
     "StorageDescriptor": {"Location": "s3://lake/ice", "Columns": [
         {"Name": "id", "Type": "bigint", "Parameters": {"iceberg.field.id": "1", "iceberg.field.optional": "true",
                                                         "iceberg.field.current": "true"}}]}},
    {"Name": "csv_1", "StorageDescriptor": {"Columns": [{"Name": "a", "Type": "string"}], "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.serde2.OpenCSVSerde",
        "Parameters": {"separatorChar": ";", "quoteChar": "\"", "escapeChar": "\\"}}},
     "Parameters": {"skip.header.line.count": "1"}},
])
def test_table_types_round_trip(glue, catalog, table_input):
    glue.create_table(DatabaseName=catalog, TableInput=table_input)
    assert subset(glue.get_table(DatabaseName=catalog, Name=table_input["Name"])["Table"], table_input) == \
        table_input


def test_table_errors(glue, catalog):
    with pytest.raises(ClientError) as info:
        glue.create_table(DatabaseName="no_such_db", TableInput={"Name": "t"})
    assert code(info) == "EntityNotFoundException"
    glue.create_table(DatabaseName=catalog, TableInput={"Name": "dupe"})
    with pytest.raises(ClientError) as info:
        glue.create_table(DatabaseName=catalog, TableInput={"Name": "DUPE"})
    assert code(info) == "AlreadyExistsException"
    with pytest.raises(ClientError) as info:
        glue.get_table(DatabaseName=catalog, Name="missing")
    assert code(info) == "EntityNotFoundException"
    with pytest.raises(ClientError) as info:
        glue.get_table(DatabaseName="no_such_db", Name="missing")
    assert code(info) == "EntityNotFoundException" and "Database" in info.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as info:
        glue.create_table(DatabaseName=catalog, TableInput={"Name": "twice", "PartitionKeys": [
            {"Name": "a", "Type": "string"}, {"Name": "A", "Type": "string"}]})
    assert code(info) == "InvalidInputException"
    with pytest.raises(ClientError) as info:
        glue.get_table(DatabaseName=catalog, Name="dupe", CatalogId="111122223333")
    assert code(info) == "AccessDeniedException"


def test_get_tables_expression_and_pages(glue):
    glue.create_database(DatabaseInput={"Name": "listing"})
    for name in ("sales_2023", "sales_2024", "customers", "orders"):
        glue.create_table(DatabaseName="listing", TableInput={"Name": name, "TableType": "EXTERNAL_TABLE"})

    def names(**kwargs):
        return [t["Name"] for t in glue.get_tables(DatabaseName="listing", **kwargs)["TableList"]]

    assert names(Expression="sales*") == ["sales_2023", "sales_2024"]
    assert names(Expression="*or*|customers") == ["customers", "orders"]
    assert names(Expression="SALES_2024") == ["sales_2024"]
    page = glue.get_tables(DatabaseName="listing", MaxResults=3)
    following = glue.get_tables(DatabaseName="listing", MaxResults=3, NextToken=page["NextToken"])
    assert [t["Name"] for t in page["TableList"] + following["TableList"]] == sorted(
        ["sales_2023", "sales_2024", "customers", "orders"])
    assert "NextToken" not in following
    slim = glue.get_tables(DatabaseName="listing", AttributesToGet=["NAME", "TABLE_TYPE"])["TableList"][0]
    assert set(slim) == {"Name", "TableType"}
    with pytest.raises(ClientError) as info:
        glue.get_tables(DatabaseName="listing", Expression="sales[")
    assert code(info) == "InvalidInputException"
    with pytest.raises(ClientError) as info:
        glue.get_tables(DatabaseName="nowhere")
    assert code(info) == "EntityNotFoundException"


def test_update_table_versions_and_optimistic_locking(glue, catalog):
    base = {"Name": "versioned", "Parameters": {"v": "0"}, "StorageDescriptor": {"Columns": [
        {"Name": "a", "Type": "int"}]}}
    glue.create_table(DatabaseName=catalog, TableInput=base)
    first = glue.get_table(DatabaseName=catalog, Name="versioned")["Table"]
    v1 = copy.deepcopy(base)
    v1["Parameters"] = {"v": "1"}
    glue.update_table(DatabaseName=catalog, TableInput=v1, VersionId=first["VersionId"])
    # A second writer that read version 0 loses: optimistic concurrency.
    stale = copy.deepcopy(base)
    stale["Parameters"] = {"v": "stale"}
    with pytest.raises(ClientError) as info:
        glue.update_table(DatabaseName=catalog, TableInput=stale, VersionId=first["VersionId"])
    assert code(info) == "ConcurrentModificationException"
    current = glue.get_table(DatabaseName=catalog, Name="versioned")["Table"]
    assert current["Parameters"] == {"v": "1"} and current["VersionId"] == "1"
    assert current["CreateTime"] == first["CreateTime"]
    # Without a VersionId the update simply applies; UpdateTable replaces the whole definition.
    glue.update_table(DatabaseName=catalog, TableInput={"Name": "versioned", "Parameters": {"v": "2"}})
    assert "StorageDescriptor" not in glue.get_table(DatabaseName=catalog, Name="versioned")["Table"]
    versions = glue.get_table_versions(DatabaseName=catalog, TableName="versioned")["TableVersions"]
    assert [(v["VersionId"], v["Table"]["Parameters"]["v"]) for v in versions] == [("2", "2"), ("1", "1"),
                                                                                   ("0", "0")]
    old = glue.get_table_version(DatabaseName=catalog, TableName="versioned", VersionId="0")["TableVersion"]
    assert old["Table"]["StorageDescriptor"]["Columns"] == [{"Name": "a", "Type": "int"}]
    glue.update_table(DatabaseName=catalog, TableInput={"Name": "versioned", "Parameters": {"v": "3"}},
                      SkipArchive=True)
    versions = glue.get_table_versions(DatabaseName=catalog, TableName="versioned")["TableVersions"]
    assert [v["VersionId"] for v in versions] == ["3", "1", "0"]  # version 2 was not archived
    glue.delete_table_version(DatabaseName=catalog, TableName="versioned", VersionId="0")
    errors = glue.batch_delete_table_version(DatabaseName=catalog, TableName="versioned",
                                             VersionIds=["1", "42"])["Errors"]
    assert [(e["VersionId"], e["ErrorDetail"]["ErrorCode"]) for e in errors] == [("42", "EntityNotFoundException")]
    with pytest.raises(ClientError) as info:
        glue.get_table_version(DatabaseName=catalog, TableName="versioned", VersionId="0")
    assert code(info) == "EntityNotFoundException"
    with pytest.raises(ClientError) as info:
        glue.update_table(DatabaseName=catalog, TableInput={"Name": "not_there"})
    assert code(info) == "EntityNotFoundException"


def test_batch_delete_table(glue, catalog):
    for name in ("bd_1", "bd_2"):
        glue.create_table(DatabaseName=catalog, TableInput={"Name": name})
    errors = glue.batch_delete_table(DatabaseName=catalog, TablesToDelete=["bd_1", "bd_2", "bd_3"])["Errors"]
    assert [(e["TableName"], e["ErrorDetail"]["ErrorCode"]) for e in errors] == [("bd_3", "EntityNotFoundException")]


# -- partitions -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def partitioned(glue, catalog):
    glue.create_table(DatabaseName=catalog, TableInput={
        "Name": "trips", "PartitionKeys": [{"Name": "year", "Type": "int"}, {"Name": "city", "Type": "string"}],
        "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "bigint"}], "Location": "s3://lake/trips/"}})
    inputs = [{"Values": [str(year), city], "Parameters": {"n": f"{year}{city}"},
               "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "bigint"}],
                                     "Location": f"s3://lake/trips/year={year}/city={city}/"}}
              for year in range(2015, 2025) for city in ("paris", "lyon", "nice")]
    for i in range(0, len(inputs), 100):
        assert glue.batch_create_partition(DatabaseName=catalog, TableName="trips",
                                           PartitionInputList=inputs[i:i + 100])["Errors"] == []
    return "trips"


def values(partitions) -> list[tuple]:
    return sorted(tuple(p["Values"]) for p in partitions)


def test_partition_round_trip(glue, catalog, partitioned):
    p = glue.get_partition(DatabaseName=catalog, TableName=partitioned, PartitionValues=["2020", "lyon"])["Partition"]
    assert p["Values"] == ["2020", "lyon"] and p["Parameters"] == {"n": "2020lyon"}
    assert p["StorageDescriptor"]["Location"] == "s3://lake/trips/year=2020/city=lyon/"
    assert p["DatabaseName"] == catalog and p["TableName"] == partitioned and "CreationTime" in p


@pytest.mark.parametrize("expression, count", [
    ("year = 2020", 3),
    ("year > 2020 AND city = 'nice'", 4),
    ("year BETWEEN 2016 AND 2018 OR city LIKE 'p%'", 9 + 7),
    ("city IN ('paris', 'lyon') AND NOT year < 2023", 4),
    ("(year = 2015 OR year = 2024) AND city <> 'lyon'", 4),
])
def test_get_partitions_with_expressions(glue, catalog, partitioned, expression, count):
    found = glue.get_partitions(DatabaseName=catalog, TableName=partitioned, Expression=expression)["Partitions"]
    assert len(found) == count


def test_malformed_partition_expression_is_invalid_input(glue, catalog, partitioned):
    for bad in ("year >", "year = = 2", "nosuchkey = 1", "year IN (2020"):
        with pytest.raises(ClientError) as info:
            glue.get_partitions(DatabaseName=catalog, TableName=partitioned, Expression=bad)
        assert code(info) == "InvalidInputException", bad


def test_get_partitions_pages_and_segments(glue, catalog, partitioned):
    everything = []
    for page in glue.get_paginator("get_partitions").paginate(DatabaseName=catalog, TableName=partitioned,
                                                               PaginationConfig={"PageSize": 7}):
        everything += page["Partitions"]
    assert len(everything) == 30 and len(values(everything)) == len(set(values(everything)))
    segments = [glue.get_partitions(DatabaseName=catalog, TableName=partitioned,
                                    Segment={"SegmentNumber": n, "TotalSegments": 4})["Partitions"] for n in range(4)]
    assert sum(len(s) for s in segments) == 30
    assert values([p for s in segments for p in s]) == values(everything)
    slim = glue.get_partitions(DatabaseName=catalog, TableName=partitioned, ExcludeColumnSchema=True,
                               MaxResults=1)["Partitions"][0]
    assert "Columns" not in slim["StorageDescriptor"] and "Location" in slim["StorageDescriptor"]


def test_partition_batch_get_update_delete(glue, catalog, partitioned):
    got = glue.batch_get_partition(DatabaseName=catalog, TableName=partitioned, PartitionsToGet=[
        {"Values": ["2015", "paris"]}, {"Values": ["1999", "paris"]}])
    assert values(got["Partitions"]) == [("2015", "paris")] and got["UnprocessedKeys"] == []
    errors = glue.batch_create_partition(DatabaseName=catalog, TableName=partitioned, PartitionInputList=[
        {"Values": ["2015", "paris"]}, {"Values": ["2015"]}, {"Values": ["2030", "nice"]}])["Errors"]
    assert [e["ErrorDetail"]["ErrorCode"] for e in errors] == ["AlreadyExistsException", "InvalidInputException"]
    glue.update_partition(DatabaseName=catalog, TableName=partitioned, PartitionValueList=["2030", "nice"],
                          PartitionInput={"Values": ["2031", "nice"], "Parameters": {"moved": "yes"}})
    moved = glue.get_partition(DatabaseName=catalog, TableName=partitioned, PartitionValues=["2031", "nice"])
    assert moved["Partition"]["Parameters"] == {"moved": "yes"}
    errors = glue.batch_update_partition(DatabaseName=catalog, TableName=partitioned, Entries=[
        {"PartitionValueList": ["2031", "nice"], "PartitionInput": {"Values": ["2031", "nice"],
                                                                    "Parameters": {"v": "2"}}},
        {"PartitionValueList": ["1900", "nice"], "PartitionInput": {"Values": ["1900", "nice"]}}])["Errors"]
    assert [e["PartitionValueList"] for e in errors] == [["1900", "nice"]]
    errors = glue.batch_delete_partition(DatabaseName=catalog, TableName=partitioned, PartitionsToDelete=[
        {"Values": ["2031", "nice"]}, {"Values": ["1900", "nice"]}])["Errors"]
    assert [e["ErrorDetail"]["ErrorCode"] for e in errors] == ["EntityNotFoundException"]
    with pytest.raises(ClientError) as info:
        glue.delete_partition(DatabaseName=catalog, TableName=partitioned, PartitionValues=["2031", "nice"])
    assert code(info) == "EntityNotFoundException"
    with pytest.raises(ClientError) as info:
        glue.create_partition(DatabaseName=catalog, TableName=partitioned, PartitionInput={"Values": ["2015", "paris"]})
    assert code(info) == "AlreadyExistsException"
    with pytest.raises(ClientError) as info:
        glue.get_partitions(DatabaseName=catalog, TableName="no_table")
    assert code(info) == "EntityNotFoundException"


def test_partition_indexes(glue, catalog, partitioned):
    glue.create_partition_index(DatabaseName=catalog, TableName=partitioned,
                                PartitionIndex={"IndexName": "by_city", "Keys": ["city"]})
    indexes = glue.get_partition_indexes(DatabaseName=catalog, TableName=partitioned)["PartitionIndexDescriptorList"]
    assert indexes == [{"IndexName": "by_city", "Keys": [{"Name": "city", "Type": "string"}],
                        "IndexStatus": "ACTIVE"}]
    with pytest.raises(ClientError) as info:
        glue.create_partition_index(DatabaseName=catalog, TableName=partitioned,
                                    PartitionIndex={"IndexName": "by_city", "Keys": ["year"]})
    assert code(info) == "AlreadyExistsException"
    with pytest.raises(ClientError) as info:
        glue.create_partition_index(DatabaseName=catalog, TableName=partitioned,
                                    PartitionIndex={"IndexName": "bad", "Keys": ["id"]})
    assert code(info) == "InvalidInputException"
    glue.delete_partition_index(DatabaseName=catalog, TableName=partitioned, IndexName="by_city")
    assert glue.get_partition_indexes(DatabaseName=catalog, TableName=partitioned)["PartitionIndexDescriptorList"] == []


def test_column_statistics(glue, catalog, partitioned):
    stats = {"ColumnName": "id", "ColumnType": "bigint",
             "AnalyzedTime": dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
             "StatisticsData": {"Type": "LONG", "LongColumnStatisticsData": {
                 "MinimumValue": 1, "MaximumValue": 99, "NumberOfNulls": 0, "NumberOfDistinctValues": 99}}}
    missing = {**stats, "ColumnName": "nope"}
    errors = glue.update_column_statistics_for_table(DatabaseName=catalog, TableName=partitioned,
                                                     ColumnStatisticsList=[stats, missing])["Errors"]
    assert [e["ColumnStatistics"]["ColumnName"] for e in errors] == ["nope"]
    got = glue.get_column_statistics_for_table(DatabaseName=catalog, TableName=partitioned,
                                               ColumnNames=["id", "other"])
    assert got["ColumnStatisticsList"] == [stats] and [e["ColumnName"] for e in got["Errors"]] == ["other"]
    decimal = {"ColumnName": "id", "ColumnType": "decimal(4,2)", "AnalyzedTime": stats["AnalyzedTime"],
               "StatisticsData": {"Type": "DECIMAL", "DecimalColumnStatisticsData": {
                   "MinimumValue": {"UnscaledValue": b"\x01\x02", "Scale": 2}, "NumberOfNulls": 1,
                   "NumberOfDistinctValues": 3}}}
    glue.update_column_statistics_for_partition(DatabaseName=catalog, TableName=partitioned,
                                                PartitionValues=["2020", "nice"], ColumnStatisticsList=[decimal])
    got = glue.get_column_statistics_for_partition(DatabaseName=catalog, TableName=partitioned,
                                                   PartitionValues=["2020", "nice"], ColumnNames=["id"])
    assert got["ColumnStatisticsList"] == [decimal]
    glue.delete_column_statistics_for_partition(DatabaseName=catalog, TableName=partitioned,
                                                PartitionValues=["2020", "nice"], ColumnName="id")
    glue.delete_column_statistics_for_table(DatabaseName=catalog, TableName=partitioned, ColumnName="id")
    with pytest.raises(ClientError) as info:
        glue.delete_column_statistics_for_table(DatabaseName=catalog, TableName=partitioned, ColumnName="id")
    assert code(info) == "EntityNotFoundException"
    with pytest.raises(ClientError) as info:
        glue.get_column_statistics_for_partition(DatabaseName=catalog, TableName=partitioned,
                                                 PartitionValues=["1800", "x"], ColumnNames=["id"])
    assert code(info) == "EntityNotFoundException"


def test_deleting_a_table_takes_its_partitions(glue, catalog):
    glue.create_table(DatabaseName=catalog, TableInput={"Name": "short_lived",
                                                        "PartitionKeys": [{"Name": "p", "Type": "string"}]})
    glue.create_partition(DatabaseName=catalog, TableName="short_lived", PartitionInput={"Values": ["1"]})
    glue.delete_table(DatabaseName=catalog, Name="short_lived")
    glue.create_table(DatabaseName=catalog, TableInput={"Name": "short_lived",
                                                        "PartitionKeys": [{"Name": "p", "Type": "string"}]})
    assert glue.get_partitions(DatabaseName=catalog, TableName="short_lived")["Partitions"] == []


# -- functions, import status, classifiers ---------------------------------------------------------

def test_user_defined_functions(glue, catalog):
    function = {"FunctionName": "geo_distance", "ClassName": "com.example.GeoDistance", "OwnerName": "me",
                "OwnerType": "USER", "ResourceUris": [{"ResourceType": "JAR", "Uri": "s3://lake/udf.jar"}]}
    glue.create_user_defined_function(DatabaseName=catalog, FunctionInput=function)
    got = glue.get_user_defined_function(DatabaseName=catalog, FunctionName="geo_distance")["UserDefinedFunction"]
    assert subset(got, function) == function and got["DatabaseName"] == catalog
    with pytest.raises(ClientError) as info:
        glue.create_user_defined_function(DatabaseName=catalog, FunctionInput=function)
    assert code(info) == "AlreadyExistsException"
    glue.update_user_defined_function(DatabaseName=catalog, FunctionName="geo_distance",
                                      FunctionInput={**function, "ClassName": "com.example.V2"})
    listed = glue.get_user_defined_functions(DatabaseName=catalog, Pattern="geo*")["UserDefinedFunctions"]
    assert [(f["FunctionName"], f["ClassName"]) for f in listed] == [("geo_distance", "com.example.V2")]
    assert glue.get_user_defined_functions(Pattern="nothing*")["UserDefinedFunctions"] == []
    glue.delete_user_defined_function(DatabaseName=catalog, FunctionName="geo_distance")
    with pytest.raises(ClientError) as info:
        glue.get_user_defined_function(DatabaseName=catalog, FunctionName="geo_distance")
    assert code(info) == "EntityNotFoundException"


def test_catalog_import_status(glue):
    status = glue.get_catalog_import_status()["ImportStatus"]
    assert status["ImportCompleted"] is True and isinstance(status["ImportTime"], dt.datetime)


def test_classifiers_crud(glue):
    glue.create_classifier(CsvClassifier={"Name": "pipes", "Delimiter": "|", "QuoteSymbol": "'",
                                          "ContainsHeader": "PRESENT", "Header": ["a", "b"]})
    glue.create_classifier(GrokClassifier={"Name": "logs", "Classification": "app",
                                           "GrokPattern": "%{WORD:level} %{GREEDYDATA:msg}"})
    glue.create_classifier(JsonClassifier={"Name": "records", "JsonPath": "$.records[*]"})
    glue.create_classifier(XMLClassifier={"Name": "rows", "Classification": "xml", "RowTag": "row"})
    csv = glue.get_classifier(Name="pipes")["Classifier"]["CsvClassifier"]
    assert subset(csv, {"Delimiter": 0, "QuoteSymbol": 0, "ContainsHeader": 0, "Header": 0, "Version": 0}) == {
        "Delimiter": "|", "QuoteSymbol": "'", "ContainsHeader": "PRESENT", "Header": ["a", "b"], "Version": 1}
    glue.update_classifier(CsvClassifier={"Name": "pipes", "Delimiter": ";"})
    csv = glue.get_classifier(Name="pipes")["Classifier"]["CsvClassifier"]
    assert (csv["Delimiter"], csv["QuoteSymbol"], csv["Version"]) == (";", "'", 2)
    kinds = {next(iter(c)) for c in glue.get_classifiers()["Classifiers"]}
    assert kinds == {"CsvClassifier", "GrokClassifier", "JsonClassifier", "XMLClassifier"}
    for bad in ({"CsvClassifier": {"Name": "pipes"}},):
        with pytest.raises(ClientError) as info:
            glue.create_classifier(**bad)
        assert code(info) == "AlreadyExistsException"
    for bad in ({"GrokClassifier": {"Name": "g2", "Classification": "x", "GrokPattern": "%{NOPE:x}"}},
                {"JsonClassifier": {"Name": "j2", "JsonPath": "records"}},
                {"CsvClassifier": {"Name": "c2", "Delimiter": ",", "QuoteSymbol": ","}}):
        with pytest.raises(ClientError) as info:
            glue.create_classifier(**bad)
        assert code(info) == "InvalidInputException"
    with pytest.raises(ClientError) as info:
        glue.update_classifier(JsonClassifier={"Name": "pipes", "JsonPath": "$"})
    assert code(info) == "InvalidInputException"
    for name in ("pipes", "logs", "records", "rows"):
        glue.delete_classifier(Name=name)
    with pytest.raises(ClientError) as info:
        glue.get_classifier(Name="pipes")
    assert code(info) == "EntityNotFoundException"


# -- IAM and durability ---------------------------------------------------------------------------------

def test_table_level_permissions(lakestack_stack, glue):
    glue.create_database(DatabaseInput={"Name": "secured"})
    for name in ("open_table", "closed_table"):
        glue.create_table(DatabaseName="secured", TableInput={"Name": name})
    iam = lakestack_stack.client("iam")
    iam.create_user(UserName="analyst")
    account = glue.get_database(Name="secured")["Database"]["CatalogId"]
    arn = f"arn:aws:glue:us-east-1:{account}"
    iam.put_user_policy(UserName="analyst", PolicyName="one-table", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["glue:GetTable", "glue:GetTables"],
                                                "Resource": [f"{arn}:catalog", f"{arn}:database/secured",
                                                             f"{arn}:table/secured/open_table"]}]}))
    key = iam.create_access_key(UserName="analyst")["AccessKey"]
    analyst = lakestack_stack.client("glue", aws_access_key_id=key["AccessKeyId"],
                                     aws_secret_access_key=key["SecretAccessKey"])
    assert analyst.get_table(DatabaseName="secured", Name="open_table")["Table"]["Name"] == "open_table"
    with pytest.raises(ClientError) as info:
        analyst.get_table(DatabaseName="secured", Name="closed_table")
    assert code(info) == "AccessDeniedException"
    with pytest.raises(ClientError) as info:
        analyst.delete_table(DatabaseName="secured", Name="open_table")
    assert code(info) == "AccessDeniedException"


def test_catalog_survives_a_restart(tmp_path):
    with LocalStack(home=tmp_path) as stack:
        glue = stack.client("glue")
        glue.create_database(DatabaseInput={"Name": "durable"})
        glue.create_table(DatabaseName="durable", TableInput=RICH_TABLE)
        glue.create_partition(DatabaseName="durable", TableName="rides",
                              PartitionInput={"Values": ["2024", "paris"]})
    with LocalStack(home=tmp_path) as stack:
        glue = stack.client("glue")
        assert subset(glue.get_table(DatabaseName="durable", Name="rides")["Table"], RICH_TABLE) == RICH_TABLE
        assert glue.get_partition(DatabaseName="durable", TableName="rides",
                                  PartitionValues=["2024", "paris"])["Partition"]["Values"] == ["2024", "paris"]


def test_search_tables(glue):
    glue.create_database(DatabaseInput={"Name": "searchable"})
    glue.create_table(DatabaseName="searchable", TableInput={
        "Name": "bike_rides", "Description": "every ride", "Parameters": {"team": "mobility"},
        "StorageDescriptor": {"Columns": [{"Name": "battery_level", "Type": "int"}]}})
    glue.create_table(DatabaseName="searchable", TableInput={"Name": "weather", "Parameters": {"team": "climate"}})

    def names(**kwargs):
        return [t["Name"] for t in glue.search_tables(**kwargs)["TableList"] if t["DatabaseName"] == "searchable"]

    assert names(SearchText="battery") == ["bike_rides"]
    assert names(SearchText="ride") == ["bike_rides"]
    assert names(SearchText='"weather"') == ["weather"]
    assert names(Filters=[{"Key": "team", "Value": "climate"}]) == ["weather"]
    assert names(Filters=[{"Key": "DatabaseName", "Value": "searchable"}],
                 SortCriteria=[{"FieldName": "Name", "Sort": "DESC"}]) == ["weather", "bike_rides"]
