"""Athena DDL (Hive's dialect) and the catalog's utility statements, carried out through
Glue's API: CREATE/DROP DATABASE, CREATE EXTERNAL TABLE, DROP TABLE, ALTER TABLE
(partitions, columns, properties, location), MSCK REPAIR TABLE, views, SHOW …, DESCRIBE.
https://docs.aws.amazon.com/athena/latest/ug/ddl-reference.html
"""

from __future__ import annotations

import fnmatch
import re
import time

from sqlglot import exp

from lakestack.aws.errors import AwsError
from lakestack.engines.sql.errors import DDL_ERROR, QueryError
from lakestack.engines.sql.parsing import parse
from lakestack.engines.sql.types import duckdb_to_hive, hive_to_trino, trino_type_name
from lakestack.services.athena.catalog import table_input_from
from lakestack.services.athena.lake import as_folder
from lakestack.services.athena.queries import DEFAULT_CATALOG, Outcome, Query, strip_comments, text_outcome
from lakestack.services.athena.relations import presto_view_text

FORMATS = {
    "PARQUET": ("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"),
    "ORC": ("org.apache.hadoop.hive.ql.io.orc.OrcInputFormat", "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat",
            "org.apache.hadoop.hive.ql.io.orc.OrcSerde"),
    "AVRO": ("org.apache.hadoop.hive.ql.io.avro.AvroContainerInputFormat",
             "org.apache.hadoop.hive.ql.io.avro.AvroContainerOutputFormat",
             "org.apache.hadoop.hive.serde2.avro.AvroSerDe"),
    "TEXTFILE": ("org.apache.hadoop.mapred.TextInputFormat",
                 "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                 "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"),
    "JSON": ("org.apache.hadoop.mapred.TextInputFormat", "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
             "org.openx.data.jsonserde.JsonSerDe"),
}
FORMATS["JSONFILE"] = FORMATS["JSON"]

_NAME = r"(?:`[^`]+`|\"[^\"]+\"|[\w$-]+)"
_QUALIFIED = rf"({_NAME}(?:\s*\.\s*{_NAME}){{0,2}})"


def _unquote(name: str) -> str:
    name = name.strip()
    if name[:1] in "`\"" and name[-1:] == name[:1]:
        return name[1:-1]
    return name


def split_name(text: str) -> list[str]:
    return [_unquote(p) for p in re.findall(_NAME, text)]


def _table_name(query: Query, text: str) -> tuple[str, str]:
    parts = split_name(text)
    if len(parts) == 3:
        return query.qualify(parts[0], parts[1], parts[2])
    if len(parts) == 2:
        return query.qualify(None, parts[0], parts[1])
    return query.qualify(None, None, parts[0])


def hive_type(node: exp.DataType) -> str:
    text = node.sql("hive").lower()
    text = re.sub(r"\s*([<>(),:])\s*", r"\1", text)
    return text


def ddl_done(substatement: str) -> Outcome:
    return Outcome("DDL", substatement, "text")


def _literal(node) -> str | None:
    return node.name if isinstance(node, exp.Literal) else (node.name if node is not None else None)


# --- databases -----------------------------------------------------------------------------------


def create_database(query: Query, tree: exp.Create) -> Outcome:
    name = tree.this.name.lower()
    database_input: dict = {"Name": name}
    for prop in (tree.args.get("properties") or exp.Properties(expressions=[])).expressions:
        if isinstance(prop, exp.SchemaCommentProperty):
            database_input["Description"] = _literal(prop.this)
        elif isinstance(prop, exp.LocationProperty):
            database_input["LocationUri"] = _literal(prop.this)
        elif isinstance(prop, exp.Property):
            database_input.setdefault("Parameters", {})[_literal(prop.this)] = _literal(prop.args.get("value"))
    try:
        query.glue.create_database(database_input)
    except AwsError as error:
        if error.code == "AlreadyExistsException":
            if tree.args.get("exists"):
                return ddl_done("CREATE_DATABASE")
            raise QueryError("SCHEMA_ALREADY_EXISTS", f"Database {name} already exists.", DDL_ERROR) from None
        raise
    return ddl_done("CREATE_DATABASE")


def _drop_target(tree: exp.Drop) -> exp.Expression:
    return tree.this or (tree.args.get("tables") or [None])[0]


def drop_database(query: Query, tree: exp.Drop) -> Outcome:
    name = _drop_target(tree).name.lower()
    if query.glue.database(name) is None:
        if tree.args.get("exists"):
            return ddl_done("DROP_DATABASE")
        raise QueryError("SCHEMA_NOT_FOUND", f"Database does not exist: {name}", DDL_ERROR)
    tables = query.glue.tables(name)
    if tables and not tree.args.get("cascade"):
        raise QueryError("SCHEMA_NOT_EMPTY", f"Database {name} is not empty. One or more tables exist.", DDL_ERROR)
    for table in tables:
        query.glue.delete_table(name, table["Name"])
    query.glue.delete_database(name)
    return ddl_done("DROP_DATABASE")


# --- tables -------------------------------------------------------------------------------------


def _columns(defs: list) -> list[dict]:
    out = []
    for column in defs:
        if not isinstance(column, exp.ColumnDef):
            continue
        entry = {"Name": column.name.lower(), "Type": hive_type(column.args["kind"])}
        for constraint in column.args.get("constraints") or []:
            if isinstance(constraint.kind, exp.CommentColumnConstraint):
                entry["Comment"] = _literal(constraint.kind.this)
        out.append(entry)
    return out


def table_input_from_create(tree: exp.Create) -> tuple[str | None, dict]:
    """(database as written, Glue TableInput) for CREATE [EXTERNAL] TABLE."""
    schema = tree.this
    table = schema.this if isinstance(schema, exp.Schema) else schema
    columns = _columns(schema.expressions if isinstance(schema, exp.Schema) else [])
    descriptor: dict = {"Columns": columns, "SerdeInfo": {"Parameters": {}}, "Compressed": False,
                        "NumberOfBuckets": -1, "BucketColumns": [], "SortColumns": [], "StoredAsSubDirectories": False}
    table_input: dict = {"Name": table.name.lower(), "TableType": "EXTERNAL_TABLE", "PartitionKeys": [],
                         "Parameters": {"EXTERNAL": "TRUE"}, "StorageDescriptor": descriptor}
    stored = "TEXTFILE"
    serde = None
    explicit_formats = None
    for prop in (tree.args.get("properties") or exp.Properties(expressions=[])).expressions:
        if isinstance(prop, exp.PartitionedByProperty):
            table_input["PartitionKeys"] = _columns(prop.this.expressions if isinstance(prop.this, exp.Schema) else [])
        elif isinstance(prop, exp.RowFormatSerdeProperty):
            serde = _literal(prop.this)
            for item in (prop.args.get("serde_properties") or exp.Properties(expressions=[])).expressions:
                descriptor["SerdeInfo"]["Parameters"][_literal(item.this)] = _literal(item.args.get("value"))
        elif isinstance(prop, exp.SerdeProperties):
            for item in prop.expressions:
                descriptor["SerdeInfo"]["Parameters"][_literal(item.this)] = _literal(item.args.get("value"))
        elif isinstance(prop, exp.RowFormatDelimitedProperty):
            parameters = descriptor["SerdeInfo"]["Parameters"]
            for key, name in (("fields", "field.delim"), ("collection_items", "collection.delim"),
                              ("map_keys", "mapkey.delim"), ("lines", "line.delim"), ("null", "serialization.null.format"),
                              ("escaped", "escape.delim")):
                if prop.args.get(key) is not None:
                    parameters[name] = _literal(prop.args[key]).encode().decode("unicode_escape")
            if "field.delim" in parameters:
                parameters.setdefault("serialization.format", parameters["field.delim"])
        elif isinstance(prop, exp.FileFormatProperty):
            if isinstance(prop.this, exp.InputOutputFormat):
                explicit_formats = (_literal(prop.this.args.get("input_format")),
                                    _literal(prop.this.args.get("output_format")))
            else:
                stored = prop.this.name.upper()
        elif isinstance(prop, exp.LocationProperty):
            descriptor["Location"] = _literal(prop.this)
        elif isinstance(prop, exp.SchemaCommentProperty):
            table_input["Description"] = _literal(prop.this)
            table_input["Parameters"]["comment"] = _literal(prop.this)
        elif isinstance(prop, exp.Property):
            table_input["Parameters"][_literal(prop.this)] = _literal(prop.args.get("value"))
        elif isinstance(prop, exp.ExternalProperty):
            table_input["TableType"] = "EXTERNAL_TABLE"
    if stored not in FORMATS:
        raise QueryError("NOT_SUPPORTED", f"STORED AS {stored} is not supported", DDL_ERROR)
    input_format, output_format, default_serde = FORMATS[stored]
    if explicit_formats:
        input_format, output_format = explicit_formats
    descriptor["InputFormat"] = input_format
    descriptor["OutputFormat"] = output_format
    descriptor["SerdeInfo"]["SerializationLibrary"] = serde or default_serde
    if "ParquetHiveSerDe" in descriptor["SerdeInfo"]["SerializationLibrary"] or stored == "PARQUET":
        table_input["Parameters"].setdefault("classification", "parquet")
    database = table.db.lower() if table.db else None
    return database, table_input


def create_table(query: Query, tree: exp.Create) -> Outcome:
    written_db, table_input = table_input_from_create(tree)
    database, name = query.qualify(None, written_db, table_input["Name"])
    parameters = table_input.get("Parameters") or {}
    if str(parameters.get("table_type", "")).upper() == "ICEBERG":
        query.iceberg.create_table(database, tree, table_input)
        return ddl_done("CREATE_TABLE")
    if not (table_input["StorageDescriptor"].get("Location") or "").startswith("s3://"):
        raise QueryError("INVALID_TABLE_PROPERTY",
                         "line 1:8: External location must be a directory: LOCATION must be an s3:// location",
                         DDL_ERROR)
    if query.glue.database(database) is None:
        raise QueryError("SCHEMA_NOT_FOUND", f"Database does not exist: {database}", DDL_ERROR)
    table_input["Parameters"].setdefault("transient_lastDdlTime", str(int(time.time())))
    try:
        query.glue.create_table(database, table_input)
    except AwsError as error:
        if error.code == "AlreadyExistsException":
            if tree.args.get("exists"):
                return ddl_done("CREATE_TABLE")
            raise QueryError("TABLE_ALREADY_EXISTS", f"Table {database}.{name} already exists", DDL_ERROR) from None
        if error.code in ("InvalidInputException", "ValidationException"):
            raise QueryError("INVALID_TABLE_PROPERTY", error.message, DDL_ERROR) from None
        raise
    return ddl_done("CREATE_TABLE")


def drop_table(query: Query, tree: exp.Drop, view: bool = False) -> Outcome:
    table = _drop_target(tree)
    database, name = query.qualify(table.catalog or None, table.db or None, table.name)
    found = query.glue.table(database, name)
    substatement = "DROP_VIEW" if view else "DROP_TABLE"
    if found is None or (view and found.get("TableType") != "VIRTUAL_VIEW"):
        if tree.args.get("exists"):
            return ddl_done(substatement)
        if view:
            raise QueryError("TABLE_NOT_FOUND", f"line 1:11: View '{DEFAULT_CATALOG}.{database}.{name}' does not exist")
        raise QueryError("TABLE_NOT_FOUND", f"Table not found {database}.{name}", DDL_ERROR)
    query.glue.delete_table(database, name)
    return ddl_done(substatement)


# --- ALTER TABLE ---------------------------------------------------------------------------------

_PARTITION_SPEC = re.compile(r"PARTITION\s*\(([^)]*)\)(?:\s*LOCATION\s*'((?:[^']|'')*)')?", re.IGNORECASE)


def _spec(text: str) -> list[tuple[str, str]]:
    pairs = []
    for item in re.finditer(r"([\w`\"]+)\s*=\s*('(?:[^']|'')*'|\"[^\"]*\"|[^,\s]+)", text):
        value = item.group(2)
        if value[:1] in "'\"":
            value = value[1:-1].replace("''", "'")
        pairs.append((_unquote(item.group(1)).lower(), value))
    return pairs


def alter_partitions(query: Query, sql: str) -> Outcome:
    match = re.match(rf"\s*ALTER\s+TABLE\s+{_QUALIFIED}\s+(ADD|DROP)\s+(IF\s+(?:NOT\s+)?EXISTS\s+)?(.*)$", sql,
                     re.IGNORECASE | re.DOTALL)
    if not match:
        raise QueryError("SYNTAX_ERROR", "line 1:1: mismatched input. Expecting: ALTER TABLE … ADD|DROP PARTITION")
    database, name = _table_name(query, match.group(1))
    action, guarded, rest = match.group(2).upper(), bool(match.group(3)), match.group(4)
    table = query.require_table(database, name)
    keys = [k["Name"].lower() for k in table.get("PartitionKeys") or []]
    specs = [(_spec(m.group(1)), m.group(2)) for m in _PARTITION_SPEC.finditer(rest)]
    if not specs:
        raise QueryError("SYNTAX_ERROR", "line 1:1: mismatched input. Expecting: PARTITION")
    base = as_folder((table.get("StorageDescriptor") or {}).get("Location", ""))
    if action == "ADD":
        inputs = []
        for pairs, location in specs:
            values = dict(pairs)
            if sorted(values) != sorted(keys):
                raise QueryError("INVALID_PARTITION_VALUE",
                                 f"Partition spec {dict(pairs)} does not match partition keys {keys}", DDL_ERROR)
            ordered = [values[k] for k in keys]
            where = (location.replace("''", "'") if location else
                     base + "/".join(f"{k}={v}" for k, v in zip(keys, ordered, strict=True)) + "/")
            inputs.append(partition_input(table, ordered, where))
        errors = query.glue.create_partitions(database, name, inputs)
        existing = [e for e in errors if (e.get("ErrorDetail") or {}).get("ErrorCode") == "AlreadyExistsException"]
        if existing and not guarded:
            raise QueryError("ALREADY_EXISTS", "Partition already exists.", DDL_ERROR)
        others = [e for e in errors if e not in existing]
        if others:
            raise QueryError("HIVE_METASTORE_ERROR", str((others[0].get("ErrorDetail") or {}).get("ErrorMessage")),
                             DDL_ERROR)
        return ddl_done("ALTER_TABLE_ADD_PARTITION")
    values = []
    for pairs, _ in specs:
        spec = dict(pairs)
        values.append([spec.get(k) for k in keys])
    errors = query.glue.delete_partitions(database, name, values)
    if errors and not guarded:
        raise QueryError("PARTITION_NOT_FOUND", "Partition not found.", DDL_ERROR)
    return ddl_done("ALTER_TABLE_DROP_PARTITION")


def partition_input(table: dict, values: list[str], location: str) -> dict:
    descriptor = dict(table.get("StorageDescriptor") or {})
    descriptor["Location"] = location
    return {"Values": values, "StorageDescriptor": descriptor, "Parameters": {}}


def alter_table(query: Query, tree: exp.Alter) -> Outcome:
    target = tree.this
    database, name = query.qualify(target.catalog or None, target.db or None, target.name)
    table = query.require_table(database, name)
    if query.iceberg.is_iceberg(table):
        return query.iceberg.alter(table, tree)
    table_input = table_input_from(table)
    descriptor = table_input.setdefault("StorageDescriptor", {})
    substatement = "ALTER_TABLE"
    for action in tree.args.get("actions") or []:
        if isinstance(action, exp.ColumnDef):  # ADD COLUMNS
            descriptor.setdefault("Columns", []).extend(_columns([action]))
            substatement = "ALTER_TABLE_ADD_COLUMNS"
        elif isinstance(action, exp.Schema):  # ADD COLUMNS (a, b)
            descriptor.setdefault("Columns", []).extend(_columns(action.expressions))
            substatement = "ALTER_TABLE_ADD_COLUMNS"
        elif isinstance(action, exp.AlterSet):
            for item in (action.args.get("expressions") or []):
                for prop in (item.expressions if isinstance(item, exp.Properties) else [item]):
                    if isinstance(prop, exp.Property):
                        table_input.setdefault("Parameters", {})[_literal(prop.this)] = _literal(
                            prop.args.get("value"))
            location = action.args.get("location")
            if location is not None:
                descriptor["Location"] = _literal(location)
            props = action.args.get("tblproperties") or action.args.get("properties")
            if props is not None:
                for prop in props.expressions:
                    table_input.setdefault("Parameters", {})[_literal(prop.this)] = _literal(prop.args.get("value"))
            substatement = "ALTER_TABLE_SET_TBLPROPERTIES" if location is None else "ALTER_TABLE_SET_LOCATION"
        elif isinstance(action, exp.ReplaceColumns):
            descriptor["Columns"] = _columns(action.expressions)
            substatement = "ALTER_TABLE_REPLACE_COLUMNS"
        elif isinstance(action, exp.AlterColumn | exp.RenameColumn):
            old = action.this.name.lower()
            target = action.args.get("rename_to") or action.args.get("to")
            new_name = target.name.lower() if target is not None else old
            dtype = action.args.get("dtype")
            for column in descriptor.get("Columns") or []:
                if column["Name"] == old:
                    column["Name"] = new_name
                    if dtype is not None:
                        column["Type"] = hive_type(dtype)
            substatement = "ALTER_TABLE_CHANGE_COLUMN"
        elif isinstance(action, exp.Drop) and action.args.get("kind") == "PARTITION":
            return alter_partitions(query, tree.sql("hive"))
        else:
            raise QueryError("NOT_SUPPORTED", f"ALTER TABLE {action.sql('hive')} is not supported", DDL_ERROR)
    query.glue.update_table(database, table_input)
    return ddl_done(substatement)


def msck_repair(query: Query, sql: str) -> Outcome:
    match = re.match(rf"\s*MSCK\s+REPAIR\s+TABLE\s+{_QUALIFIED}\s*$", sql, re.IGNORECASE)
    if not match:
        raise QueryError("SYNTAX_ERROR", "line 1:1: mismatched input. Expecting: MSCK REPAIR TABLE <table>")
    database, name = _table_name(query, match.group(1))
    table = query.require_table(database, name)
    keys = [k["Name"].lower() for k in table.get("PartitionKeys") or []]
    if not keys:
        return text_outcome("DDL", "MSCK_REPAIR_TABLE", ["result"], [])
    base = as_folder((table.get("StorageDescriptor") or {}).get("Location", ""))
    pattern = re.compile("/".join(rf"{re.escape(k)}=([^/]*)" for k in keys) + "/", re.IGNORECASE)
    found: dict[tuple, str] = {}
    for item in query.lake.files(base):
        relative = item.uri[len(base):]
        match = pattern.match(relative)
        if match:
            values = tuple(match.groups())
            found.setdefault(values, base + match.group(0))
    existing = {tuple(p.get("Values") or []) for p in query.glue.partitions(database, name)}
    missing = [(values, where) for values, where in sorted(found.items()) if values not in existing]
    lines = []
    if missing:
        query.glue.create_partitions(database, name, [partition_input(table, list(v), w) for v, w in missing])
        specs = ["/".join(f"{k}={v}" for k, v in zip(keys, values, strict=True)) for values, _ in missing]
        lines.append(["Partitions not in metastore:\t" + "\t".join(f"{name}:{s}" for s in specs)])
        lines.extend([f"Repair: Added partition to metastore {name}:{s}"] for s in specs)
    return text_outcome("DDL", "MSCK_REPAIR_TABLE", ["result"], lines)


# --- views -------------------------------------------------------------------------------------


def create_view(query: Query, tree: exp.Create, original_sql: str) -> Outcome:
    target = tree.this
    database, name = query.qualify(target.catalog or None, target.db or None, target.name)
    body = tree.expression
    match = re.search(r"\bAS\s+(.*)$", strip_comments(original_sql), re.IGNORECASE | re.DOTALL)
    view_sql = match.group(1) if match else body.sql("trino")
    translation = query.translate_query(parse(view_sql))
    names, types = query.describe(translation.sql, body)
    columns = [{"Name": n.lower(), "Type": duckdb_to_hive(t)} for n, t in zip(names, types, strict=True)]
    existing = query.glue.table(database, name)
    if existing is not None and not tree.args.get("replace"):
        raise QueryError("TABLE_ALREADY_EXISTS", f"line 1:1: View '{DEFAULT_CATALOG}.{database}.{name}' already exists")
    table_input = {
        "Name": name, "TableType": "VIRTUAL_VIEW", "Parameters": {"presto_view": "true", "comment": "Presto View"},
        "ViewOriginalText": presto_view_text(view_sql, DEFAULT_CATALOG, database,
                                             [(n.lower(), trino_type_name(t)) for n, t in zip(names, types, strict=True)]),
        "ViewExpandedText": "/* Presto View */", "PartitionKeys": [],
        "StorageDescriptor": {"Columns": columns, "SerdeInfo": {}, "Location": ""},
    }
    if existing is not None:
        query.glue.update_table(database, table_input)
    else:
        query.glue.create_table(database, table_input)
    return ddl_done("CREATE_VIEW")


# --- SHOW / DESCRIBE --------------------------------------------------------------------------------


def _like(pattern: str | None, name: str) -> bool:
    if not pattern:
        return True
    # Athena's SHOW patterns: * any characters, | alternatives.
    return any(fnmatch.fnmatchcase(name.lower(), p.strip().lower()) for p in pattern.split("|"))


def show(query: Query, sql: str) -> Outcome:
    text = strip_comments(sql)
    upper = re.sub(r"\s+", " ", text.upper())
    pattern_match = re.search(r"(?:LIKE\s+)?'((?:[^']|'')*)'\s*$", text, re.IGNORECASE)
    pattern = pattern_match.group(1) if pattern_match else None
    if upper.startswith(("SHOW DATABASES", "SHOW SCHEMAS")):
        names = sorted(d["Name"] for d in query.glue.databases())
        return text_outcome("UTILITY", "SHOW_DATABASES", ["database_name"], [[n] for n in names if _like(pattern, n)])
    if upper.startswith(("SHOW TABLES", "SHOW VIEWS")):
        views = upper.startswith("SHOW VIEWS")
        match = re.match(rf"\s*SHOW\s+(?:TABLES|VIEWS)(?:\s+(?:IN|FROM)\s+({_NAME}))?", text, re.IGNORECASE)
        database = _unquote(match.group(1)).lower() if match and match.group(1) else query.database
        if query.glue.database(database) is None:
            raise QueryError("SCHEMA_NOT_FOUND", f"line 1:1: Schema '{database}' does not exist")
        tables = query.glue.tables(database)
        names = sorted(t["Name"] for t in tables if not views or t.get("TableType") == "VIRTUAL_VIEW")
        return text_outcome("UTILITY", "SHOW_VIEWS" if views else "SHOW_TABLES",
                            ["views" if views else "tab_name"], [[n] for n in names if _like(pattern, n)])
    match = re.match(rf"\s*SHOW\s+(PARTITIONS|CREATE\s+TABLE|CREATE\s+VIEW|COLUMNS\s+(?:IN|FROM)|TBLPROPERTIES)\s+"
                     rf"{_QUALIFIED}(?:\s+(?:IN|FROM)\s+({_NAME}))?(?:\s*\(\s*'([^']*)'\s*\))?", text, re.IGNORECASE)
    if not match:
        raise QueryError("SYNTAX_ERROR", f"line 1:1: mismatched input '{text.split()[1] if len(text.split()) > 1 else ''}'"
                                         ". Expecting: DATABASES, TABLES, PARTITIONS, COLUMNS, CREATE TABLE, VIEWS")
    what = re.sub(r"\s+", " ", match.group(1).upper())
    parts = split_name(match.group(2))
    if match.group(3):
        parts = [_unquote(match.group(3))] + parts[-1:]
    database, name = query.qualify(None, parts[-2] if len(parts) > 1 else None, parts[-1])
    table = query.require_table(database, name)
    if what == "PARTITIONS":
        keys = [k["Name"] for k in table.get("PartitionKeys") or []]
        if not keys:
            raise QueryError("NOT_SUPPORTED", f"Table {name} is not partitioned", DDL_ERROR)
        rows = sorted("/".join(f"{k}={v}" for k, v in zip(keys, p.get("Values") or [], strict=False))
                      for p in query.glue.partitions(database, name))
        return text_outcome("UTILITY", "SHOW_PARTITIONS", ["partition"], [[r] for r in rows])
    if what.startswith("COLUMNS"):
        columns = [c["Name"] for c in (table.get("StorageDescriptor") or {}).get("Columns") or []]
        columns += [k["Name"] for k in table.get("PartitionKeys") or []]
        return text_outcome("UTILITY", "SHOW_COLUMNS", ["field"], [[c] for c in columns])
    if what == "TBLPROPERTIES":
        properties = table.get("Parameters") or {}
        if match.group(4):
            value = properties.get(match.group(4))
            return text_outcome("UTILITY", "SHOW_TBLPROPERTIES", ["prpt_name", "prpt_value"],
                                [[match.group(4), value]] if value is not None else [])
        return text_outcome("UTILITY", "SHOW_TBLPROPERTIES", ["prpt_name", "prpt_value"],
                            [[k, str(v)] for k, v in sorted(properties.items())])
    lines = show_create_table(database, table)
    return text_outcome("UTILITY", "SHOW_CREATE_TABLE", ["createtab_stmt"], [[line] for line in lines])


def show_create_table(database: str, table: dict) -> list[str]:
    name = table["Name"]
    if table.get("TableType") == "VIRTUAL_VIEW":
        from lakestack.services.athena.relations import presto_view_sql

        sql, _ = presto_view_sql(table)
        return [f'CREATE VIEW "{database}"."{name}" AS', *sql.splitlines()]
    descriptor = table.get("StorageDescriptor") or {}
    lines = [f"CREATE EXTERNAL TABLE `{database}`.`{name}`("]
    columns = descriptor.get("Columns") or []
    for index, column in enumerate(columns):
        comment = f" COMMENT '{column['Comment']}'" if column.get("Comment") else ""
        lines.append(f"  `{column['Name']}` {column['Type']}{comment}{',' if index < len(columns) - 1 else ')'}")
    if table.get("PartitionKeys"):
        keys = table["PartitionKeys"]
        lines.append("PARTITIONED BY (")
        for index, key in enumerate(keys):
            lines.append(f"  `{key['Name']}` {key['Type']}{',' if index < len(keys) - 1 else ')'}")
    serde = descriptor.get("SerdeInfo") or {}
    lines.append("ROW FORMAT SERDE ")
    lines.append(f"  '{serde.get('SerializationLibrary', '')}' ")
    if serde.get("Parameters"):
        lines.append("WITH SERDEPROPERTIES ( ")
        items = sorted(serde["Parameters"].items())
        for index, (key, value) in enumerate(items):
            lines.append(f"  '{key}'='{value}'{',' if index < len(items) - 1 else ')'} ")
    lines.append("STORED AS INPUTFORMAT ")
    lines.append(f"  '{descriptor.get('InputFormat', '')}' ")
    lines.append("OUTPUTFORMAT ")
    lines.append(f"  '{descriptor.get('OutputFormat', '')}'")
    lines.append("LOCATION")
    lines.append(f"  '{descriptor.get('Location', '')}'")
    properties = sorted((table.get("Parameters") or {}).items())
    if properties:
        lines.append("TBLPROPERTIES (")
        for index, (key, value) in enumerate(properties):
            lines.append(f"  '{key}'='{value}'{',' if index < len(properties) - 1 else ')'}")
    return lines


def describe(query: Query, sql: str) -> Outcome:
    match = re.match(rf"\s*(?:DESCRIBE|DESC)\s+(?:(FORMATTED|EXTENDED)\s+)?{_QUALIFIED}(?:\s+({_NAME}))?\s*$",
                     strip_comments(sql), re.IGNORECASE)
    if not match:
        raise QueryError("SYNTAX_ERROR", "line 1:1: mismatched input. Expecting: DESCRIBE <table>")
    parts = split_name(match.group(2))
    database, name = query.qualify(parts[-3] if len(parts) > 2 else None, parts[-2] if len(parts) > 1 else None,
                                   parts[-1])
    table = query.require_table(database, name)
    descriptor = table.get("StorageDescriptor") or {}
    columns = descriptor.get("Columns") or []
    keys = table.get("PartitionKeys") or []
    if table.get("TableType") == "VIRTUAL_VIEW":
        rows = [[c["Name"], hive_to_trino(c["Type"]), ""] for c in columns]
        return text_outcome("UTILITY", "DESCRIBE_TABLE", ["col_name", "data_type", "comment"], rows)
    rows = [[c["Name"].ljust(20), c["Type"].ljust(20), c.get("Comment", "")] for c in columns + keys]
    if keys:
        rows += [[""], ["# Partition Information"], ["# col_name".ljust(20), "data_type".ljust(20), "comment"], [""]]
        rows += [[k["Name"].ljust(20), k["Type"].ljust(20), k.get("Comment", "")] for k in keys]
    if match.group(1):
        rows += [[""], ["# Detailed Table Information"], ["Database:", database], ["Table:", name],
                 ["Location:", descriptor.get("Location", "")], ["Table Type:", table.get("TableType", "")],
                 ["SerDe Library:", (descriptor.get("SerdeInfo") or {}).get("SerializationLibrary", "")],
                 ["InputFormat:", descriptor.get("InputFormat", "")]]
    return text_outcome("UTILITY", "DESCRIBE_TABLE", ["col_name", "data_type", "comment"], rows)
