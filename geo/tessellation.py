"""Village boundaries as a tessellation: overlaps and gaps between neighbours.

Village boundaries should tile the district: no overlaps, no gaps, shared
borders.  Shapely and geopandas call such polygons a "coverage"; this
project keeps that word for clean ÷ required and says *tessellation*.
``tessellation_findings`` lists what breaks the tiling (areas in
Gauss–Krüger m²) for the boundary report — data-quality findings, never
silently fixed; ``stored_tessellation_validity`` tells zone derivation
whether the fast ``shapely.coverage_union_all`` applies, remembered per
boundary state in the ``meta`` table (the check costs more than the union:
benchmarks/zones.py, "derive again").
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely import GEOSException
from shapely.geometry import Polygon
from sqlalchemy.orm import Session

from geo.crs import STORAGE_CRS, projected_crs_for_bounds
from geo.repair import polygonal_part
from heating.db import get_meta
from heating.models import Meta

# Overlaps and gaps smaller than this (m²) are digitising slivers: counted, not listed.
SLIVER_M2 = 1.0


@dataclass
class TessellationFindings:
    """Overlaps and gaps between neighbouring villages (areas in m², projected CRS)."""

    projected_crs: str
    overlaps: list[dict[str, Any]] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)
    overlap_total_m2: float = 0.0
    gap_total_m2: float = 0.0
    slivers: int = 0  # overlaps/gaps under SLIVER_M2, counted but not listed
    is_valid: bool = True


def tessellation_findings(
    codes: list[str], geoms_4490: np.ndarray, *, sliver_m2: float = SLIVER_M2
) -> TessellationFindings:
    """Find overlaps between villages and gaps enclosed by them; areas in Gauss–Krüger m².

    Topology is computed on the stored lon/lat coordinates (projection would
    not change it) and only the overlaps and gaps found are projected to
    measure them.  A valid coverage (``shapely.coverage_is_valid``) has no
    overlaps, so only its holes are examined; otherwise every pair of
    intersecting villages is measured.  A gap is a hole in the union of all
    boundaries: a place no village claims (or a village missing from the file).
    """
    geoms = np.asarray(geoms_4490, dtype=object)
    crs = projected_crs_for_bounds(shapely.total_bounds(geoms))
    findings = TessellationFindings(projected_crs=crs)
    if len(geoms) == 0:
        return findings

    def area_m2(shapes: np.ndarray) -> np.ndarray:
        if len(shapes) == 0:
            return np.zeros(0)
        return gpd.GeoSeries(shapes, crs=STORAGE_CRS).to_crs(crs).area.to_numpy()

    findings.is_valid = bool(shapely.coverage_is_valid(geoms))
    if findings.is_valid:
        union = shapely.coverage_union_all(geoms)
    else:
        left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
        keep = left < right
        left, right = left[keep], right[keep]
        overlaps = shapely.intersection(geoms[left], geoms[right])
        polygonal = np.array([polygonal_part(g) is not None for g in overlaps], dtype=bool)
        left, right, overlaps = left[polygonal], right[polygonal], overlaps[polygonal]
        for i, j, area in zip(left, right, area_m2(overlaps), strict=True):
            if area <= 0:
                continue
            findings.overlap_total_m2 += float(area)
            if area < sliver_m2:
                findings.slivers += 1
            else:
                findings.overlaps.append(
                    {"villages": [codes[i], codes[j]], "area_m2": round(float(area), 1)}
                )
        union = shapely.union_all(geoms)
    holes = np.array(
        [
            Polygon(ring)
            for part in getattr(union, "geoms", [union])
            if isinstance(part, Polygon)
            for ring in part.interiors
        ],
        dtype=object,
    )
    if len(holes):
        hole_idx, village_idx = shapely.STRtree(geoms).query(
            holes, predicate="dwithin", distance=1e-6
        )
        neighbours: dict[int, list[str]] = defaultdict(list)
        for h, v in zip(hole_idx, village_idx, strict=True):
            neighbours[int(h)].append(codes[v])
        for h, area in enumerate(area_m2(holes)):
            findings.gap_total_m2 += float(area)
            if area < sliver_m2:
                findings.slivers += 1
                continue
            findings.gaps.append(
                {"area_m2": round(float(area), 1), "villages": sorted(neighbours[h])}
            )
    findings.overlaps.sort(key=lambda o: -o["area_m2"])
    findings.gaps.sort(key=lambda g: -g["area_m2"])
    return findings


# --------------------------------------------------------------------------
# Whether the stored boundaries form a valid tessellation (cached by content)
# --------------------------------------------------------------------------

# The Meta row holding "<digest>:valid|invalid" (its key predates the word tessellation).
TESSELLATION_META_KEY = "boundaries_coverage"


def boundaries_digest(codes: Collection[str], geoms: np.ndarray) -> str:
    """A SHA-256 of the villages that have a boundary: codes and coordinates.

    Villages without a boundary are left out, so a load that matched every
    bounded village and a derivation reading them back agree.
    """
    codes = np.asarray(list(codes), dtype=object).astype(str)
    geoms = np.asarray(geoms, dtype=object)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    codes, geoms = codes[present], geoms[present]
    order = np.argsort(codes, kind="stable")
    codes, geoms = codes[order], geoms[order]
    digest = hashlib.sha256("\n".join(codes).encode())
    digest.update(shapely.get_num_coordinates(geoms).astype(np.int64).tobytes())
    digest.update(shapely.get_coordinates(geoms).tobytes())
    return digest.hexdigest()


def known_tessellation_validity(session: Session, digest: str) -> bool | None:
    """The cached ``shapely.coverage_is_valid`` of the boundaries with this digest, if known."""
    value = get_meta(session, TESSELLATION_META_KEY)
    if not value or ":" not in value:
        return None
    stored, _, verdict = value.partition(":")
    return verdict == "valid" if stored == digest else None


def remember_tessellation_validity(session: Session, digest: str, valid: bool) -> None:
    """Cache whether the boundaries with this digest form a valid tessellation."""
    session.merge(
        Meta(key=TESSELLATION_META_KEY, value=f"{digest}:{'valid' if valid else 'invalid'}")
    )


def stored_tessellation_validity(session: Session, villages: gpd.GeoDataFrame) -> bool:
    """Whether all stored boundaries form a valid tessellation, computed once per boundary state."""
    geoms = villages.geometry.to_numpy()
    digest = boundaries_digest(villages["code"], geoms)
    known = known_tessellation_validity(session, digest)
    if known is None:
        present = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
        try:
            known = bool(shapely.coverage_is_valid(present)) if len(present) else True
        except GEOSException:
            known = False
        remember_tessellation_validity(session, digest, known)
    return known
