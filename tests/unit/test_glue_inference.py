"""What a crawler infers from file contents: classification, schema merging, exclusions and
grouping of folders into tables — pure functions, no server."""

import bz2
import gzip
import io
import json

import pyarrow as pa
import pyarrow.orc as orc
import pyarrow.parquet as pq
import pytest

from lakestack.services.glue.crawling import schema as types
from lakestack.services.glue.crawling.classify import classify
from lakestack.services.glue.crawling.exclusions import Exclusions, PatternError
from lakestack.services.glue.crawling.formats import Sample
from lakestack.services.glue.crawling.grouping import (
    FileResult,
    GroupingOptions,
    Planner,
    build_tree,
    table_name,
)
from lakestack.services.glue.crawling.lake import LakeObject


def sample(data: bytes, key: str = "f") -> Sample:
    return Sample(key, len(data), data, lambda: io.BytesIO(data))


def detect(data: bytes, custom=()):
    return classify(sample(data), list(custom))


def columns(found) -> dict:
    return {name: types.render(t) for name, t in found.columns}


# -- schema merging -----------------------------------------------------------------------------

@pytest.mark.parametrize("a, b, merged", [
    ("int", "bigint", "bigint"),
    ("tinyint", "int", "int"),
    ("int", "double", "double"),
    ("float", "bigint", "double"),
    ("float", "double", "double"),
    ("decimal(10,2)", "decimal(12,4)", "decimal(12,4)"),
    ("decimal(10,2)", "int", "decimal(12,2)"),
    ("decimal(10,2)", "double", "double"),
    ("date", "timestamp", "timestamp"),
    ("boolean", "int", "string"),
    ("string", "int", "string"),
    (types.NULL, "int", "int"),
    (("array", "int"), ("array", "bigint"), ("array", "bigint")),
    (("array", "int"), "int", "string"),
    (("map", "string", "int"), ("map", "string", "double"), ("map", "string", "double")),
])
def test_merge_widens(a, b, merged):
    assert types.merge(a, b) == merged
    assert types.merge(b, a) == merged


def test_struct_fields_are_unioned_in_order():
    a = ("struct", (("id", "int"), ("tags", ("array", "string"))))
    b = ("struct", (("id", "bigint"), ("extra", "boolean")))
    assert types.render(types.merge(a, b)) == "struct<id:bigint,tags:array<string>,extra:boolean>"


def test_similarity_is_share_of_common_names():
    assert types.similarity([("a", 0), ("b", 0), ("c", 0)], [("a", 0), ("b", 0), ("c", 0), ("d", 0)]) == 0.75
    assert types.similarity([("a", 0)], [("b", 0)]) == 0


def test_arrow_types_map_to_hive_types():
    schema = pa.schema([
        ("i8", pa.int8()), ("i16", pa.int16()), ("i32", pa.int32()), ("i64", pa.int64()), ("f", pa.float32()),
        ("d", pa.float64()), ("s", pa.string()), ("b", pa.binary()), ("ok", pa.bool_()), ("day", pa.date32()),
        ("ts", pa.timestamp("ms")), ("dec", pa.decimal128(12, 3)), ("l", pa.list_(pa.int32())),
        ("m", pa.map_(pa.string(), pa.float64())), ("st", pa.struct([("x", pa.int64()), ("Y", pa.string())])),
        ("dict", pa.dictionary(pa.int32(), pa.string())), ("CamelCase", pa.int32()),
    ])
    assert {n: types.render(t) for n, t in types.from_arrow_schema(schema)} == {
        "i8": "tinyint", "i16": "smallint", "i32": "int", "i64": "bigint", "f": "float", "d": "double",
        "s": "string", "b": "binary", "ok": "boolean", "day": "date", "ts": "timestamp", "dec": "decimal(12,3)",
        "l": "array<int>", "m": "map<string,double>", "st": "struct<x:bigint,Y:string>", "dict": "string",
        "camelcase": "int"}


# -- classification -------------------------------------------------------------------------------

def parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def test_parquet_schema_and_row_count_from_the_footer():
    found = detect(parquet_bytes(pa.table({"id": [1, 2, 3], "name": ["a", "b", "c"]})))
    assert (found.classification, found.records, columns(found)) == ("parquet", 3, {"id": "bigint",
                                                                                    "name": "string"})


def test_parquet_larger_than_the_sample_is_read_by_its_footer():
    data = parquet_bytes(pa.table({"v": list(range(400_000))}))
    assert len(data) > 1 << 20
    s = Sample("big", len(data), data[:64 << 10], lambda: io.BytesIO(data))
    found = classify(s, [])
    assert (found.classification, found.records) == ("parquet", 400_000)


def test_orc():
    buffer = io.BytesIO()
    orc.write_table(pa.table({"a": pa.array([1, 2], pa.int32()), "b": ["x", "y"]}), buffer)
    found = detect(buffer.getvalue())
    assert (found.classification, found.records, columns(found)) == ("orc", 2, {"a": "int", "b": "string"})


def test_avro():
    import fastavro

    schema = {"type": "record", "name": "r", "fields": [
        {"name": "id", "type": "long"}, {"name": "name", "type": ["null", "string"]},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 8, "scale": 2}}]}
    buffer = io.BytesIO()
    fastavro.writer(buffer, schema, [{"id": i, "name": None, "tags": ["a"], "price": b"\x01"} for i in range(5)])
    found = detect(buffer.getvalue())
    assert found.classification == "avro" and found.records == 5
    assert columns(found) == {"id": "bigint", "name": "string", "tags": "array<string>", "price": "decimal(8,2)"}
    assert json.loads(found.options["avro_schema"])["name"] == "r"


def test_json_lines_with_nested_objects_and_arrays():
    lines = [{"id": 1, "user": {"name": "a", "age": 30}, "tags": ["x"], "score": 1},
             {"id": 2, "user": {"name": "b", "email": "e"}, "tags": [], "score": 2.5, "ok": True},
             {"id": 3_000_000_000, "user": None, "tags": ["y", "z"], "score": None}]
    found = detect("\n".join(json.dumps(line) for line in lines).encode())
    assert found.classification == "json" and found.records == 3
    assert columns(found) == {"id": "bigint", "user": "struct<name:string,age:int,email:string>",
                              "tags": "array<string>", "score": "double", "ok": "boolean"}


def test_pretty_printed_json_documents_one_after_another():
    data = json.dumps({"A": 1}, indent=2) + "\n" + json.dumps({"A": 2, "b": "x"}, indent=2)
    found = detect(data.encode())
    assert (found.records, columns(found)) == (2, {"a": "int", "b": "string"})


def test_top_level_json_array_is_one_array_column_unless_a_json_path_says_otherwise():
    data = json.dumps([{"id": 1}, {"id": 2}]).encode()
    assert columns(detect(data)) == {"array": "array<struct<id:int>>"}
    custom = detect(data, [("JsonClassifier", {"Name": "each", "JsonPath": "$[*]"})])
    assert (columns(custom), custom.records, custom.options["json_path"]) == ({"id": "int"}, 2, "$[*]")


def test_gzip_and_bzip2_are_seen_through():
    text = "\n".join(json.dumps({"n": i}) for i in range(10)).encode()
    for packed, name in ((gzip.compress(text), "gzip"), (bz2.compress(text), "bzip2")):
        s = sample(packed)
        found = classify(s, [])
        assert (found.classification, s.compression, found.records) == ("json", name, 10)


def test_csv_with_header_and_quoted_fields():
    data = b'id,name,amount,active\n1,"Smith, John",10.5,true\n2,"O\'Brien",7,false\n3,Bob,,true\n'
    found = detect(data)
    assert found.classification == "csv" and found.records == 3
    assert columns(found) == {"id": "bigint", "name": "string", "amount": "double", "active": "boolean"}
    assert found.options["header"] and found.options["quoted"] and found.options["serde"] == "OpenCSVSerDe"


def test_csv_without_header_gets_numbered_columns():
    found = detect(b"1,alice,3.5\n2,bob,4\n3,carol,1e3\n")
    assert columns(found) == {"col0": "bigint", "col1": "string", "col2": "double"}
    assert not found.options["header"] and found.options["serde"] == "LazySimpleSerDe"


