"""Trino semantics and geospatial functions through a real server: a representative subset
of the cases in tests/data/trino_cases.py (all of them run at the engine level in
tests/unit/test_trino_semantics.py), run concurrently through boto3 Athena."""

import importlib.util
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

OUTPUT = "s3://athena-sem-results/q/"

_spec = importlib.util.spec_from_file_location(
    "trino_cases", Path(__file__).resolve().parents[1] / "data" / "trino_cases.py")
trino_cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(trino_cases)
SUBSET = trino_cases.CASES[::4]


def wait(athena, query_id, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        if execution["Status"]["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return execution
        assert time.monotonic() < deadline
        time.sleep(0.02)


def query(athena, sql, database="default"):
    query_id = athena.start_query_execution(QueryString=sql, QueryExecutionContext={"Database": database},
                                            ResultConfiguration={"OutputLocation": OUTPUT})["QueryExecutionId"]
    execution = wait(athena, query_id)
    assert execution["Status"]["State"] == "SUCCEEDED", (sql, execution["Status"])
    rows = []
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=query_id):
        rows += [tuple(d.get("VarCharValue") for d in r["Data"]) for r in page["ResultSet"]["Rows"]]
    return rows[1:]


@pytest.fixture(scope="module")
def athena(lakestack_stack):
    lakestack_stack.client("s3").create_bucket(Bucket="athena-sem-results")
    return lakestack_stack.client("athena")


def test_a_representative_subset_of_the_trino_cases(athena):
    assert len(SUBSET) >= 50
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda case: (case, query(athena, case[0])), SUBSET))
    mismatches = [(sql, expected, got) for (sql, expected), got in outcomes if got != expected]
    assert not mismatches, mismatches


@pytest.fixture(scope="module")
def zones(lakestack_stack, athena):
    s3 = lakestack_stack.client("s3")
    s3.create_bucket(Bucket="athena-geo")
    s3.put_object(Bucket="athena-geo", Key="zones/zones.csv",
                  Body=b"center|POLYGON ((2.30 48.84, 2.30 48.87, 2.37 48.87, 2.37 48.84, 2.30 48.84))\n"
                       b"east|POLYGON ((2.37 48.84, 2.37 48.87, 2.42 48.87, 2.42 48.84, 2.37 48.84))\n")
    s3.put_object(Bucket="athena-geo", Key="positions/p.json",
                  Body=b'{"vehicle_id": "eb-1", "lat": 48.857, "lon": 2.352}\n'
                       b'{"vehicle_id": "eb-2", "lat": 48.850, "lon": 2.400}\n'
                       b'{"vehicle_id": "eb-3", "lat": 48.900, "lon": 2.250}\n')
    for sql in ("CREATE DATABASE geo",
                "CREATE EXTERNAL TABLE geo.zones (zone string, wkt string) ROW FORMAT DELIMITED "
                "FIELDS TERMINATED BY '|' LOCATION 's3://athena-geo/zones/'",
                "CREATE EXTERNAL TABLE geo.positions (vehicle_id string, lat double, lon double) "
                "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe' LOCATION 's3://athena-geo/positions/'"):
        query(athena, sql)
    return "geo"


def test_bikes_inside_and_outside_the_service_area(athena, zones):
    inside = query(athena, """
        SELECT p.vehicle_id, z.zone
        FROM positions p JOIN zones z ON ST_Contains(ST_GeometryFromText(z.wkt), ST_Point(p.lon, p.lat))
        ORDER BY p.vehicle_id""", zones)
    assert inside == [("eb-1", "center"), ("eb-2", "east")]
    outside = query(athena, """
        SELECT vehicle_id FROM positions p
        WHERE NOT EXISTS (SELECT 1 FROM zones z WHERE ST_Contains(ST_GeometryFromText(z.wkt), ST_Point(p.lon, p.lat)))
        """, zones)
    assert outside == [("eb-3",)]


def test_geospatial_functions(athena):
    rows = query(athena, """
        SELECT ST_AsText(ST_Point(1, 2)),
               ST_Intersects(ST_GeometryFromText('LINESTRING (0 0, 2 2)'), ST_GeometryFromText('LINESTRING (0 2, 2 0)')),
               ST_Distance(ST_Point(0, 0), ST_Point(3, 4)),
               ST_Area(ST_GeometryFromText('POLYGON ((0 0, 0 2, 2 2, 2 0, 0 0))')),
               round(ST_Area(ST_Buffer(ST_Point(0, 0), 1)), 1),
               ST_X(ST_Point(1.5, 2.5)), ST_Y(ST_Point(1.5, 2.5)), ST_GeometryType(ST_Point(1, 2)),
               ST_AsText(ST_Centroid(ST_GeometryFromText('POLYGON ((0 0, 0 2, 2 2, 2 0, 0 0))'))),
               ST_Within(ST_Point(5, 5), ST_GeometryFromText('POLYGON ((0 0, 0 2, 2 2, 2 0, 0 0))'))""")
    assert rows == [("POINT (1 2)", "true", "5.0", "4.0", "3.1", "1.5", "2.5", "ST_Point", "POINT (1 1)", "false")]
    # Distances on the sphere, in km (great_circle_distance) and metres (spherical geography).
    km, metres = query(athena, """
        SELECT great_circle_distance(36.12, -86.67, 33.94, -118.40),
               ST_Distance(to_spherical_geography(ST_Point(-86.67, 36.12)),
                           to_spherical_geography(ST_Point(-118.40, 33.94)))""")[0]
    assert abs(float(km) - 2886.448973436703) < 1e-6
    assert abs(float(metres) / 1000 - 2886.45) < 1.0
