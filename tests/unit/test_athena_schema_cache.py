"""Athena's cache of Parquet file schemas: bounded in files, one copy of each schema."""

from lakestack.services.athena.relations import SchemaCache


class FakeSession:
    """Answers DESCRIBE with two columns; a file named wide-* has a third."""

    def __init__(self):
        self.described = 0

    def execute(self, sql):
        self.described += 1
        rows = [("Id", "BIGINT", "YES"), ("name", "VARCHAR", "YES")]
        if "wide-" in sql:
            rows.append(("extra", "DOUBLE", "YES"))
        return type("Result", (), {"fetchall": lambda _: rows})()


def test_schema_cache_is_bounded_and_shares_schemas(tmp_path):
    cache, session = SchemaCache(limit=10), FakeSession()
    paths = []
    for i in range(25):
        path = tmp_path / (f"wide-{i}.parquet" if i % 5 == 0 else f"part-{i}.parquet")
        path.write_bytes(b"x")
        paths.append(str(path))
    schemas = [cache.columns(session, "parquet", p) for p in paths]
    assert schemas[1] == {"id": ("Id", "BIGINT"), "name": ("name", "VARCHAR")}
    assert schemas[0]["extra"] == ("extra", "DOUBLE")
    assert len(cache._entries) <= 10 and len(cache._shared) <= 2
    # Files with the same columns share one dict rather than holding a copy each.
    assert schemas[-1] is schemas[-2] and schemas[-2] is not schemas[-5]
    # A known file is not described again.
    described = session.described
    assert cache.columns(session, "parquet", paths[-1]) is schemas[-1] and session.described == described
