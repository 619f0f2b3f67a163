"""The SQL engine: DuckDB running Trino-dialect SQL (Athena engine v3).

`translate` turns Trino SQL into DuckDB SQL (sqlglot, plus our own corrections where the
two engines disagree); `runtime` is the library of DuckDB macros those corrections call;
`engine` owns the DuckDB database and its sessions; `types` maps types between Hive (the
Glue catalog), Trino (what Athena reports) and DuckDB, and renders values as Trino does.
"""
