"""Statements that write the lake: CREATE TABLE AS SELECT, INSERT INTO and UNLOAD.

DuckDB writes the files into a scratch folder (Hive-style `key=value/` folders when
partitioned); each file then goes to S3 through PutObject as the caller, and the catalog
learns about the table and its new partitions through Glue — as Athena does.
https://docs.aws.amazon.com/athena/latest/ug/create-table-as.html
https://docs.aws.amazon.com/athena/latest/ug/insert-into.html
https://docs.aws.amazon.com/athena/latest/ug/unload.html
"""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from sqlglot import exp

from lakestack.aws.errors import AwsError
from lakestack.engines.sql.errors import DDL_ERROR, QueryError
from lakestack.engines.sql.parsing import parse
from lakestack.engines.sql.types import duckdb_to_hive, quote_ident, storage_sql
from lakestack.services.athena.ddl import FORMATS, partition_input
from lakestack.services.athena.lake import as_folder
from lakestack.services.athena.queries import Outcome, Query
from lakestack.services.athena.relations import shape_of, sql_string, table_format

# Athena's defaults for write_compression, by format.
DEFAULT_COMPRESSION = {"PARQUET": "GZIP", "ORC": "ZLIB", "TEXTFILE": "GZIP", "JSON": "GZIP", "AVRO": "DEFLATE"}
_PARQUET_CODECS = {"GZIP": "gzip", "SNAPPY": "snappy", "ZSTD": "zstd", "LZ4": "lz4", "NONE": "uncompressed",
                   "UNCOMPRESSED": "uncompressed", "BROTLI": "brotli"}


@dataclass
class WriteOptions:
    format: str = "PARQUET"
    compression: str | None = None
    location: str | None = None
    partitioned_by: list[str] = field(default_factory=list)
    bucketed_by: list[str] = field(default_factory=list)
    bucket_count: int = 0
    field_delimiter: str | None = None
    table_type: str = "HIVE"
    other: dict = field(default_factory=dict)


def _value(node: exp.Expression):
    if isinstance(node, exp.Array):
        return [_value(e) for e in node.expressions]
    if isinstance(node, exp.Boolean):
        return node.this
    if isinstance(node, exp.Literal):
        return node.this if node.is_string else int(node.this) if node.this.isdigit() else node.this
    return node.name


def options_from_properties(properties: exp.Properties | None) -> WriteOptions:
    options = WriteOptions()
    for prop in (properties.expressions if properties is not None else []):
        if isinstance(prop, exp.FileFormatProperty):
            options.format = str(_value(prop.this)).upper()
        elif isinstance(prop, exp.LocationProperty):
            options.location = _value(prop.this)
        elif isinstance(prop, exp.PartitionedByProperty):
            value = prop.this
            options.partitioned_by = [str(v).lower() for v in _value(value)] if isinstance(value, exp.Array) else [
                e.name.lower() for e in getattr(value, "expressions", [])]
        elif isinstance(prop, exp.Property) and prop.args.get("value") is not None:
            apply_option(options, prop.this.name.lower(), _value(prop.args["value"]))
    return options


def apply_option(options: WriteOptions, key: str, value) -> None:
    if key == "format":
        options.format = str(value).upper()
    elif key in ("write_compression", "compression", "parquet_compression", "orc_compression"):
        options.compression = str(value).upper()
    elif key in ("external_location", "location"):
        options.location = str(value)
    elif key == "partitioned_by":
        options.partitioned_by = [str(v).lower() for v in value]
    elif key == "bucketed_by":
        options.bucketed_by = [str(v).lower() for v in value]
    elif key == "bucket_count":
        options.bucket_count = int(value)
    elif key == "field_delimiter":
        options.field_delimiter = str(value)
    elif key == "table_type":
        options.table_type = str(value).upper()
    else:
        options.other[key] = value


@dataclass
class Written:
    rows: int
    files: list[str]  # S3 URIs
    partitions: list[tuple[tuple[str, ...], str]]  # (values, folder URI)


