"""Trino's function semantics, as DuckDB macros (and two Python functions) installed once
per database.

The translator (translate.py) rewrites a Trino call to one of these `trino_*` macros where
DuckDB's function of the same name behaves differently, or to a plain DuckDB function where
it does not. Each macro says which difference it corrects; tests/unit/test_trino_semantics.py
holds the cases, taken from the Trino documentation.

Errors Trino raises at run time (division by zero, …) are raised here by a failing cast of a
marker string: DuckDB's `error()` is volatile, and TRY refuses volatile expressions, while
a cast failure is an ordinary error that TRY turns into NULL, exactly like Trino's try().
errors.py turns the marker back into Trino's error name and message.
"""

from __future__ import annotations

ERROR_MARKER = "trino:"


def raise_sql(name: str, message: str, as_type: str = "INTEGER") -> str:
    text = f"{ERROR_MARKER}{name}:{message}".replace("'", "''")
    return f"CAST('{text}' AS {as_type})"


_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT")
_DIVISION_BY_ZERO = raise_sql("DIVISION_BY_ZERO", "Division by zero")


def _integer_overloads(body: str) -> str:
    return ", ".join(f"(a {t}, b {t}) AS {body}" for t in _INTEGER_TYPES)


MACROS: list[str] = [
    # Integer division truncates and integer division by zero fails (DuckDB: NULL); a float
    # division by zero is ±Infinity/NaN (DuckDB with integer_division: NULL). Typed overloads
    # keep the operand type (integer / integer is integer).
    "CREATE OR REPLACE MACRO trino_div "
    + _integer_overloads(f"CASE WHEN b = 0 THEN {_DIVISION_BY_ZERO} ELSE a // b END")
    + ", (a DOUBLE, b DOUBLE) AS CASE WHEN b = 0 THEN (CASE WHEN a > 0 THEN 'Infinity'::DOUBLE "
      "WHEN a < 0 THEN '-Infinity'::DOUBLE ELSE 'NaN'::DOUBLE END) ELSE a / b END"
    + ", (a FLOAT, b FLOAT) AS CASE WHEN b = 0 THEN (CASE WHEN a > 0 THEN 'Infinity'::FLOAT "
      "WHEN a < 0 THEN '-Infinity'::FLOAT ELSE 'NaN'::FLOAT END) ELSE a / b END"
    + f", (a, b) AS a / CASE WHEN b = 0 THEN {_DIVISION_BY_ZERO} ELSE b END",
    "CREATE OR REPLACE MACRO trino_mod "
    + _integer_overloads(f"CASE WHEN b = 0 THEN {_DIVISION_BY_ZERO} ELSE a % b END")
    + ", (a DOUBLE, b DOUBLE) AS fmod(a, b), (a FLOAT, b FLOAT) AS fmod(a, b)"
    + f", (a, b) AS a % CASE WHEN b = 0 THEN {_DIVISION_BY_ZERO} ELSE b END",
    # CAST(double AS integer) rounds half away from zero in Trino; DuckDB rounds half to even.
    "CREATE OR REPLACE MACRO trino_round_for_cast "
    + ", ".join(f"(x {t}) AS x" for t in _INTEGER_TYPES + ("VARCHAR", "BOOLEAN"))
    + ", (x DOUBLE) AS round(x), (x FLOAT) AS round(x), (x) AS x",
    # Doubles print as Java's Double.toString: plain between 10^-3 and 10^7, else d.dddE±n,
    # always with the shortest digits that round-trip. DuckDB's own text is already right for
    # the plain range (bar a missing ".0"); the rest goes to java_double_text (engine.py).
    """CREATE OR REPLACE MACRO trino_format_double(x DOUBLE) AS CASE
        WHEN x IS NULL THEN NULL
        WHEN abs(x) >= 1e-3 AND abs(x) < 1e7 AND NOT contains(CAST(x AS VARCHAR), 'e') THEN
            CASE WHEN contains(CAST(x AS VARCHAR), '.') THEN CAST(x AS VARCHAR) ELSE CAST(x AS VARCHAR) || '.0' END
        ELSE trino_java_double(x) END,
    (x FLOAT) AS CASE
        WHEN x IS NULL THEN NULL
        WHEN abs(x) >= 1e-3 AND abs(x) < 1e7 AND NOT contains(CAST(x AS VARCHAR), 'e') THEN
            CASE WHEN contains(CAST(x AS VARCHAR), '.') THEN CAST(x AS VARCHAR) ELSE CAST(x AS VARCHAR) || '.0' END
        ELSE trino_java_real(x) END""",
    # interval day to second prints as `D HH:MM:SS.mmm`, year to month as `Y-M`.
    """CREATE OR REPLACE MACRO trino_format_interval(i) AS CASE
        WHEN i IS NULL THEN NULL
        WHEN datepart('month', i) <> 0 OR datepart('year', i) <> 0 THEN
            CAST(datepart('year', i) AS VARCHAR) || '-' || CAST(datepart('month', i) AS VARCHAR)
        ELSE (CASE WHEN epoch(i) < 0 THEN '-' ELSE '' END)
            || CAST(floor(abs(epoch(i)) / 86400)::BIGINT AS VARCHAR) || ' '
            || strftime(TIMESTAMP '2000-01-01' + to_microseconds((abs(epoch(i)) * 1000000)::BIGINT % 86400000000),
                        '%H:%M:%S.%g') END""",
    # varbinary prints as space-separated lower-case hex bytes.
    "CREATE OR REPLACE MACRO trino_format_varbinary(b) AS rtrim(regexp_replace(lower(hex(b)), '(..)', '\\1 ', 'g'))",
    # Math.cbrt is exact on perfect cubes; pow(x, 1/3) is not.
    "CREATE OR REPLACE MACRO trino_cbrt(x) AS "
    "CASE WHEN power(round(cbrt(x)), 3) = x THEN round(cbrt(x)) ELSE cbrt(x) END",
    "CREATE OR REPLACE MACRO trino_width_bucket(x, lo, hi, n) AS CASE WHEN x < lo THEN 0 WHEN x >= hi THEN n + 1 "
    "ELSE CAST(floor((x - lo) / (hi - lo) * n) AS BIGINT) + 1 END",
    # --- strings -------------------------------------------------------------------------------
    # No match is NULL in Trino (DuckDB: empty string).
    "CREATE OR REPLACE MACRO trino_regexp_extract(s, p) AS "
    "CASE WHEN regexp_matches(s, p) THEN regexp_extract(s, p) END",
    "CREATE OR REPLACE MACRO trino_regexp_extract_group(s, p, g) AS "
    "CASE WHEN regexp_matches(s, p) THEN regexp_extract(s, p, g) END",
    "CREATE OR REPLACE MACRO trino_regexp_count(s, p) AS len(regexp_extract_all(s, p))",
    "CREATE OR REPLACE MACRO trino_regexp_position(s, p) AS "
    "CASE WHEN regexp_matches(s, p) THEN length(regexp_split_to_array(s, p)[1]) + 1 ELSE -1 END",
    # A part past the end is NULL in Trino (DuckDB: empty string).
    "CREATE OR REPLACE MACRO trino_split_part(s, d, i) AS "
    "CASE WHEN i <= len(string_split(s, d)) THEN split_part(s, d, i) END",
    "CREATE OR REPLACE MACRO trino_split_limit(s, d, n) AS "
    "CASE WHEN len(string_split(s, d)) <= n THEN string_split(s, d) ELSE "
    "list_append(list_slice(string_split(s, d), 1, n - 1), "
    "array_to_string(list_slice(string_split(s, d), n, len(string_split(s, d))), d)) END",
    "CREATE OR REPLACE MACRO trino_codepoint(s) AS unicode(s)",
    "CREATE OR REPLACE MACRO trino_reverse(x VARCHAR) AS reverse(x), (x BLOB) AS x, (x) AS list_reverse(x)",
    "CREATE OR REPLACE MACRO trino_length(x VARCHAR) AS length(x), (x BLOB) AS octet_length(x), (x) AS length(x)",
    "CREATE OR REPLACE MACRO trino_url_extract_host(u) AS nullif(regexp_extract(u, '^[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^@/]*@)?([^:/?#]+)', 1), '')",
    "CREATE OR REPLACE MACRO trino_url_extract_path(u) AS regexp_extract(u, '^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*([^?#]*)', 1)",
    "CREATE OR REPLACE MACRO trino_url_extract_protocol(u) AS nullif(regexp_extract(u, '^([a-zA-Z][a-zA-Z0-9+.-]*)://', 1), '')",
    "CREATE OR REPLACE MACRO trino_url_extract_query(u) AS nullif(regexp_extract(u, '\\?([^#]*)', 1), '')",
    "CREATE OR REPLACE MACRO trino_url_extract_parameter(u, name) AS "
    "nullif(regexp_extract(u, '[?&]' || name || '=([^&#]*)', 1), '')",
    # --- arrays --------------------------------------------------------------------------------
    # Trino keeps the first occurrence of each element, in order (DuckDB's list_distinct
    # reorders and drops NULL).
    "CREATE OR REPLACE MACRO trino_array_distinct(a) AS "
    "list_filter(a, (x, i) -> list_position(a, x) = i)",
    "CREATE OR REPLACE MACRO trino_array_union(a, b) AS trino_array_distinct(list_concat(a, b))",
    "CREATE OR REPLACE MACRO trino_array_intersect(a, b) AS "
    "trino_array_distinct(list_filter(a, x -> list_contains(b, x)))",
    "CREATE OR REPLACE MACRO trino_arrays_overlap(a, b) AS CASE "
    "WHEN len(list_filter(a, x -> x IS NOT NULL AND list_contains(b, x))) > 0 THEN true "
    "WHEN list_contains(list_transform(a, x -> x IS NULL), true) OR "
    "list_contains(list_transform(b, x -> x IS NULL), true) THEN NULL ELSE false END",
    # Any NULL element makes the result NULL in Trino (DuckDB ignores NULLs).
    "CREATE OR REPLACE MACRO trino_array_max(a) AS "
    "CASE WHEN list_contains(list_transform(a, x -> x IS NULL), true) THEN NULL ELSE list_max(a) END",
    "CREATE OR REPLACE MACRO trino_array_min(a) AS "
    "CASE WHEN list_contains(list_transform(a, x -> x IS NULL), true) THEN NULL ELSE list_min(a) END",
    # Not found is 0 in Trino (DuckDB: NULL).
    "CREATE OR REPLACE MACRO trino_array_position(a, x) AS "
    "CASE WHEN a IS NULL THEN NULL ELSE coalesce(list_position(a, x), 0) END",
    # slice(array, start, length); DuckDB's list_slice takes an end index.
    "CREATE OR REPLACE MACRO trino_slice(a, s, n) AS CASE WHEN s > 0 THEN list_slice(a, s, s + n - 1) "
    "ELSE list_slice(a, len(a) + s + 1, len(a) + s + n) END",
    # sequence counts down when start > stop; dates step by days.
    "CREATE OR REPLACE MACRO trino_sequence(a DATE, b DATE) AS "
    "list_transform(generate_series(a, b, CASE WHEN a <= b THEN INTERVAL '1 day' ELSE INTERVAL '-1 day' END), "
    "x -> CAST(x AS DATE)), (a, b) AS generate_series(a, b, CASE WHEN a <= b THEN 1 ELSE -1 END)",
    "CREATE OR REPLACE MACRO trino_sequence_step(a DATE, b DATE, s INTERVAL) AS "
    "list_transform(generate_series(a, b, s), x -> CAST(x AS DATE)), (a, b, s) AS generate_series(a, b, s)",
    "CREATE OR REPLACE MACRO trino_array_first(a) AS a[1]",
    "CREATE OR REPLACE MACRO trino_array_last(a) AS a[-1]",
    "CREATE OR REPLACE MACRO trino_repeat(x, n) AS list_transform(range(n), i -> x)",
    "CREATE OR REPLACE MACRO trino_trim_array(a, n) AS list_slice(a, 1, len(a) - n)",
    "CREATE OR REPLACE MACRO trino_ngrams(a, n) AS CASE WHEN len(a) <= n THEN [a] ELSE "
    "list_transform(range(1, len(a) - n + 2), i -> list_slice(a, i, i + n - 1)) END",
    # Lists and maps both have a JSON form; only its length does not care which it is.
    "CREATE OR REPLACE MACRO trino_cardinality(x) AS CASE WHEN x IS NULL THEN NULL "
    "WHEN json_type(to_json(x)) = 'ARRAY' THEN json_array_length(to_json(x)) ELSE len(json_keys(to_json(x))) END",
    "CREATE OR REPLACE MACRO trino_array_except(a, b) AS "
    "trino_array_distinct(list_filter(a, x -> NOT list_contains(b, x)))",
    "CREATE OR REPLACE MACRO trino_array_join(a, d) AS array_to_string(list_filter(a, x -> x IS NOT NULL), d)",
    # all/any/none_match over the predicate's results, with Trino's NULL rules.
    "CREATE OR REPLACE MACRO trino_all_match(r) AS CASE WHEN list_contains(r, false) THEN false "
    "WHEN list_contains(list_transform(r, x -> x IS NULL), true) THEN NULL ELSE true END",
    "CREATE OR REPLACE MACRO trino_any_match(r) AS CASE WHEN list_contains(r, true) THEN true "
    "WHEN list_contains(list_transform(r, x -> x IS NULL), true) THEN NULL ELSE false END",
    "CREATE OR REPLACE MACRO trino_none_match(r) AS NOT trino_any_match(r)",
    # --- maps ----------------------------------------------------------------------------------
    "CREATE OR REPLACE MACRO trino_map_entries(m) AS "
    "list_transform(map_entries(m), e -> struct_pack(_0 := e.key, _1 := e.value))",
    "CREATE OR REPLACE MACRO trino_map_from_entries(a) AS "
    "map_from_entries(list_transform(a, e -> struct_pack(k := e[1], v := e[2])))",
    # Later maps win for duplicate keys.
    "CREATE OR REPLACE MACRO trino_map_concat(a, b) AS map_from_entries(list_concat("
    "list_filter(map_entries(a), e -> NOT list_contains(map_keys(b), e.key)), map_entries(b)))",
    "CREATE OR REPLACE MACRO trino_map_agg(k, v) AS "
    "map_from_entries(list(struct_pack(k := k, v := v)) FILTER (WHERE k IS NOT NULL))",
    # --- dates and times ----------------------------------------------------------------------
    # date + interval stays a date in Trino (DuckDB: timestamp).
    "CREATE OR REPLACE MACRO trino_date_plus(x DATE, i INTERVAL) AS CAST(x + i AS DATE), "
    "(x TIMESTAMP, i INTERVAL) AS x + i, (x TIMESTAMPTZ, i INTERVAL) AS x + i, (x TIME, i INTERVAL) AS x + i, "
    "(x, i) AS x + i",
    "CREATE OR REPLACE MACRO trino_date_trunc(u, x DATE) AS CAST(date_trunc(u, x) AS DATE), "
    "(u, x TIMESTAMP) AS date_trunc(u, x), (u, x TIMESTAMPTZ) AS date_trunc(u, x), (u, x) AS date_trunc(u, x)",
    "CREATE OR REPLACE MACRO trino_millisecond(t) AS millisecond(t) % 1000",
    "CREATE OR REPLACE MACRO trino_to_iso8601(x DATE) AS strftime(x, '%Y-%m-%d'), "
    "(x TIMESTAMP) AS strftime(x, '%Y-%m-%dT%H:%M:%S.%g'), "
    "(x TIMESTAMPTZ) AS strftime(x, '%Y-%m-%dT%H:%M:%S.%gZ'), (x) AS CAST(x AS VARCHAR)",
    "CREATE OR REPLACE MACRO trino_to_milliseconds(i) AS CAST(epoch(i) * 1000 AS BIGINT)",
    "CREATE OR REPLACE MACRO trino_from_unixtime_zone(x, z) AS timezone(z, to_timestamp(x))",
    # Session time zone is UTC: a naive timestamp is a UTC wall-clock time.
    "CREATE OR REPLACE MACRO trino_at_timezone(t TIMESTAMPTZ, z) AS timezone(z, t), "
    "(t, z) AS timezone(z, timezone('UTC', t))",
    "CREATE OR REPLACE MACRO trino_with_timezone(t, z) AS timezone(z, t)",
    "CREATE OR REPLACE MACRO trino_parse_duration(s) AS to_microseconds(CAST(round("
    "CAST(regexp_extract(trim(s), '^([0-9.]+)', 1) AS DOUBLE) * CASE regexp_extract(trim(s), '([a-z]+)$', 1) "
    "WHEN 'ns' THEN 0.001 WHEN 'us' THEN 1 WHEN 'ms' THEN 1000 WHEN 's' THEN 1000000 WHEN 'm' THEN 60000000 "
    "WHEN 'h' THEN 3600000000 WHEN 'd' THEN 86400000000 END) AS BIGINT))",
    "CREATE OR REPLACE MACRO trino_plural(n, unit) AS CASE WHEN n = 0 THEN NULL WHEN n = 1 THEN '1 ' || unit "
    "ELSE CAST(n AS VARCHAR) || ' ' || unit || 's' END",
    "CREATE OR REPLACE MACRO trino_human_readable_seconds(x) AS array_to_string(list_filter(["
    "trino_plural(floor(x / 604800)::BIGINT, 'week'), trino_plural(floor(x % 604800 / 86400)::BIGINT, 'day'), "
    "trino_plural(floor(x % 86400 / 3600)::BIGINT, 'hour'), trino_plural(floor(x % 3600 / 60)::BIGINT, 'minute'), "
    "trino_plural(round(x % 60)::BIGINT, 'second')], p -> p IS NOT NULL), ', ')",
    # --- json ----------------------------------------------------------------------------------
    # json_extract_scalar is NULL for objects and arrays.
    "CREATE OR REPLACE MACRO trino_json_extract_scalar(j, p) AS CASE "
    "WHEN json_type(CAST(j AS JSON), p) IN ('OBJECT', 'ARRAY') THEN NULL ELSE json_extract_string(CAST(j AS JSON), p) END",
    "CREATE OR REPLACE MACRO trino_json_array_get(j, i) AS "
    "json_extract(CAST(j AS JSON), '$[' || CAST(CASE WHEN i < 0 THEN json_array_length(CAST(j AS JSON)) + i "
    "ELSE i END AS VARCHAR) || ']')",
    "CREATE OR REPLACE MACRO trino_json_size(j, p) AS CASE json_type(CAST(j AS JSON), p) "
    "WHEN 'ARRAY' THEN json_array_length(CAST(j AS JSON), p) "
    "WHEN 'OBJECT' THEN len(json_keys(CAST(j AS JSON), p)) ELSE 0 END",
    "CREATE OR REPLACE MACRO trino_json_array_contains(j, v) AS "
    "list_contains(list_transform(json_extract(CAST(j AS JSON), '$[*]'), e -> json_extract_string(e, '$')), "
    "CAST(v AS VARCHAR))",
    # --- misc ----------------------------------------------------------------------------------
    """CREATE OR REPLACE MACRO trino_scalar_typeof(t) AS CASE
        WHEN t = 'VARCHAR' THEN 'varchar' WHEN t = 'INTEGER' THEN 'integer' WHEN t IN ('BIGINT', 'HUGEINT') THEN 'bigint'
        WHEN t = 'DOUBLE' THEN 'double' WHEN t = 'FLOAT' THEN 'real' WHEN t = 'BOOLEAN' THEN 'boolean'
        WHEN t = 'DATE' THEN 'date' WHEN t = 'TIMESTAMP' THEN 'timestamp(3)'
        WHEN t = 'TIMESTAMP WITH TIME ZONE' THEN 'timestamp(3) with time zone' WHEN t = 'SMALLINT' THEN 'smallint'
        WHEN t = 'TINYINT' THEN 'tinyint' WHEN t = 'BLOB' THEN 'varbinary' WHEN t = '"NULL"' THEN 'unknown'
        WHEN starts_with(t, 'DECIMAL') THEN lower(replace(t, ' ', ''))
        ELSE lower(t) END""",
    # Trino's own type names; one level of array nesting is spelled out.
    "CREATE OR REPLACE MACRO trino_typeof(t) AS CASE WHEN ends_with(t, '[]') "
    "THEN 'array(' || trino_scalar_typeof(left(t, length(t) - 2)) || ')' ELSE trino_scalar_typeof(t) END",
    # Trino's formula (atan2 of the chord terms; earth radius 6371.01 km).
    "CREATE OR REPLACE MACRO trino_great_circle_distance(lat1, lon1, lat2, lon2) AS 6371.01 * atan2("
    "sqrt(pow(cos(radians(lat2)) * sin(radians(lon1) - radians(lon2)), 2) + pow(cos(radians(lat1)) * "
    "sin(radians(lat2)) - sin(radians(lat1)) * cos(radians(lat2)) * cos(radians(lon1) - radians(lon2)), 2)), "
    "sin(radians(lat1)) * sin(radians(lat2)) + cos(radians(lat1)) * cos(radians(lat2)) * "
    "cos(radians(lon1) - radians(lon2)))",
]


def java_double_text(value: float, single: bool = False) -> str | None:
    """Java's Double.toString (Float.toString when `single`): the shortest digits that
    read back as the same number, plain between 10^-3 and 10^7, else `d.dddE±n`."""
    if value is None:
        return None
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if str(value).startswith("-") else "0.0"
    if single:
        import numpy

        text = repr(numpy.float32(value)).removeprefix("np.float32(").rstrip(")")
    else:
        text = repr(abs(value))
    from decimal import Decimal

    parts = Decimal(text.lstrip("-")).as_tuple()
    digits = "".join(map(str, parts.digits)).rstrip("0") or "0"
    exponent = len(parts.digits) + parts.exponent - 1
    sign = "-" if value < 0 else ""
    if 1e-3 <= abs(value) < 1e7:
        if exponent < 0:
            return sign + "0." + "0" * (-exponent - 1) + digits
        if len(digits) <= exponent + 1:
            return sign + digits + "0" * (exponent + 1 - len(digits)) + ".0"
        return sign + digits[:exponent + 1] + "." + digits[exponent + 1:]
    return sign + digits[0] + "." + (digits[1:] or "0") + "E" + str(exponent)
