"""Whose catalog: Glue keeps one Data Catalog per account and region."""

from __future__ import annotations

from dataclasses import dataclass

from lakestack.aws.errors import AwsError


@dataclass(frozen=True)
class Scope:
    account: str
    region: str

    @property
    def key(self) -> tuple[str, str]:
        return self.account, self.region

    def arn(self, resource: str) -> str:
        return f"arn:aws:glue:{self.region}:{self.account}:{resource}"


def scope_of(ctx, params: dict | None = None) -> Scope:
    catalog_id = (params or {}).get("CatalogId")
    if catalog_id and catalog_id != ctx.account_id:
        # Cross-account catalogs need Lake Formation or resource policies, which lakestack
        # does not model; answer as AWS does when the caller has no grant there.
        raise AwsError("AccessDeniedException", f"Cross-account access to catalog {catalog_id} is not allowed.")
    return Scope(ctx.account_id, ctx.region)


def catalog_name(name: str) -> str:
    """Glue stores database and table names in lower case and matches them case-insensitively.
    https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html"""
    return name.lower()