class Writer:
    """Writes a query's rows as files of one format under an S3 location."""

    def __init__(self, query: Query):
        self.query = query

    def write(self, select_sql: str, columns: list[tuple[str, object]], location: str, options: WriteOptions,
              file_prefix: str) -> Written:
        fmt = options.format
        if fmt == "JSONFILE":
            fmt = "JSON"
        if fmt not in ("PARQUET", "ORC", "TEXTFILE", "JSON"):
            raise QueryError("NOT_SUPPORTED", f"Writing format {fmt} is not supported by lakestack", DDL_ERROR)
        partitioned = options.partitioned_by
        names = [n for n, _ in columns]
        for key in partitioned:
            if key not in names:
                raise QueryError("COLUMN_NOT_FOUND", f"Partition column {key} is not in the query's columns", DDL_ERROR)
        if partitioned and names[-len(partitioned):] != partitioned:
            raise QueryError("HIVE_COLUMN_ORDER_MISMATCH", "Partition keys must be the last columns in the table and "
                                                           "in the same order as the partition specification",
                             DDL_ERROR)
        compression = (options.compression or DEFAULT_COMPRESSION[fmt]).upper()
        scratch = self.query.work_dir / f"{file_prefix}-write"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        try:
            selects = []
            for name, kind in columns:
                expr = quote_ident(name)
                if name not in partitioned:
                    expr = storage_sql(expr, kind)
                    if fmt == "TEXTFILE":
                        expr = _text_field(expr, kind)
                selects.append(f"{expr} AS {quote_ident(name)}")
            partition_by = list(partitioned)
            if options.bucketed_by and options.bucket_count:
                hashed = " , ".join(quote_ident(b) for b in options.bucketed_by)
                selects.append(f"CAST(hash({hashed}) % {options.bucket_count} AS INTEGER) AS __bucket")
                partition_by.append("__bucket")
            rows = self._copy(f"SELECT {', '.join(selects)} FROM ({select_sql}) AS __src", scratch, fmt, compression,
                              partition_by, file_prefix, options)
            files, partitions = self._upload(scratch, as_folder(location), partitioned, fmt, compression)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return Written(rows, files, partitions)

    def _copy(self, sql: str, folder: Path, fmt: str, compression: str, partition_by: list[str], prefix: str,
              options: WriteOptions) -> int:
        if fmt == "ORC":
            return self._write_orc(sql, folder, compression, partition_by, prefix)
        if fmt == "PARQUET":
            codec = _PARQUET_CODECS.get(compression)
            if codec is None:
                raise QueryError("INVALID_TABLE_PROPERTY", f"Unsupported compression {compression} for Parquet",
                                 DDL_ERROR)
            settings = ["FORMAT parquet", f"COMPRESSION {codec}"]
            extension = ""
        else:
            codec = {"GZIP": "gzip", "ZSTD": "zstd", "NONE": "none", "UNCOMPRESSED": "none"}.get(compression)
            if codec is None:
                raise QueryError("INVALID_TABLE_PROPERTY", f"Unsupported compression {compression} for {fmt}",
                                 DDL_ERROR)
            extension = {"gzip": ".gz", "zstd": ".zst", "none": ""}[codec]
            if fmt == "JSON":
                settings = ["FORMAT json", f"COMPRESSION {codec}"]
            else:
                delimiter = options.field_delimiter or "\x01"
                settings = ["FORMAT csv", f"DELIMITER {sql_string(delimiter)}", "QUOTE ''", "ESCAPE ''",
                            "HEADER false", "NULLSTR '\\N'", f"COMPRESSION {codec}"]
        if partition_by:
            settings.append(f"PARTITION_BY ({', '.join(quote_ident(p) for p in partition_by)})")
            settings.append(f"FILENAME_PATTERN {sql_string(prefix + '_{i}' + extension)}")
            target = folder
        else:
            target = folder / f"{prefix}_0{extension}"
        result = self.query.run_sql(f"COPY ({sql}) TO {sql_string(str(target))} ({', '.join(settings)})")
        return int(result.fetchone()[0])

    def _write_orc(self, sql: str, folder: Path, compression: str, partition_by: list[str], prefix: str) -> int:
        import pyarrow.compute as pc
        import pyarrow.orc as orc

        table = self.query.run_sql(sql).to_arrow_table()
        codec = {"ZLIB": "zlib", "SNAPPY": "snappy", "ZSTD": "zstd", "LZ4": "lz4", "NONE": "uncompressed"}.get(
            compression, "zlib")
        if not partition_by:
            orc.write_table(table, str(folder / f"{prefix}_0"), compression=codec)
            return table.num_rows
        keys = table.select(partition_by).group_by(partition_by).aggregate([]).to_pylist()
        for index, key in enumerate(keys):
            mask = None
            for name, value in key.items():
                condition = pc.is_null(table[name]) if value is None else pc.equal(table[name], value)
                mask = condition if mask is None else pc.and_(mask, condition)
            part = table.filter(mask).drop_columns(partition_by)
            sub = folder.joinpath(*[f"{n}={'__HIVE_DEFAULT_PARTITION__' if v is None else v}" for n, v in key.items()])
            sub.mkdir(parents=True, exist_ok=True)
            orc.write_table(part, str(sub / f"{prefix}_{index}"), compression=codec)
        return table.num_rows

    def _upload(self, scratch: Path, location: str, partitioned: list[str], fmt: str, compression: str
                ) -> tuple[list[str], list[tuple[tuple[str, ...], str]]]:
        files: list[str] = []
        partitions: dict[tuple[str, ...], str] = {}
        content_type = {"PARQUET": "application/octet-stream", "JSON": "application/json"}.get(fmt, "text/plain")
        for root, _, names in os.walk(scratch):
            for name in sorted(names):
                path = Path(root) / name
                relative = path.relative_to(scratch).parts
                folders = [unquote(p) for p in relative[:-1]]
                values = tuple(p.split("=", 1)[1] for p in folders if p.split("=", 1)[0] in partitioned)
                bucket = next((p.split("=", 1)[1] for p in folders if p.startswith("__bucket=")), None)
                kept = [p for p in folders if not p.startswith("__bucket=")]
                file_name = f"{int(bucket):05d}_{name}" if bucket is not None else name
                prefix = location + "".join(f"{p}/" for p in kept)
                uri = prefix + file_name
                self.query.lake.put_file(uri, str(path), content_type)
                files.append(uri)
                if partitioned:
                    partitions.setdefault(values, prefix)
        return files, sorted(partitions.items())