def test_csv_where_every_column_is_a_string_has_no_detectable_header():
    # Glue's heuristic needs a data row that differs from the header row in type.
    found = detect(b"name,city\nalice,paris\nbob,rome\n")
    assert columns(found) == {"col0": "string", "col1": "string"} and found.records == 3


@pytest.mark.parametrize("delimiter", ["|", "\t", ";"])
def test_csv_delimiters(delimiter):
    rows = ["id", "name"], ["1", "a"], ["2", "b"]
    found = detect("\n".join(delimiter.join(r) for r in rows).encode())
    assert found.options["delimiter"] == delimiter and columns(found) == {"id": "bigint", "name": "string"}


def test_single_column_or_single_row_text_is_not_csv():
    assert detect(b"just one column\nof text\n").classification == "UNKNOWN"
    assert detect(b"a,b,c\n").classification == "UNKNOWN"


def test_custom_csv_classifier_with_header_and_delimiter():
    spec = {"Name": "semi", "Delimiter": "!", "ContainsHeader": "ABSENT", "Header": ["k", "v"],
            "QuoteSymbol": "'"}
    found = detect(b"a!1\nb!2\n", [("CsvClassifier", spec)])
    assert columns(found) == {"k": "string", "v": "bigint"} and found.options["delimiter"] == "!"


def test_custom_grok_classifier():
    spec = {"Name": "app", "Classification": "applog",
            "GrokPattern": "%{TIMESTAMP_ISO8601:ts} %{LOGLEVEL:level} \\[%{WORD:thread}\\] %{NUMBER:ms:int} "
                           "%{GREEDYDATA:message}",
            "CustomPatterns": ""}
    data = (b"2024-01-01T10:00:00Z INFO [main] 12 started\n"
            b"2024-01-01T10:00:01Z WARN [worker] 7 slow request\n")
    found = detect(data, [("GrokClassifier", spec)])
    assert found.classification == "applog" and found.certainty == 1.0
    assert columns(found) == {"ts": "string", "level": "string", "thread": "string", "ms": "int",
                              "message": "string"}


def test_custom_xml_classifier():
    data = b"<rows><row id='1'><name>a</name><n>1</n></row><row id='2'><name>b</name><n>2</n></row></rows>"
    found = detect(data, [("XMLClassifier", {"Name": "x", "Classification": "xml", "RowTag": "row"})])
    assert found.classification == "xml" and found.records == 2
    assert columns(found) == {"_id": "bigint", "name": "string", "n": "bigint"}


def test_binary_garbage_is_unknown():
    assert detect(bytes(range(256)) * 4).classification == "UNKNOWN"


# -- exclusions ---------------------------------------------------------------------------------

@pytest.mark.parametrize("pattern, path, excluded", [
    ("*.csv", "a.csv", True),
    ("*.csv", "dir/a.csv", False),  # * stays within one folder level
    ("**.csv", "dir/a.csv", True),
    ("dir/**", "dir/x/y.json", True),
    ("dir/*", "dir/x/y.json", True),  # matches the folder dir/x, so everything below it goes
    ("dir/*", "other/x.json", False),
    ("*.{csv,avro}", "a.avro", True),
    ("*.{csv,avro}", "a.json", False),
    ("data?.json", "data1.json", True),
    ("data?.json", "data10.json", False),
    ("[!a-c]*.json", "d.json", True),
    ("[!a-c]*.json", "b.json", False),
    ("[a-c]*", "b.json", True),
    ("year=2020/**", "year=2020/month=1/f.parquet", True),
    ("year=2020/**", "year=2021/month=1/f.parquet", False),
    ("\\*.csv", "*.csv", True),
    ("\\*.csv", "a.csv", False),
])
def test_exclude_patterns(pattern, path, excluded):
    assert Exclusions([pattern]).excluded(path) is excluded


@pytest.mark.parametrize("pattern", ["[abc", "{a,b", "{a,{b}}"])
def test_bad_exclude_patterns(pattern):
    with pytest.raises(PatternError):
        Exclusions([pattern])


# -- grouping -------------------------------------------------------------------------------------

