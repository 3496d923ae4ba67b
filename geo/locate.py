"""Where points lie against the coal-ban zones: inside a zone, or in an enclave.

A coal boiler burning inside a 禁煤区 is the first thing an inspector asks
about, so "inside" is generous: a point *intersects* the zone, and a point
exactly on a zone's edge is inside.  A point in an enclave (飞地: an
incomplete village in a hole of a zone) is not inside the zone — the
enclave is not coal-free yet — but is flagged ``in_enclave``, because it is
surrounded by one.  The zones are those in force on the as-of date: the
newest derivation on or before it (``geo.zone_derivations.derivation_as_of``).
"""

from __future__ import annotations

from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from sqlalchemy import select
from sqlalchemy.orm import Session

from geo.crs import STORAGE_CRS
from geo.zone_derivations import derivation_as_of
from heating.models import Village, ZoneDerivation

PREDICATES = ("intersects", "within")


def _check_crs(name: str, frame: gpd.GeoDataFrame) -> None:
    if frame.crs is None or CRS.from_user_input(frame.crs) != CRS.from_user_input(STORAGE_CRS):
        raise ValueError(f"'{name}' should be in {STORAGE_CRS}, got {frame.crs}")


def locate(
    points: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame,
    enclaves: gpd.GeoDataFrame | None = None,
    *,
    predicate: str = "intersects",
) -> gpd.GeoDataFrame:
    """Say for each point which zone it lies in and whether it lies in an enclave.

    Parameters
    ----------
    points : GeoDataFrame
        Points in EPSG:4490 (None or empty where a location is unknown: such
        a point is in no zone and no enclave).
    zones : GeoDataFrame
        The zone parts, with a ``zone_id`` column, in EPSG:4490.
    enclaves : GeoDataFrame, optional
        The enclave villages, with a ``code`` column, in EPSG:4490.
    predicate : {"intersects", "within"}, default "intersects"
        How a point is inside a zone: ``intersects`` counts a point on the
        edge as inside, ``within`` does not.

    Returns
    -------
    GeoDataFrame
        A copy of ``points`` with ``zone_id`` (str or None), ``in_zone``
        (bool), ``enclave`` (village code or None) and ``in_enclave`` (bool;
        never true for a point inside a zone).

    Example
    -------
    >>> located = locate(boilers, zones, enclaves)
    >>> located.loc[located["in_zone"], "zone_id"].tolist()
    ['JMQ-0001']
    """
    if predicate not in PREDICATES:
        raise ValueError(f"predicate should be one of {PREDICATES}, got {predicate!r}")
    if "zone_id" not in zones:
        raise ValueError("'zones' should have a 'zone_id' column")
    _check_crs("points", points)
    _check_crs("zones", zones)
    if enclaves is not None:
        _check_crs("enclaves", enclaves)
        if "code" not in enclaves:
            raise ValueError("'enclaves' should have a 'code' column")
    geoms = points.geometry.to_numpy()
    n = len(geoms)
    zone_of = _first_hit(geoms, zones.geometry.to_numpy(), predicate)
    zone_ids = zones["zone_id"].to_numpy()
    located = points.copy()
    located["zone_id"] = _labels(zone_ids, zone_of, located.index)
    located["in_zone"] = zone_of >= 0
    enclave_of = (
        _first_hit(geoms, enclaves.geometry.to_numpy(), "intersects")
        if enclaves is not None and len(enclaves)
        else np.full(n, -1)
    )
    enclave_of[zone_of >= 0] = -1
    codes = enclaves["code"].to_numpy() if enclaves is not None else np.array([])
    located["enclave"] = _labels(codes, enclave_of, located.index)
    located["in_enclave"] = enclave_of >= 0
    return located


def _labels(names: np.ndarray, hits: np.ndarray, index: pd.Index) -> pd.Series:
    """The name of each hit, None (not NaN) where there is none."""
    return pd.Series([str(names[h]) if h >= 0 else None for h in hits], index=index, dtype=object)


def _first_hit(points: np.ndarray, polygons: np.ndarray, predicate: str) -> np.ndarray:
    """For each point, the index of the first polygon it meets by ``predicate`` (-1: none)."""
    hit = np.full(len(points), -1)
    if len(points) == 0 or len(polygons) == 0:
        return hit
    point_idx, polygon_idx = shapely.STRtree(polygons).query(points, predicate=predicate)
    order = np.lexsort((polygon_idx, point_idx))
    for p, g in zip(point_idx[order], polygon_idx[order], strict=True):
        if hit[p] < 0:
            hit[p] = g
    return hit


# --------------------------------------------------------------------------
# The stored zones in force on a date
# --------------------------------------------------------------------------


def zones_frame(derivation: ZoneDerivation | None) -> gpd.GeoDataFrame:
    """A stored derivation's zone parts (``zone_id``, geometry) in EPSG:4490."""
    zones = derivation.zones if derivation is not None else []
    return gpd.GeoDataFrame(
        {"zone_id": [z.zone_id for z in zones]},
        geometry=[shapely.from_wkb(z.geometry) for z in zones],
        crs=STORAGE_CRS,
    )


def enclaves_frame(session: Session, derivation: ZoneDerivation | None) -> gpd.GeoDataFrame:
    """The enclave villages of a stored derivation (``code``, boundary) in EPSG:4490."""
    codes = list((derivation.summary or {}).get("enclaves", [])) if derivation else []
    rows = (
        session.execute(
            select(Village.code, Village.geometry)
            .where(Village.code.in_(codes), Village.geometry.is_not(None))
            .order_by(Village.code)
        ).all()
        if codes
        else []
    )
    return gpd.GeoDataFrame(
        {"code": [code for code, _ in rows]},
        geometry=[shapely.from_wkb(blob) for _, blob in rows],
        crs=STORAGE_CRS,
    )


def points_frame(lons: list[float | None], lats: list[float | None]) -> gpd.GeoDataFrame:
    """Points from lon/lat lists (None where unknown) in EPSG:4490."""
    geoms = [
        shapely.Point(lon, lat) if lon is not None and lat is not None else None
        for lon, lat in zip(lons, lats, strict=True)
    ]
    return gpd.GeoDataFrame(geometry=gpd.GeoSeries(geoms, crs=STORAGE_CRS), crs=STORAGE_CRS)


def locate_as_of(
    session: Session, points: gpd.GeoDataFrame, day: date
) -> tuple[gpd.GeoDataFrame, ZoneDerivation | None]:
    """``locate`` against the zones in force on ``day``; also return that derivation."""
    derivation = derivation_as_of(session, day)
    return locate(points, zones_frame(derivation), enclaves_frame(session, derivation)), derivation