def _text_field(expr: str, kind) -> str:
    """Hive's text layout for collections: items joined by \\x02, map keys by \\x03."""
    if kind.id in ("list", "array"):
        return f"array_to_string(list_transform({expr}, __e -> CAST(__e AS VARCHAR)), chr(2))"
    if kind.id == "map":
        return (f"array_to_string(list_transform(map_entries({expr}), __e -> CAST(__e.key AS VARCHAR) || chr(3) || "
                "CAST(__e.value AS VARCHAR)), chr(2))")
    return expr


def write_manifest(query: Query, files: list[str]) -> str:
    """`<output>/<id>-manifest.csv`: the data files a statement wrote, one URI per line."""
    uri = f"{query.output_location.rstrip('/')}/{query.execution_id}-manifest.csv"
    body = "".join(f"{f}\n" for f in files).encode()
    query.lake.put(uri, body, len(body), "text/csv")
    return uri


# --- CREATE TABLE AS SELECT -------------------------------------------------------------------------


def ctas(query: Query, tree: exp.Create) -> Outcome:
    target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
    database, name = query.qualify(target.catalog or None, target.db or None, target.name)
    properties = tree.args.get("properties")
    options = options_from_properties(properties)
    no_data = any(isinstance(p, exp.WithDataProperty) and p.args.get("no") for p in
                  (properties.expressions if properties is not None else []))
    if query.glue.database(database) is None:
        raise QueryError("SCHEMA_NOT_FOUND", f"line 1:14: Schema '{database}' does not exist")
    if query.glue.table(database, name) is not None:
        if tree.args.get("exists"):
            return Outcome("DML", "CREATE_TABLE_AS_SELECT", "none", update_count=0)
        raise QueryError("TABLE_ALREADY_EXISTS", f"line 1:1: Table 'awsdatacatalog.{database}.{name}' already exists")
    select = tree.expression
    if options.table_type == "ICEBERG":
        return query.iceberg.ctas(database, name, select, options, no_data)
    translation = query.translate_query(select)
    source = translation.sql + (" LIMIT 0" if no_data else "")
    names, types = query.describe(source, select)
    names = [n.lower() for n in names]
    location = options.location or f"{query.output_location.rstrip('/')}/tables/{query.execution_id}/"
    location = as_folder(location)
    if query.lake.keys(location):
        raise QueryError("HIVE_PATH_ALREADY_EXISTS",
                         f"Target directory for table '{database}.{name}' already exists: {location}. You may need to "
                         "manually clean the data at location before running CTAS again.", DDL_ERROR)
    query.provider.check_scan_cutoff(query)
    aliased = f"SELECT * FROM ({source}) AS __c({', '.join(quote_ident(n) for n in names)})"
    written = Writer(query).write(aliased, list(zip(names, types, strict=True)), location, options,
                                  query.execution_id)
    fmt = "JSON" if options.format == "JSONFILE" else options.format
    input_format, output_format, serde = FORMATS[fmt]
    serde_parameters = {}
    if fmt == "TEXTFILE":
        delimiter = options.field_delimiter or "\x01"
        serde_parameters = {"field.delim": delimiter, "serialization.format": delimiter}
    data_columns = [{"Name": n, "Type": duckdb_to_hive(t)} for n, t in zip(names, types, strict=True)
                    if n not in options.partitioned_by]
    keys = [{"Name": n, "Type": duckdb_to_hive(t)} for n, t in zip(names, types, strict=True)
            if n in options.partitioned_by]
    table_input = {
        "Name": name, "TableType": "EXTERNAL_TABLE", "PartitionKeys": keys,
        "Parameters": {"has_encrypted_data": "false", "classification": fmt.lower(), "EXTERNAL": "TRUE",
                       "transient_lastDdlTime": str(int(time.time()))},
        "StorageDescriptor": {
            "Columns": data_columns, "Location": location, "InputFormat": input_format, "OutputFormat": output_format,
            "Compressed": (options.compression or DEFAULT_COMPRESSION[fmt]).upper() not in ("NONE", "UNCOMPRESSED"),
            "NumberOfBuckets": options.bucket_count or -1, "BucketColumns": options.bucketed_by,
            "SerdeInfo": {"SerializationLibrary": serde, "Parameters": serde_parameters}},
    }
    try:
        query.glue.create_table(database, table_input)
    except AwsError as error:
        if error.code == "AlreadyExistsException":
            raise QueryError("TABLE_ALREADY_EXISTS",
                             f"line 1:1: Table 'awsdatacatalog.{database}.{name}' already exists") from None
        raise
    if written.partitions:
        table = query.glue.table(database, name) or table_input
        query.glue.create_partitions(database, name, [partition_input(table, list(v), uri)
                                                      for v, uri in written.partitions])
    manifest = write_manifest(query, written.files)
    return Outcome("DML", "CREATE_TABLE_AS_SELECT", "none", update_count=written.rows, manifest=[manifest])


