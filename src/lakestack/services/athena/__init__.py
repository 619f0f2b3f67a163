"""Amazon Athena: Trino-dialect SQL over the lake, run by DuckDB (engines/sql), tables
resolved through the Glue Data Catalog, results written to S3 — all through those services'
public APIs, as the caller."""
