"""Display geometry: lighter shapes for pictures, with neighbours kept neighbours.

Village boundaries form a *tessellation* (polygons that tile the district
without overlaps or gaps, sharing their borders; shapely and geopandas call
this a "coverage", a word this project keeps for clean ÷ required).  Drawing
them needs far fewer vertices than storing them, and the lighter shapes must
still tile: ``simplify`` uses ``GeoSeries.simplify_coverage`` (each shared
border simplified once, in metres, in the Gauss–Krüger zone of the data);
``dissolve`` unions villages into townships with
``GeoDataFrame.dissolve(method="coverage")``; ``label_points`` places a
name inside each polygon.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from shapely import GEOSException

from geo.crs import projected_crs_for_bounds
from geo.display_memo import DisplayMemo, shapes_digest

DEFAULT_TOLERANCE_M = 20.0
_SIMPLIFIED = DisplayMemo()  # the same boundaries simplify the same way (geo.display_memo)


def simplify(frame: gpd.GeoDataFrame, tolerance: float = DEFAULT_TOLERANCE_M) -> gpd.GeoDataFrame:
    """Simplify a tessellation so shared borders stay shared.

    Parameters
    ----------
    frame : GeoDataFrame
        Polygons tiling an area (neighbouring villages), in a geographic CRS.
    tolerance : float, default 20.0
        Metres, in the Gauss–Krüger zone of the frame's centre; roughly the
        square root of the triangle areas removed (Visvalingam–Whyatt).

    Returns
    -------
    GeoDataFrame
        A copy in the frame's CRS with simplified geometry.  Per-polygon
        simplification opens gaps and overlaps between neighbours
        (../shared/pitfalls.md measured 0.8–2.9 km² at 20 m); coverage
        simplification does not.  An input that is not a valid tessellation
        (overlapping polygons) falls back to per-polygon simplification.
        Results are memoised by the shapes' content (``geo.display_memo``).

    Example
    -------
    >>> small = simplify(villages, 20.0)  # doctest: +SKIP
    """
    if frame.empty or tolerance <= 0:
        return frame.copy()
    geoms = np.asarray(frame.geometry.values)
    key = shapes_digest(geoms, extra=("simplify", tolerance, str(frame.crs)))
    points = int(shapely.get_num_coordinates(geoms).sum())
    out = frame.copy()
    out["geometry"] = gpd.GeoSeries(
        _SIMPLIFIED.get(key, points, lambda: _simplified(frame, tolerance)),
        index=frame.index,
        crs=frame.crs,
    )
    return out


def _simplified(frame: gpd.GeoDataFrame, tolerance: float) -> np.ndarray:
    projected = frame.geometry.to_crs(projected_crs_for_bounds(frame.total_bounds))
    simplified = projected.simplify_coverage(tolerance)
    if not simplified.is_valid.all():
        simplified = projected.simplify(tolerance, preserve_topology=True)
    return np.asarray(simplified.to_crs(frame.crs).values)


def dissolve(frame: gpd.GeoDataFrame, by: str) -> gpd.GeoDataFrame:
    """Union the polygons of each group (villages → townships) of a tessellation.

    Parameters
    ----------
    frame : GeoDataFrame
        Polygons with a column ``by``.
    by : str
        The column whose values name the groups.

    Returns
    -------
    GeoDataFrame
        One row per group, columns ``by`` and ``geometry``, sorted by ``by``.
        ``method="coverage"`` is several times faster than a full union but
        refuses polygons that are not exactly noded; those groups are unioned
        in full instead.
    """
    parts = frame[[by, "geometry"]]
    try:
        out = parts.dissolve(by, method="coverage", sort=True)
        if not out.is_valid.all():
            raise GEOSException("coverage union gave an invalid polygon")
    except GEOSException:
        out = parts.assign(geometry=shapely.make_valid(np.asarray(parts.geometry.values)))
        out = out.dissolve(by, sort=True)
    return out.reset_index()


def label_points(frame: gpd.GeoDataFrame) -> np.ndarray:
    """A point inside each polygon (not the centroid, which may fall outside), as x, y rows."""
    if frame.empty:
        return np.empty((0, 2))
    return shapely.get_coordinates(shapely.point_on_surface(np.asarray(frame.geometry.values)))
