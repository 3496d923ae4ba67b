"""Repair boundary geometries: every feature a valid (multi)polygon or nothing.

Files from the field hold bow-ties, self-touching rings, Z values and
geometry collections; the load repairs them (and counts the repairs in its
report) before matching, and zone derivation keeps only polygonal parts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

POLYGON, MULTIPOLYGON = 3, 6  # shapely.get_type_id


def polygonal_part(geom: Any) -> Polygon | MultiPolygon | None:
    """The polygons of a geometry (a collection's points and lines dropped); None if none."""
    if geom is None or geom.is_empty:
        return None
    if isinstance(geom, Polygon | MultiPolygon):
        return geom
    parts = [
        p
        for g in getattr(geom, "geoms", [geom])
        for p in (g.geoms if isinstance(g, MultiPolygon) else [g])
        if isinstance(p, Polygon) and not p.is_empty
    ]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def repair_geometries(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Make every geometry a valid (multi)polygon; return (geometries, repaired mask).

    Invalid rings (a bow-tie, a self-touching ring) go through
    ``shapely.make_valid`` and keep only the polygonal part; Z values are
    dropped.  A geometry with no polygonal part becomes None.
    """
    geoms = np.asarray(geoms, dtype=object)
    if shapely.has_z(geoms).any():
        geoms = shapely.force_2d(geoms)
    valid = shapely.is_valid(geoms)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    repaired = present & ~valid
    out = geoms.copy()
    if repaired.any():
        out[repaired] = shapely.make_valid(geoms[repaired])
    # Most features are already (multi)polygons: only the others are taken apart.
    keep = np.isin(shapely.get_type_id(out), (POLYGON, MULTIPOLYGON)) & ~shapely.is_empty(out)
    result = np.empty(len(out), dtype=object)
    result[keep] = out[keep]
    for i in np.flatnonzero(~keep):
        result[i] = polygonal_part(out[i])
    return result, repaired
