"""Coordinate reference systems: what we store, how we measure, what a file was read in.

Storage is EPSG:4490 (CGCS2000 geographic), what Chinese government GIS
uses.  Areas and distances are computed in the CGCS2000 3-degree
Gauss–Krüger zone whose central meridian is nearest the data (EPSG:4534 for
75°E … EPSG:4554 for 135°E), never in degrees and never in Web Mercator
(which overstates area by ~60% at Shanxi's latitude).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from heating.errors import Refused

STORAGE_CRS = "EPSG:4490"

# CGCS2000 / 3-degree Gauss-Kruger CM 75E = EPSG:4534 … CM 135E = EPSG:4554.
_GK_CM_FIRST, _GK_CM_LAST, _GK_EPSG_FIRST = 75, 135, 4534
# The same zones with the zone number prefixed to the easting (zone 25 = EPSG:4513).
_GK_ZONE_FIRST, _GK_ZONE_LAST, _GK_ZONE_EPSG_FIRST = 25, 45, 4513


def projected_crs_for(lon: float) -> str:
    """Return the CGCS2000 3-degree Gauss–Krüger CRS (``"EPSG:45xx"``) for a longitude.

    Parameters
    ----------
    lon : float
        Longitude in degrees east (China spans about 73°E–135°E).

    Returns
    -------
    str
        e.g. ``"EPSG:4547"`` (central meridian 114°E) for 112.9°E.

    Example
    -------
    >>> projected_crs_for(112.9)
    'EPSG:4547'
    """
    if not np.isfinite(lon) or not (_GK_CM_FIRST - 1.5 <= lon <= _GK_CM_LAST + 1.5):
        raise Refused(
            f"经度 {lon} 不在中国范围（73.5°E–136.5°E）内，无法选择高斯–克吕格投影带："
            "请检查坐标是否为经纬度，或文件的坐标系是否正确。"
        )
    cm = 3 * int(np.floor(lon / 3 + 0.5))
    cm = min(max(cm, _GK_CM_FIRST), _GK_CM_LAST)
    return f"EPSG:{_GK_EPSG_FIRST + (cm - _GK_CM_FIRST) // 3}"


def projected_crs_for_bounds(bounds: tuple[float, float, float, float] | np.ndarray) -> str:
    """The Gauss–Krüger CRS for the centre of lon/lat bounds (minx, miny, maxx, maxy)."""
    minx, _, maxx, _ = (float(b) for b in bounds)
    return projected_crs_for((minx + maxx) / 2)


def crs_label(crs: CRS | None) -> str:
    """``"EPSG:4547"`` where an EPSG code is known, else the CRS name."""
    if crs is None:
        return "未知"
    auth = crs.to_authority(min_confidence=70)
    if auth:
        return f"{auth[0]}:{auth[1]}"
    return crs.name


@dataclass(frozen=True)
class CrsReading:
    """How a file's coordinates were interpreted: the CRS and how we know it."""

    crs: str  # "EPSG:4547", or a name when no code is known
    name: str  # the CRS's own name, e.g. "CGCS2000 / 3-degree Gauss-Kruger CM 114E"
    inferred: bool  # True when the file declared no CRS and we inferred one

    def describe(self) -> str:
        """A Chinese sentence saying which CRS the file was read in."""
        how = "文件未声明坐标系，按坐标范围推断为" if self.inferred else "文件坐标系为"
        return f"{how} {self.crs}（{self.name}）"


def resolve_crs(frame: gpd.GeoDataFrame, *, source: str) -> tuple[gpd.GeoDataFrame, CrsReading]:
    """Give ``frame`` a CRS (declared or inferred) and say which one it is.

    A declared CRS is trusted (geographic 4490/4326, any projected CRS such as
    Gauss–Krüger EPSG:4547).  Without one, lon/lat is inferred when every
    coordinate fits China's lon/lat range, and a zone-prefixed Gauss–Krüger
    easting (e.g. 38 500 000) gives its zone; anything else is refused, since
    guessing a projection would silently misplace every village.
    """
    if frame.crs is not None:
        crs = CRS.from_user_input(frame.crs)
        return frame, CrsReading(crs_label(crs), crs.name, inferred=False)
    if frame.empty or frame.geometry.is_empty.all():
        raise Refused(f"{source} 中没有任何几何图形，无法判断坐标系。")
    minx, miny, maxx, maxy = frame.total_bounds
    if 70 <= minx <= maxx <= 140 and 0 <= miny <= maxy <= 60:
        return frame.set_crs(STORAGE_CRS), CrsReading(
            STORAGE_CRS, CRS.from_user_input(STORAGE_CRS).name, inferred=True
        )
    zone_lo, zone_hi = int(minx // 1_000_000), int(maxx // 1_000_000)
    if zone_lo == zone_hi and _GK_ZONE_FIRST <= zone_lo <= _GK_ZONE_LAST and 0 < miny < 6_000_000:
        code = f"EPSG:{_GK_ZONE_EPSG_FIRST + zone_lo - _GK_ZONE_FIRST}"
        return frame.set_crs(code), CrsReading(code, CRS.from_user_input(code).name, inferred=True)
    raise Refused(
        f"{source} 没有声明坐标系（Shapefile 缺少 .prj？），坐标范围 "
        f"x {minx:.3f}–{maxx:.3f}、y {miny:.3f}–{maxy:.3f} 既不像经纬度，"
        "也不像带带号的高斯–克吕格坐标。请在文件中补上坐标系"
        "（如 CGCS2000 经纬度 EPSG:4490，或 3 度带 EPSG:4547）后重新上传。"
    )


def to_storage(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Reproject to EPSG:4490 (a no-op for 4326 in PROJ; lon/lat order kept)."""
    if CRS.from_user_input(frame.crs) == CRS.from_user_input(STORAGE_CRS):
        return frame
    return frame.to_crs(STORAGE_CRS)


def areas_km2(geoms: gpd.GeoSeries | np.ndarray) -> np.ndarray:
    """Areas in km² of EPSG:4490 geometries, each in the Gauss–Krüger zone of its centre.

    Grouping by zone keeps a province-wide installation accurate: a single
    central meridian would distort villages several degrees away.  Missing
    or empty geometries have area 0.
    """
    values = np.asarray(geoms, dtype=object)
    out = np.zeros(len(values), dtype=float)
    present = ~(shapely.is_missing(values) | shapely.is_empty(values))
    if not present.any():
        return out
    bounds = shapely.bounds(values[present])
    zones = np.array([projected_crs_for(x) for x in (bounds[:, 0] + bounds[:, 2]) / 2])
    index = np.flatnonzero(present)
    for code in np.unique(zones):
        chosen = index[zones == code]
        projected = gpd.GeoSeries(values[chosen], crs=STORAGE_CRS).to_crs(str(code))
        out[chosen] = projected.area.to_numpy() / 1e6
    return out
