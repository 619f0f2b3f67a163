"""Athena's geospatial functions on DuckDB's spatial extension.

Most `ST_*` names are the same in both; the rest are renamed here. Athena's spherical
geography (`to_spherical_geography`) has no DuckDB type: the translator marks it, and
`ST_Distance`/`ST_Area`/`ST_Length` over a marked argument become DuckDB's sphere/spheroid
functions in metres. Athena points are (longitude, latitude); DuckDB's spherical functions
expect (latitude, longitude), hence the coordinate flip.
"""

from __future__ import annotations

from sqlglot import exp

from lakestack.engines.sql.function_rewrites import register

_GEOGRAPHY = "trino_spherical_geography"

MACROS = [
    # Athena names geometry types ST_Point, ST_Polygon, …
    """CREATE OR REPLACE MACRO trino_st_geometry_type(g) AS CASE CAST(ST_GeometryType(g) AS VARCHAR)
        WHEN 'POINT' THEN 'ST_Point' WHEN 'LINESTRING' THEN 'ST_LineString' WHEN 'POLYGON' THEN 'ST_Polygon'
        WHEN 'MULTIPOINT' THEN 'ST_MultiPoint' WHEN 'MULTILINESTRING' THEN 'ST_MultiLineString'
        WHEN 'MULTIPOLYGON' THEN 'ST_MultiPolygon' WHEN 'GEOMETRYCOLLECTION' THEN 'ST_GeomCollection'
        ELSE CAST(ST_GeometryType(g) AS VARCHAR) END""",
    f"CREATE OR REPLACE MACRO {_GEOGRAPHY}(g) AS g",
]


def _fn(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def _is_geography(node: exp.Expression) -> bool:
    return isinstance(node, exp.Anonymous) and node.name.lower() == _GEOGRAPHY


def _unwrap(node: exp.Expression) -> exp.Expression:
    return node.expressions[0] if _is_geography(node) else node


def _flip(node: exp.Expression) -> exp.Expression:
    return _fn("ST_FlipCoordinates", _unwrap(node))


def _rename(name: str):
    return lambda node, args: _fn(name, *args)


def _distance(node, args):
    if any(_is_geography(a) for a in args):
        return _fn("ST_Distance_Sphere", _flip(args[0]), _flip(args[1]))
    return _fn("ST_Distance", *args)


def _area(node, args):
    if _is_geography(args[0]):
        return _fn("ST_Area_Spheroid", _flip(args[0]))
    return _fn("ST_Area", *args)


def _length(node, args):
    if _is_geography(args[0]):
        return _fn("ST_Length_Spheroid", _flip(args[0]))
    return _fn("ST_Length", *args)


_RENAMES = {
    "st_geometryfromtext": "ST_GeomFromText",
    "st_geomfromtext": "ST_GeomFromText",
    "st_linefromtext": "ST_GeomFromText",
    "st_polygon": "ST_GeomFromText",
    "st_geomfrombinary": "ST_GeomFromWKB",
    "st_asbinary": "ST_AsWKB",
    "st_numpoints": "ST_NPoints",
    "st_geometrytype": "trino_st_geometry_type",
    "geometry_union_agg": "ST_Union_Agg",
    "to_spherical_geography": _GEOGRAPHY,
    "to_geometry": "trino_geometry_identity",
}

MACROS.append("CREATE OR REPLACE MACRO trino_geometry_identity(g) AS g")

for _name, _target in _RENAMES.items():
    register(_name, _rename(_target))
register("st_distance", _distance)
register("st_area", _area)
register("st_length", _length)
register("convex_hull_agg", lambda node, args: _fn("ST_ConvexHull", _fn("ST_Union_Agg", *args)))
