"""Custom classifiers (CSV, JSON path, grok, XML): stored definitions that crawlers try, in
the crawler's order, before the built-in ones (crawling/classify.py applies them)."""

from __future__ import annotations

import time

from lakestack.services.glue import codec, pagination
from lakestack.services.glue.errors import already_exists, invalid_input, not_found
from lakestack.services.glue.scope import Scope

KINDS = ("GrokClassifier", "XMLClassifier", "JsonClassifier", "CsvClassifier")


def _one_kind(request: dict) -> tuple[str, dict]:
    given = [(kind, request[kind]) for kind in KINDS if request.get(kind)]
    if len(given) != 1:
        raise invalid_input("Exactly one classifier type (GrokClassifier, XMLClassifier, JsonClassifier or "
                            "CsvClassifier) must be specified.")
    return given[0]


def _validate(kind: str, spec: dict) -> None:
    if kind == "CsvClassifier":
        delimiter, quote = spec.get("Delimiter"), spec.get("QuoteSymbol")
        if delimiter and quote and delimiter == quote:
            raise invalid_input("The delimiter and the quote symbol must be different.")
        if spec.get("ContainsHeader") == "ABSENT" and spec.get("Header"):
            raise invalid_input("A header cannot be given when ContainsHeader is ABSENT.")
    elif kind == "GrokClassifier" and spec.get("GrokPattern") is not None:
        from lakestack.services.glue.crawling.grok import GrokError, compile_grok

        try:
            compile_grok(spec["GrokPattern"], spec.get("CustomPatterns") or "")
        except GrokError as exc:
            raise invalid_input(f"Invalid grok pattern: {exc}") from None
    elif kind == "JsonClassifier" and spec.get("JsonPath") is not None:
        from lakestack.services.glue.crawling.jsonpath import JsonPathError, parse_json_path

        try:
            parse_json_path(spec["JsonPath"])
        except JsonPathError as exc:
            raise invalid_input(f"Invalid JsonPath: {exc}") from None


class Classifiers:
    def __init__(self, store):
        self.store = store

    def create(self, scope: Scope, request: dict) -> None:
        kind, spec = _one_kind(request)
        _validate(kind, spec)
        name = spec["Name"]
        now = time.time()
        data = {k: v for k, v in spec.items() if k != "Name"}
        with self.store.transaction() as db:
            if db.execute("SELECT 1 FROM classifiers WHERE account_id=? AND region=? AND name=?",
                          (*scope.key, name)).fetchone():
                raise already_exists(f"Classifier with name {name} already exists.")
            db.execute("INSERT INTO classifiers VALUES (?,?,?,?,?,?,?,?)",
                       (*scope.key, name, kind, now, now, 1, codec.dumps(data)))

    def update(self, scope: Scope, request: dict) -> None:
        update_kind, spec = _one_kind(request)
        name = spec["Name"]
        with self.store.transaction() as db:
            row = db.execute("SELECT * FROM classifiers WHERE account_id=? AND region=? AND name=?",
                             (*scope.key, name)).fetchone()
            if row is None:
                raise not_found(f"Classifier with name {name} not found.")
            if row["kind"] != update_kind:
                raise invalid_input(f"Classifier {name} is a {row['kind']}, not a {update_kind}.")
            # Update merges: members left out keep their values.
            data = codec.loads(row["data"])
            data.update({k: v for k, v in spec.items() if k != "Name"})
            _validate(update_kind, {"Name": name, **data})
            db.execute("UPDATE classifiers SET data=?, updated=?, version=version+1 WHERE account_id=? AND region=? "
                       "AND name=?", (codec.dumps(data), time.time(), *scope.key, name))

    def delete(self, scope: Scope, name: str) -> None:
        with self.store.transaction() as db:
            if db.execute("DELETE FROM classifiers WHERE account_id=? AND region=? AND name=?",
                          (*scope.key, name)).rowcount == 0:
                raise not_found(f"Classifier with name {name} not found.")

    def row(self, scope: Scope, name: str):
        return self.store.query_one("SELECT * FROM classifiers WHERE account_id=? AND region=? AND name=?",
                                    (*scope.key, name))

    def get(self, scope: Scope, name: str) -> dict:
        row = self.row(scope, name)
        if row is None:
            raise not_found(f"Classifier with name {name} not found.")
        return describe(row)

    def list(self, scope: Scope, params: dict) -> dict:
        after = pagination.decode(params.get("NextToken")) or ""
        limit = pagination.page_size(params, 100, 1000)
        rows = self.store.query("SELECT * FROM classifiers WHERE account_id=? AND region=? AND name > ? ORDER BY name "
                                "LIMIT ?", (*scope.key, after, limit + 1))
        out = {"Classifiers": [describe(r) for r in rows[:limit]]}
        if len(rows) > limit:
            out["NextToken"] = pagination.encode(rows[limit - 1]["name"])
        return out


def describe(row) -> dict:
    spec = {"Name": row["name"], "CreationTime": codec.timestamp(row["created"]),
            "LastUpdated": codec.timestamp(row["updated"]), "Version": row["version"]}
    spec.update(codec.loads(row["data"]))
    return {row["kind"]: spec}