# --- INSERT INTO ----------------------------------------------------------------------------------


def insert(query: Query, tree: exp.Insert) -> Outcome:
    target = tree.this
    listed: list[str] = []
    if isinstance(target, exp.Schema):
        listed = [e.name.lower() for e in target.expressions]
        target = target.this
    database, name = query.qualify(target.catalog or None, target.db or None, target.name)
    table = query.require_table(database, name)
    if table.get("TableType") == "VIRTUAL_VIEW":
        raise QueryError("NOT_SUPPORTED", f"Inserting into views is not supported: {database}.{name}")
    source_tree = tree.expression
    if query.iceberg.is_iceberg(table):
        return query.iceberg.insert(table, source_tree, listed)
    shape = shape_of(table)
    translation = query.translate_query(source_tree)
    names, types = query.describe(translation.sql, source_tree)
    target_columns = shape.columns + shape.partition_keys
    wanted = listed or [c.name for c in target_columns]
    if len(wanted) != len(names):
        raise QueryError("TYPE_MISMATCH", f"line 1:1: Insert query has mismatched column types: Table has "
                                          f"{len(wanted)} columns but the query has {len(names)}")
    by_target = dict(zip(wanted, range(len(names)), strict=True))
    selects = []
    for column in target_columns:
        index = by_target.get(column.name)
        value = f"__s.{quote_ident(f'c{index}')}" if index is not None else "NULL"
        selects.append(f"CAST({value} AS {column.duck}) AS {quote_ident(column.name)}")
    aliases = ", ".join(quote_ident(f"c{i}") for i in range(len(names)))
    sql = f"SELECT {', '.join(selects)} FROM ({translation.sql}) AS __s({aliases})"
    query.provider.check_scan_cutoff(query)
    _, final_types = query.describe(sql)
    fmt = {"parquet": "PARQUET", "orc": "ORC", "json": "JSON", "text": "TEXTFILE", "csv": "TEXTFILE",
           "avro": "AVRO"}[table_format(table)]
    if table_format(table) == "csv":
        raise QueryError("NOT_SUPPORTED", "INSERT INTO is not supported for OpenCSVSerDe tables")
    options = WriteOptions(format=fmt, partitioned_by=[k.name for k in shape.partition_keys],
                           field_delimiter=shape.serde.get("field.delim"),
                           compression=_table_compression(table, fmt))
    existing: dict[tuple, str] = {}
    if shape.partition_keys:
        existing = {tuple(p.get("Values") or []): (p.get("StorageDescriptor") or {}).get("Location")
                    for p in query.glue.partitions(database, name)}
    written = Writer(query).write(sql, [(c.name, t) for c, t in zip(target_columns, final_types, strict=True)],
                                  shape.location, options, f"{query.execution_id}")
    new = [(values, uri) for values, uri in written.partitions if values not in existing]
    if new:
        query.glue.create_partitions(database, name, [partition_input(table, list(v), uri) for v, uri in new])
    manifest = write_manifest(query, written.files)
    return Outcome("DML", "INSERT", "none", update_count=written.rows, manifest=[manifest])


