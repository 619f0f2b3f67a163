"""The storage descriptor and parameters Glue's crawler writes for each format: SerDe,
input and output formats, and the table properties engines (Athena, Spark, Hive) read."""

from __future__ import annotations

from lakestack.services.glue.crawling.formats import Detected
from lakestack.services.glue.crawling.schema import render

TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"

_FORMATS = {
    "parquet": ("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"),
    "orc": ("org.apache.hadoop.hive.ql.io.orc.OrcInputFormat", "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat",
            "org.apache.hadoop.hive.ql.io.orc.OrcSerde"),
    "avro": ("org.apache.hadoop.hive.ql.io.avro.AvroContainerInputFormat",
             "org.apache.hadoop.hive.ql.io.avro.AvroContainerOutputFormat",
             "org.apache.hadoop.hive.serde2.avro.AvroSerDe"),
    "json": (TEXT_INPUT, TEXT_OUTPUT, "org.openx.data.jsonserde.JsonSerDe"),
}
LAZY_SIMPLE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
OPEN_CSV = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
GROK = "com.amazonaws.glue.serde.GrokSerDe"
XML_INPUT = "com.ibm.spss.hive.serde2.xml.XmlInputFormat"
XML_SERDE = "com.ibm.spss.hive.serde2.xml.XmlSerDe"


def format_parameters(detected: Detected, compression: str) -> dict[str, str]:
    """Properties that describe the data's format (table and partition alike)."""
    params = {"classification": detected.classification, "compressionType": compression, "typeOfData": "file"}
    options = detected.options
    if detected.classification == "csv":
        params["delimiter"] = options["delimiter"]
        params["areColumnsQuoted"] = "true" if options.get("quoted") else "false"
        params["columnsOrdered"] = "true"
        if options.get("header"):
            params["skip.header.line.count"] = "1"
    if options.get("json_path"):
        params["jsonPath"] = options["json_path"]
    if options.get("avro_schema"):
        params["avro.schema.literal"] = options["avro_schema"]
    if options.get("row_tag"):
        params["rowTag"] = options["row_tag"]
    return params


def storage(detected: Detected, columns: tuple, location: str, compression: str, parameters: dict) -> dict:
    """A StorageDescriptor for data of this format at `location`."""
    options = detected.options
    classification = detected.classification
    if classification in _FORMATS:
        input_format, output_format, library = _FORMATS[classification]
        serde_params = {"serialization.format": "1"}
        if classification == "json":
            serde_params = {"paths": ",".join(name for name, _ in columns)}
        if classification == "avro":
            serde_params = {"avro.schema.literal": options.get("avro_schema", ""), "serialization.format": "1"}
    elif classification == "csv":
        input_format, output_format = TEXT_INPUT, TEXT_OUTPUT
        if options.get("serde") == "OpenCSVSerDe":
            library = OPEN_CSV
            serde_params = {"separatorChar": options["delimiter"], "quoteChar": options.get("quote", '"')}
        else:
            library = LAZY_SIMPLE
            serde_params = {"field.delim": options["delimiter"]}
    elif options.get("grok"):
        input_format, output_format, library = TEXT_INPUT, TEXT_OUTPUT, GROK
        serde_params = {"input.format": options["grok"]}
        if options.get("grok_custom"):
            serde_params["input.grokCustomPatterns"] = options["grok_custom"]
    elif options.get("row_tag"):
        input_format, output_format, library = XML_INPUT, TEXT_OUTPUT, XML_SERDE
        serde_params = {"xml.input.start": f"<{options['row_tag']}", "xml.input.end": f"</{options['row_tag']}>"}
    else:  # UNKNOWN: Glue still records the table, with no SerDe it could name
        input_format, output_format, library, serde_params = TEXT_INPUT, TEXT_OUTPUT, None, {}
    serde: dict = {"Parameters": serde_params}
    if library:
        serde["SerializationLibrary"] = library
    return {
        "Columns": [{"Name": name, "Type": render(t)} for name, t in columns],
        "Location": location,
        "InputFormat": input_format,
        "OutputFormat": output_format,
        "Compressed": compression != "none",
        "NumberOfBuckets": -1,
        "SerdeInfo": serde,
        "BucketColumns": [],
        "SortColumns": [],
        "Parameters": dict(parameters),
        "StoredAsSubDirectories": False,
    }
