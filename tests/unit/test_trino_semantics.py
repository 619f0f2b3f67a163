"""The Trino semantics cases (tests/data/trino_cases.py) through the SQL layer: parse as Athena,
translate to DuckDB, run, render as Athena shows values."""

import importlib.util
from pathlib import Path

import pytest

from lakestack.engines.sql.engine import SqlEngine
from lakestack.engines.sql.errors import QueryError, from_duckdb
from lakestack.engines.sql.parsing import parse
from lakestack.engines.sql.translate import Translator

_spec = importlib.util.spec_from_file_location("trino_cases", Path(__file__).resolve().parents[1] / "data" / "trino_cases.py")
trino_cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(trino_cases)


@pytest.fixture(scope="module")
def engine():
    engine = SqlEngine(threads=2)
    yield engine
    engine.close()


def run(engine, sql):
    tree = parse(sql)
    translation = Translator().query(tree)
    session = engine.session()
    try:
        _, rows = session.fetch_rendered(translation.sql, translation.zones)
    except Exception as error:  # noqa: BLE001 - reported as Athena would
        raise from_duckdb(error, tree) from error
    finally:
        session.close()
    return [tuple(row) for row in rows]


@pytest.mark.parametrize("sql, expected", trino_cases.CASES, ids=[c[0][:60] for c in trino_cases.CASES])
def test_trino_semantics(engine, sql, expected):
    assert run(engine, sql) == expected


def test_there_are_more_than_a_hundred_cases():
    assert len(trino_cases.CASES) >= 100


@pytest.mark.parametrize("sql, name, message", [
    ("SELECT 1 / 0", "DIVISION_BY_ZERO", "Division by zero"),
    ("SELECT 7 % 0", "DIVISION_BY_ZERO", "Division by zero"),
    ("SELECT CAST('abc' AS integer)", "INVALID_CAST_ARGUMENT", "Cannot cast 'abc' to int32"),
    ("SELECT 2147483647 + 1", "NUMERIC_VALUE_OUT_OF_RANGE", None),
    ("SELECT nope FROM (VALUES 1) AS t(x)", "COLUMN_NOT_FOUND",
     "line 1:8: Column 'nope' cannot be resolved or requester is not authorized to access requested resources"),
    ("SELECT x,\n  missing_col FROM (VALUES 1) AS t(x)", "COLUMN_NOT_FOUND", "line 2:3: Column 'missing_col'"),
    ("SELECT no_such_function(1)", "FUNCTION_NOT_FOUND", "Function 'no_such_function' not registered"),
    ("SELECT a FORM t", "SYNTAX_ERROR", "line 1:15: mismatched input 't'"),
    ("SELEC 1", "SYNTAX_ERROR", "line 1:1: mismatched input 'SELEC'"),
])
def test_errors_as_athena_reports_them(engine, sql, name, message):
    with pytest.raises(QueryError) as caught:
        run(engine, sql)
    assert caught.value.name == name
    if message:
        assert message in caught.value.message
    assert caught.value.category == 2


def test_doubles_render_like_java(engine):
    import random
    import struct

    from lakestack.engines.sql.runtime import java_double_text

    random.seed(7)
    values = [0.1, 100.0, 1e7, 9999999.0, 12345678.9, 1e-3, 0.00099, 1e-5, -2.5e-7, 1e16, 1e21, 5e-324, -0.0]
    for _ in range(500):
        values.append(struct.unpack("d", struct.pack("Q", random.getrandbits(64)))[0])
        values.append(random.uniform(-1, 1) * 10 ** random.randint(-10, 10))
    session = engine.session()
    try:
        session.execute("CREATE TEMP TABLE doubles (x DOUBLE)")
        session.con.executemany("INSERT INTO doubles VALUES (?)", [[v] for v in values])
        rendered = session.execute("SELECT x, trino_format_double(x) FROM doubles").fetchall()
    finally:
        session.close()
    assert java_double_text(12345678.9) == "1.23456789E7"
    assert java_double_text(0.0001) == "1.0E-4"
    assert java_double_text(float("nan")) == "NaN"
    mismatches = [(x, text) for x, text in rendered if text != java_double_text(x)]
    assert not mismatches, mismatches[:5]