def _table_compression(table: dict, fmt: str) -> str:
    parameters = table.get("Parameters") or {}
    for key in ("write.compression", "parquet.compression", "orc.compress", "write_compression"):
        if parameters.get(key):
            return str(parameters[key]).upper()
    if fmt == "PARQUET":
        return "SNAPPY"
    return "NONE" if fmt in ("TEXTFILE", "JSON") else "ZLIB"


# --- UNLOAD ---------------------------------------------------------------------------------------

_UNLOAD = re.compile(r"^\s*UNLOAD\s*\((.*)\)\s*TO\s*'((?:[^']|'')*)'\s*(?:WITH\s*\((.*)\))?\s*$",
                     re.IGNORECASE | re.DOTALL)


def unload(query: Query, sql: str) -> Outcome:
    match = _UNLOAD.match(sql)
    if not match:
        raise QueryError("SYNTAX_ERROR", "line 1:1: mismatched input. Expecting: UNLOAD (query) TO 's3://…' WITH (…)")
    inner, location, with_text = match.group(1), match.group(2).replace("''", "'"), match.group(3)
    options = WriteOptions(format="PARQUET")
    if with_text:
        dummy = parse(f"CREATE TABLE __unload WITH ({with_text}) AS SELECT 1")
        options = options_from_properties(dummy.args.get("properties"))
        if not any(isinstance(p, exp.FileFormatProperty) for p in dummy.args["properties"].expressions):
            options.format = "PARQUET"
    location = as_folder(location)
    if query.lake.keys(location):
        raise QueryError("HIVE_PATH_ALREADY_EXISTS", f"Target directory for UNLOAD already exists: {location}. "
                                                     "UNLOAD requires an empty location.", DDL_ERROR)
    tree = parse(inner)
    translation = query.translate_query(tree)
    names, types = query.describe(translation.sql, tree)
    names = [n.lower() for n in names]
    query.provider.check_scan_cutoff(query)
    aliased = f"SELECT * FROM ({translation.sql}) AS __u({', '.join(quote_ident(n) for n in names)})"
    written = Writer(query).write(aliased, list(zip(names, types, strict=True)), location, options,
                                  query.execution_id)
    manifest = write_manifest(query, written.files)
    return Outcome("DML", "UNLOAD", "none", update_count=written.rows, manifest=[manifest])

