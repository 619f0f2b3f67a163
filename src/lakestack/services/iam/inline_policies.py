"""Inline policies: documents embedded in one user, group or role, named per entity.
https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-vs-inline.html
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakestack.services.iam.errors import no_such_entity

if TYPE_CHECKING:
    from lakestack.services.iam.store import IamStore


class InlinePolicies:
    def __init__(self, store: IamStore):
        self.store = store

    def put(self, entity_type: str, entity_id: str, name: str, document: str) -> None:
        with self.store.write() as db:
            # Replacing keeps the stored name's case as first written, as IAM does.
            updated = db.execute(
                "UPDATE inline_policies SET document = ? WHERE entity_type = ? AND entity_id = ? AND name = ?",
                (document, entity_type, entity_id, name)).rowcount
            if not updated:
                db.execute("INSERT INTO inline_policies (entity_type, entity_id, name, document) VALUES (?, ?, ?, ?)",
                           (entity_type, entity_id, name, document))

    def get(self, entity_type: str, entity_id: str, name: str) -> tuple[str, str]:
        """(stored name, document), or NoSuchEntity."""
        row = self.store.query_one(
            "SELECT name, document FROM inline_policies WHERE entity_type = ? AND entity_id = ? AND name = ?",
            (entity_type, entity_id, name))
        if row is None:
            raise no_such_entity(f"The {entity_type} policy with name {name} cannot be found.")
        return row["name"], row["document"]

    def delete(self, entity_type: str, entity_id: str, name: str) -> None:
        with self.store.write() as db:
            gone = db.execute("DELETE FROM inline_policies WHERE entity_type = ? AND entity_id = ? AND name = ?",
                              (entity_type, entity_id, name)).rowcount
            if not gone:
                raise no_such_entity(f"The {entity_type} policy with name {name} cannot be found.")

    def names(self, entity_type: str, entity_id: str) -> list[str]:
        rows = self.store.query("SELECT name FROM inline_policies WHERE entity_type = ? AND entity_id = ? "
                                "ORDER BY name", (entity_type, entity_id))
        return [r["name"] for r in rows]

    def documents(self, entity_type: str, entity_id: str) -> list[tuple[str, str]]:
        rows = self.store.query("SELECT name, document FROM inline_policies WHERE entity_type = ? AND entity_id = ? "
                                "ORDER BY name", (entity_type, entity_id))
        return [(r["name"], r["document"]) for r in rows]