def files(entries: dict[str, object]) -> list[FileResult]:
    """{relative key: parquet table or raw bytes} → classified files."""
    out = []
    for relative, content in entries.items():
        data = parquet_bytes(content) if isinstance(content, pa.Table) else content
        s = sample(data, relative)
        found = classify(s, [])
        out.append(FileResult(LakeObject("lake", f"root/{relative}", len(data), 0.0), relative, found, s.compression))
    return out


def plan(entries, **options):
    return Planner("lake", "root/", GroupingOptions(**options)).plan(build_tree(files(entries)))


A = pa.table({"id": [1], "name": ["x"], "v": [1.0]})
A_PLUS = pa.table({"id": [1], "name": ["x"], "v": [1.0], "extra": [True]})
B = pa.table({"city": ["p"], "population": [3], "country": ["f"]})


def test_hive_folders_become_named_partitions_of_one_table():
    tables = plan({f"year={y}/month={m}/f.parquet": A for y in (2023, 2024) for m in (1, 2)})
    assert len(tables) == 1
    t = tables[0]
    assert (t.name, t.location, t.partition_keys) == ("root", "s3://lake/root/", ["year", "month"])
    assert [p.values for p in t.partitions] == [["2023", "1"], ["2023", "2"], ["2024", "1"], ["2024", "2"]]
    assert t.partitions[0].location == "s3://lake/root/year=2023/month=1/"


def test_plain_folders_become_numbered_partitions():
    t = plan({"2024/01/a.parquet": A, "2024/02/b.parquet": A})[0]
    assert t.partition_keys == ["partition_0", "partition_1"]
    assert [p.values for p in t.partitions] == [["2024", "01"], ["2024", "02"]]


def test_dissimilar_sibling_folders_become_separate_tables():
    tables = plan({"sales/a.parquet": A, "cities/b.parquet": B})
    assert sorted((t.name, t.location) for t in tables) == [("cities", "s3://lake/root/cities/"),
                                                            ("sales", "s3://lake/root/sales/")]


def test_similar_sibling_folders_are_partitions_of_the_include_path():
    t = plan({"table1/p1/a.parquet": A, "table2/p2/b.parquet": A_PLUS})
    assert t[0].partition_keys == ["partition_0", "partition_1"] and len(t) == 1
    assert [name for name, _ in t[0].columns] == ["id", "name", "v", "extra"]


def test_schema_drift_keeps_one_table_and_each_partition_its_own_columns():
    t = plan({"dt=1/a.parquet": A, "dt=2/b.parquet": A_PLUS})[0]
    assert [name for name, _ in t.columns] == ["id", "name", "v", "extra"]
    assert [len(p.columns) for p in t.partitions] == [3, 4]


def test_different_formats_in_sibling_folders_split_even_with_equal_columns():
    csv = b"id,name,v\n1,x,1.5\n2,y,2\n"
    tables = plan({"p/a.parquet": A, "c/a.csv": csv})
    assert sorted(t.name for t in tables) == ["c", "p"]


def test_files_of_mixed_formats_in_one_folder_become_tables_named_after_the_files():
    tables = plan({"a.parquet": A, "b.csv": b"id,name\n1,x\n2,y\n"})
    assert sorted((t.name, t.location) for t in tables) == [("a_parquet", "s3://lake/root/a.parquet"),
                                                            ("b_csv", "s3://lake/root/b.csv")]


def test_table_level_configuration_puts_tables_at_a_fixed_depth():
    # root is level 1, so level 3 makes one table per month folder.
    tables = plan({f"year=2024/month={m}/day={d}/f.parquet": A for m in (1, 2) for d in (1, 2)}, table_level=3)
    assert sorted(t.name for t in tables) == ["month_1", "month_2"]
    assert tables[0].partition_keys == ["day"]


def test_combine_compatible_schemas_ignores_similarity():
    tables = plan({"sales/a.parquet": A, "cities/b.parquet": B}, combine_compatible=True)
    assert len(tables) == 1 and len(tables[0].columns) == 6


def test_table_names_are_sanitized():
    assert table_name("My-Data.Set 2") == "my_data_set_2"
