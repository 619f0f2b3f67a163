"""Athena's pure pieces: reading result files back, partition projection, statement types."""

import datetime as dt

from lakestack.engines.sql import joda
from lakestack.services.athena import projection, results
from lakestack.services.athena.queries import statement_type
from lakestack.services.athena.relations import presto_view_sql, presto_view_text


def test_csv_results_tell_null_from_empty_and_page_by_bytes():
    data = b'"a","b"\n"1",\n"","x,""y"""\n"multi\nline",\n'
    rows, used = results.parse_csv(data, 2, final=True)
    assert rows == [["a", "b"], ["1", None]]
    more, rest = results.parse_csv(data[used:], 10, final=True)
    assert more == [["", 'x,"y"'], ["multi\nline", None]]
    assert used + rest == len(data)
    # A record cut off by the end of a chunk waits for the next read.
    partial, consumed = results.parse_csv(b'"1","2"\n"3","4', 10, final=False)
    assert partial == [["1", "2"]] and consumed == 8


def test_text_results_and_tokens():
    rows, used = results.parse_text(b"a\tb\nc\n", 10, final=True)
    assert rows == [["a", "b"], ["c"]] and used == 6
    assert results.decode_token(results.encode_token(1234, True)) == (1234, True)


def test_metadata_file_is_protobuf_like_athenas():
    from lakestack.engines.sql.types import ColumnInfo

    blob = results.metadata_bytes("q1", [ColumnInfo("ary", "array")])
    assert blob == b"\n\x02q1" + b'"\x19\n\x04hive"\x03ary*\x03ary2\x05arrayH\x03'


def test_partition_projection_values():
    parameters = {"projection.day.type": "date", "projection.day.range": "2024-01-30,2024-02-02",
                  "projection.day.format": "yyyy-MM-dd", "projection.n.type": "integer",
                  "projection.n.range": "1,3", "projection.n.digits": "2", "projection.c.type": "enum",
                  "projection.c.values": "a, b", "projection.i.type": "injected",
                  "projection.h.type": "date", "projection.h.format": "yyyy/MM/dd/HH",
                  "projection.h.range": "NOW-2HOURS,NOW", "projection.h.interval.unit": "HOURS"}
    assert projection.column_values("day", parameters) == ["2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02"]
    assert projection.column_values("n", parameters) == ["01", "02", "03"]
    assert projection.column_values("c", parameters) == ["a", "b"]
    assert projection.column_values("i", parameters) is None
    now = dt.datetime(2024, 5, 1, 10, 30)
    assert projection.column_values("h", parameters, now) == ["2024/05/01/08", "2024/05/01/09", "2024/05/01/10"]
    table = {"StorageDescriptor": {"Location": "s3://b/t/"}, "Parameters": {}}
    assert projection.locations(table, ["c", "n"], [("a", "01")]) == ["s3://b/t/c=a/n=01"]


def test_joda_patterns():
    assert joda.to_strftime("yyyy-MM-dd'T'HH:mm:ss.SSS") == "%Y-%m-%dT%H:%M:%S.%g"
    assert joda.to_strftime("EEEE, d MMMM yy h a") == "%A, %-d %B %y %-I %p"
    assert joda.to_strftime("yyyy-MM-dd", parsing=True) == "%Y-%m-%d"


def test_statement_types():
    assert statement_type("SELECT 1") == "DML"
    assert statement_type("-- note\nWITH a AS (SELECT 1) SELECT * FROM a") == "DML"
    assert statement_type("CREATE TABLE t WITH (format='PARQUET') AS SELECT 1") == "DML"
    assert statement_type("CREATE VIEW v AS SELECT 1") == "DDL"
    assert statement_type("CREATE EXTERNAL TABLE t (a int) LOCATION 's3://b/'") == "DDL"
    assert statement_type("SHOW TABLES") == "UTILITY"
    assert statement_type("DESCRIBE t") == "UTILITY"


def test_presto_view_text_round_trips():
    text = presto_view_text("SELECT 1 AS x", "awsdatacatalog", "db", [("x", "integer")])
    assert text.startswith("/* Presto View: ") and text.endswith(" */")
    assert presto_view_sql({"ViewOriginalText": text}) == ("SELECT 1 AS x", "db")
