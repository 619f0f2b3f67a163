"""Which classifier recognises a file: the crawler's custom classifiers first, in its order,
then the built-in ones. The first answer with certainty 1.0 wins; otherwise the most
certain partial answer; otherwise the file is UNKNOWN.
https://docs.aws.amazon.com/glue/latest/dg/add-classifier.html
"""

from __future__ import annotations

import logging

from lakestack.services.glue.crawling import formats
from lakestack.services.glue.crawling.formats import Detected, Sample

log = logging.getLogger("lakestack.glue")

BUILTIN = (formats.avro, formats.orc, formats.parquet, formats.json_builtin, formats.csv_detect)


def _custom(kind: str, spec: dict, sample: Sample) -> Detected | None:
    if kind == "CsvClassifier":
        return formats.csv_detect(
            sample, delimiters=(spec.get("Delimiter") or ",",), quote=spec.get("QuoteSymbol") or '"',
            contains_header=spec.get("ContainsHeader") or "UNKNOWN", header=spec.get("Header"),
            allow_single_column=bool(spec.get("AllowSingleColumn")),
            trim=not spec.get("DisableValueTrimming", False), serde=spec.get("Serde"))
    if kind == "JsonClassifier":
        return formats.json_custom(sample, spec["JsonPath"])
    if kind == "GrokClassifier":
        return formats.grok_detect(sample, spec["Classification"], spec["GrokPattern"],
                                   spec.get("CustomPatterns") or "")
    if kind == "XMLClassifier":
        return formats.xml_detect(sample, spec["Classification"], spec.get("RowTag") or "")
    return None


def classify(sample: Sample, custom: list[tuple[str, dict]]) -> Detected:
    formats.decompress(sample)
    best: Detected | None = None
    for kind, spec in custom:
        try:
            found = _custom(kind, spec, sample)
        except Exception:  # a classifier that cannot read this file does not match it
            log.debug("classifier %s failed on %s", spec.get("Name"), sample.key, exc_info=True)
            found = None
        if found is None:
            continue
        if found.certainty >= 1.0:
            return found
        if best is None or found.certainty > best.certainty:
            best = found
    for builtin in BUILTIN:
        try:
            found = builtin(sample)
        except Exception:
            log.debug("built-in %s failed on %s", builtin.__name__, sample.key, exc_info=True)
            found = None
        if found is not None:
            return found
    return best or Detected("UNKNOWN", (), 0, certainty=0.0)
