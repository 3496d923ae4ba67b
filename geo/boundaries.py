"""Village boundaries: load a file, match features to villages, repair, report quality.

A boundary file (GeoJSON, GeoPackage, zipped Shapefile — also one whose .dbf
is GBK without a .cpg) is read in whatever CRS it declares, stored as WKB in
EPSG:4490, and matched to registry villages by a 12-digit code field when it
has one, else by township + village name.  Neighbouring villages' overlaps
and gaps are reported as data-quality findings (computed in Gauss–Krüger
metres), never silently fixed.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from shapely import GEOSException
from shapely.geometry import MultiPolygon, Polygon
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from geo.crs import STORAGE_CRS, CrsReading, projected_crs_for_bounds, resolve_crs, to_storage
from heating.db import get_meta
from heating.errors import Refused
from heating.households import normalise_text
from heating.models import District, Meta, Township, Village, utcnow
from imports.villages import township_base, village_base

# Overlaps and gaps smaller than this (m²) are digitising slivers: counted, not listed.
SLIVER_M2 = 1.0
# At most this many overlaps / gaps are listed in a report (the totals cover all).
MAX_LISTED = 200


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def normalise_village_name(name: Any) -> str:
    """The import's base name (imports.villages): NFKC, no spaces, no 村委会/社区/村… suffixes.

    "南街村委会", "南街村" and "南街" all become "南街".
    """
    return "" if _missing(name) else village_base(str(name))


def village_name_forms(name: Any) -> list[str]:
    """The full normalised name, then its base name: the keys a name is matched by.

    Registry names are indexed under both and a file's name is looked up
    full name first, so an exact name wins over a base-name coincidence.
    """
    if _missing(name):
        return []
    full = normalise_text(str(name))
    base = village_base(full)
    return [f for f in dict.fromkeys((full, base)) if f]


def normalise_township_name(name: Any) -> str:
    """The import's township base name (imports.villages): no 镇/乡/街道… suffix."""
    return "" if _missing(name) else township_base(str(name))


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------


@dataclass
class BoundaryFile:
    """A boundary file as read: features in their own CRS, and how we read them."""

    frame: gpd.GeoDataFrame
    crs: CrsReading
    encoding: str | None  # text encoding of a Shapefile's .dbf; None for other formats
    encoding_detected: bool  # True when no .cpg said it and we worked it out
    layer: str | None
    driver: str


def _has_cpg(path: Path) -> bool:
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as archive:
            return any(n.lower().endswith(".cpg") for n in archive.namelist())
    return path.with_suffix(".cpg").exists() or path.with_suffix(".CPG").exists()


def _pick_layer(path: Path) -> str | None:
    """The polygon layer with most features (villages outnumber townships)."""
    layers = pyogrio.list_layers(path)
    if len(layers) <= 1:
        return None
    polygonal = [name for name, kind in layers if kind and "Polygon" in str(kind)]
    candidates = polygonal or [name for name, _ in layers]
    return max(candidates, key=lambda n: pyogrio.read_info(path, layer=n)["features"])


def _text_columns(frame: pd.DataFrame) -> list[str]:
    return [
        c
        for c in frame.columns
        if c != frame.geometry.name
        and (frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c]))
    ]


def _detect_dbf_encoding(frame: gpd.GeoDataFrame) -> str:
    """Work out a .dbf's encoding from text read as ISO-8859-1 (GDAL's guess without .cpg).

    Latin-1 maps bytes one to one, so field names and values give back their
    original bytes.  UTF-8 is tried first (it rarely decodes by accident),
    then GB18030 (a superset of GBK) when the result contains Chinese.
    """
    texts = [str(c) for c in frame.columns if c != frame.geometry.name]
    for column in _text_columns(frame):
        texts.extend(v for v in frame[column] if isinstance(v, str))
    raw = [t.encode("latin-1") for t in texts if not t.isascii()]
    if not raw:
        return "ISO-8859-1"
    for encoding in ("utf-8", "gb18030"):
        try:
            decoded = [b.decode(encoding) for b in raw]
        except UnicodeDecodeError:
            continue
        if encoding == "utf-8" or any(_has_cjk(t) for t in decoded):
            return encoding.upper()
    return "ISO-8859-1"


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" for ch in text)


def read_boundary_file(path: str | Path, *, encoding: str | None = None) -> BoundaryFile:
    """Read a GeoJSON, GeoPackage, Shapefile or zipped Shapefile into a GeoDataFrame.

    Parameters
    ----------
    path : str or Path
        The file.  A ``.zip`` is read through GDAL's /vsizip/.
    encoding : str, optional
        Text encoding of a Shapefile's .dbf (e.g. ``"gbk"``); overrides any .cpg.
        Without it and without a .cpg, UTF-8 and GB18030 are tried.

    Returns
    -------
    BoundaryFile
        The features in the file's own CRS (declared or inferred) and how it was read.
    """
    path = Path(path)
    if not path.exists():
        raise Refused(f"找不到文件：{path}")
    name = path.name
    try:
        layer = _pick_layer(path)
        info = pyogrio.read_info(path, layer=layer, encoding=encoding)
        detect = (
            encoding is None
            and info["driver"] == "ESRI Shapefile"
            and (info.get("encoding") or "").upper() in ("ISO-8859-1", "LATIN1")
            and not _has_cpg(path)
        )
        frame = gpd.read_file(
            path, layer=layer, engine="pyogrio", encoding="latin1" if detect else encoding
        )
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise Refused(
            f"无法读取边界文件 {name}：{exc}。支持 GeoJSON（.geojson/.json）、"
            "GeoPackage（.gpkg）和压缩的 Shapefile（.zip，内含 .shp/.shx/.dbf/.prj）。"
        ) from None
    except (UnicodeDecodeError, LookupError) as exc:
        raise Refused(
            f"按编码 {encoding} 读取 {name} 的属性表失败（{exc}）：请换一个 --encoding，"
            "如 gbk 或 utf-8。"
        ) from None
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry is None:
        raise Refused(f"{name} 中没有几何图形：请上传含村界多边形的文件。")
    used = encoding.upper() if encoding else info.get("encoding")
    if detect:
        used = _detect_dbf_encoding(frame)
        if used != "ISO-8859-1":
            frame = gpd.read_file(path, layer=layer, engine="pyogrio", encoding=used)
    frame, crs = resolve_crs(frame, source=name)
    return BoundaryFile(
        frame=frame,
        crs=crs,
        encoding=used if info["driver"] == "ESRI Shapefile" else None,
        encoding_detected=detect,
        layer=layer or info.get("layer_name"),
        driver=info["driver"],
    )


# --------------------------------------------------------------------------
# Repair
# --------------------------------------------------------------------------


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
    out = np.array([polygonal_part(g) for g in out], dtype=object)
    return out, repaired


# --------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------


def _as_code(value: Any, digits: int) -> str | None:
    """A statistical code as text: "140405001201" from str, int or integral float."""
    if value is None:
        return None
    if isinstance(value, float | np.floating):
        if np.isnan(value) or value != int(value):
            return None
        value = int(value)
    text = str(value).strip()
    return text if len(text) == digits and text.isdigit() else None


def find_code_field(frame: pd.DataFrame, digits: int = 12, share: float = 0.8) -> str | None:
    """The column whose non-empty values are mostly ``digits``-digit codes, if any."""
    best, best_share = None, 0.0
    for column in frame.columns:
        if column == frame.geometry.name:
            continue
        values = frame[column].dropna()
        if values.empty:
            continue
        hits = sum(_as_code(v, digits) is not None for v in values) / len(values)
        if hits >= share and hits > best_share:
            best, best_share = column, hits
    return best


@dataclass
class Registry:
    """The villages a file may match: by code, by (township, name) and by name."""

    by_code: dict[str, tuple[int, str]]  # code → (id, name)
    by_township_name: dict[tuple[str, str], list[str]]  # (township code, norm name) → codes
    by_name: dict[str, list[str]]  # norm name → codes
    townships: dict[str, str]  # norm township name or code → township code

    @classmethod
    def load(cls, session: Session) -> Registry:
        rows = session.execute(
            select(Village.id, Village.code, Village.name, Township.code, Township.name).join(
                Township, Village.township_id == Township.id
            )
        ).all()
        by_code, by_tn, by_name, townships = {}, defaultdict(list), defaultdict(list), {}
        for vid, code, name, tcode, tname in rows:
            by_code[code] = (vid, name)
            for form in village_name_forms(name):
                by_tn[(tcode, form)].append(code)
                by_name[form].append(code)
            townships[tcode] = tcode
            townships[normalise_township_name(tname)] = tcode
        return cls(by_code, dict(by_tn), dict(by_name), townships)

    def township_of(self, value: Any) -> str | None:
        code = _as_code(value, 9)
        if code:
            return code if code in self.townships else None
        return self.townships.get(normalise_township_name(value))


def find_name_field(frame: pd.DataFrame, registry: Registry) -> str | None:
    """The text column whose values match the most registry village names."""
    best, best_hits = None, 0
    for column in _text_columns(frame):
        hits = sum(
            any(f in registry.by_name for f in village_name_forms(v))
            for v in frame[column].dropna()
        )
        if hits > best_hits:
            best, best_hits = column, hits
    return best


def find_township_field(frame: pd.DataFrame, registry: Registry, exclude: set[str]) -> str | None:
    """The column whose values mostly name or code a registry township, if any."""
    best, best_share = None, 0.0
    for column in frame.columns:
        if column == frame.geometry.name or column in exclude:
            continue
        values = frame[column].dropna()
        if values.empty:
            continue
        hits = sum(registry.township_of(v) is not None for v in values) / len(values)
        if hits >= 0.8 and hits > best_share:
            best, best_share = column, hits
    return best


@dataclass
class Match:
    """The village code a feature matched (or why it matched none) and by what."""

    code: str | None
    by: str | None  # "code" / "name"
    reason: str | None = None


def match_feature(
    registry: Registry,
    *,
    code_value: Any,
    name_value: Any,
    township_value: Any,
) -> Match:
    """Match one feature: its 12-digit code, else its township + name, else its unique name."""
    code = _as_code(code_value, 12)
    if code and code in registry.by_code:
        return Match(code, "code")
    forms = village_name_forms(name_value)
    if not forms:
        reason = f"村代码 {code} 不在村庄名录中" if code else "没有村代码，也没有村名"
        return Match(None, None, reason)
    township = registry.township_of(township_value) if township_value is not None else None
    if township is None and code:
        township = code[:9] if code[:9] in registry.townships else None
    if township:
        found = [registry.by_township_name.get((township, f), []) for f in forms]
        where = f"乡镇 {township} 中"
    else:
        found = [registry.by_name.get(f, []) for f in forms]
        where = "村庄名录中"
    codes = next((c for c in found if c), [])
    if len(codes) == 1:
        return Match(codes[0], "name")
    if len(codes) > 1:
        return Match(None, None, f"{where}有 {len(codes)} 个村叫“{name_value}”，请提供村代码字段")
    return Match(None, None, f"{where}没有名为“{name_value}”的村")


# --------------------------------------------------------------------------
# Quality: overlaps and gaps between neighbours
# --------------------------------------------------------------------------


@dataclass
class CoverageFindings:
    """Overlaps and gaps between neighbouring villages (areas in m², projected CRS)."""

    projected_crs: str
    overlaps: list[dict[str, Any]] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)
    overlap_total_m2: float = 0.0
    gap_total_m2: float = 0.0
    slivers: int = 0  # overlaps/gaps under SLIVER_M2, counted but not listed
    valid_coverage: bool = True


def coverage_findings(
    codes: list[str], geoms_4490: np.ndarray, *, sliver_m2: float = SLIVER_M2
) -> CoverageFindings:
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
    findings = CoverageFindings(projected_crs=crs)
    if len(geoms) == 0:
        return findings

    def area_m2(shapes: np.ndarray) -> np.ndarray:
        if len(shapes) == 0:
            return np.zeros(0)
        return gpd.GeoSeries(shapes, crs=STORAGE_CRS).to_crs(crs).area.to_numpy()

    findings.valid_coverage = bool(shapely.coverage_is_valid(geoms))
    if findings.valid_coverage:
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
# Whether the stored boundaries form a valid coverage (cached by content)
# --------------------------------------------------------------------------

COVERAGE_META_KEY = "boundaries_coverage"


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


def known_coverage_validity(session: Session, digest: str) -> bool | None:
    """The cached ``coverage_is_valid`` of the boundaries with this digest, if known."""
    value = get_meta(session, COVERAGE_META_KEY)
    if not value or ":" not in value:
        return None
    stored, _, verdict = value.partition(":")
    return verdict == "valid" if stored == digest else None


def remember_coverage_validity(session: Session, digest: str, valid: bool) -> None:
    """Cache whether the boundaries with this digest form a valid coverage."""
    session.merge(Meta(key=COVERAGE_META_KEY, value=f"{digest}:{'valid' if valid else 'invalid'}"))


def stored_coverage_validity(session: Session, villages: gpd.GeoDataFrame) -> bool:
    """Whether all stored boundaries form a valid coverage, computed once per boundary state."""
    geoms = villages.geometry.to_numpy()
    digest = boundaries_digest(villages["code"], geoms)
    known = known_coverage_validity(session, digest)
    if known is None:
        present = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
        try:
            known = bool(shapely.coverage_is_valid(present)) if len(present) else True
        except GEOSException:
            known = False
        remember_coverage_validity(session, digest, known)
    return known


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------


@dataclass
class BoundaryReport:
    """What a boundary load did (interfaces.md's keys first, then the findings)."""

    crs: str
    crs_read: str  # a Chinese sentence: which CRS and whether it was inferred
    features: int
    matched: int
    unmatched_boundaries: list[dict[str, Any]]
    villages_without_boundary: list[str]
    repaired: int
    source: str
    encoding: str | None = None
    code_field: str | None = None
    name_field: str | None = None
    township_field: str | None = None
    matched_by_code: int = 0
    matched_by_name: int = 0
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    findings: CoverageFindings | None = None

    def as_json(self) -> dict[str, Any]:
        f = self.findings
        return {
            "crs": self.crs,
            "features": self.features,
            "matched": self.matched,
            "unmatched_boundaries": self.unmatched_boundaries,
            "villages_without_boundary": self.villages_without_boundary,
            "repaired": self.repaired,
            "crs_read": self.crs_read,
            "source": self.source,
            "encoding": self.encoding,
            "code_field": self.code_field,
            "name_field": self.name_field,
            "township_field": self.township_field,
            "matched_by_code": self.matched_by_code,
            "matched_by_name": self.matched_by_name,
            "duplicates": self.duplicates,
            "overlaps": f.overlaps[:MAX_LISTED] if f else [],
            "gaps": f.gaps[:MAX_LISTED] if f else [],
            "overlap_total_km2": round(f.overlap_total_m2 / 1e6, 6) if f else 0.0,
            "gap_total_km2": round(f.gap_total_m2 / 1e6, 6) if f else 0.0,
            "slivers": f.slivers if f else 0,
            "sliver_tolerance_m2": SLIVER_M2,
            "projected_crs": f.projected_crs if f else None,
        }


def _field(frame: pd.DataFrame, name: str | None, option: str) -> str | None:
    if name is None:
        return None
    if name in frame.columns:
        return name
    lowered = {str(c).lower(): c for c in frame.columns if c != frame.geometry.name}
    if name.lower() in lowered:
        return lowered[name.lower()]
    raise Refused(f"文件中没有字段 {name}（{option}）。文件中的字段：{_field_list(frame)}。")


def _field_list(frame: pd.DataFrame) -> str:
    names = [str(c) for c in frame.columns if c != frame.geometry.name]
    return "、".join(names) if names else "（无属性字段）"


def load_boundaries(
    session: Session,
    path: str | Path,
    *,
    code_field: str | None = None,
    name_field: str | None = None,
    encoding: str | None = None,
    source_name: str | None = None,
    limits: Any = None,
) -> BoundaryReport:
    """Load village boundaries from a file, matching features to registry villages.

    Parameters
    ----------
    session : Session
        The unit of work; nothing is written unless it commits, so a reload
        replaces boundaries atomically.
    path : str or Path
        GeoJSON, GeoPackage, Shapefile or zipped Shapefile.
    code_field, name_field : str, optional
        The 12-digit village code / village name column; found by content when omitted.
    encoding : str, optional
        The .dbf text encoding (e.g. ``"gbk"``); detected when there is no .cpg.
    source_name : str, optional
        Stored as each village's ``boundary_source`` (default: the file name).
    limits : geo.boundary_reading.BoundaryLimits, optional
        Size, features, memory and time allowed for reading the file (default:
        the configured settings); the file is read in a child process.

    Returns
    -------
    BoundaryReport
        Matched villages are updated; villages the file does not match keep
        what they had.  ``villages_without_boundary`` lists villages of the
        districts the file touches that still have no boundary.

    Raises
    ------
    Refused
        Unreadable, too large or too many features, unknown CRS, unknown field, or no
        feature matching any village.
    """
    path = Path(path)
    source = source_name or path.name
    from geo.boundary_reading import read_boundary_file_limited

    read = read_boundary_file_limited(path, encoding=encoding, limits=limits)
    frame = read.frame
    registry = Registry.load(session)
    if not registry.by_code:
        raise Refused("村庄名录为空：请先用 heating registry load 导入村庄名录，再加载村界。")

    code_col = _field(frame, code_field, "--code-field") or find_code_field(frame)
    name_col = _field(frame, name_field, "--name-field")
    every_code_known = code_col is not None and all(
        _as_code(v, 12) in registry.by_code for v in frame[code_col]
    )
    if name_col is None and not every_code_known:
        name_col = find_name_field(frame, registry)
    township_col = (
        None
        if every_code_known
        else find_township_field(frame, registry, {c for c in (code_col, name_col) if c})
    )

    stored = to_storage(frame)
    geoms, repaired = repair_geometries(stored.geometry.to_numpy())
    columns = {c: frame[c].to_numpy() for c in (code_col, name_col, township_col) if c}

    def value(column: str | None, i: int) -> Any:
        return columns[column][i] if column else None

    by_village: dict[str, list[int]] = defaultdict(list)
    unmatched: list[dict[str, Any]] = []
    counts = {"code": 0, "name": 0}
    for i in range(len(frame)):
        label = value(name_col, i) or value(code_col, i)
        label = (
            None if label is None or (isinstance(label, float) and np.isnan(label)) else str(label)
        )
        if geoms[i] is None:
            reason = "几何无效且修复后没有面" if repaired[i] else "没有面几何（空、点或线）"
            unmatched.append({"feature": i + 1, "name": label, "reason": reason})
            continue
        found = match_feature(
            registry,
            code_value=value(code_col, i),
            name_value=value(name_col, i),
            township_value=value(township_col, i),
        )
        if found.code is None:
            unmatched.append({"feature": i + 1, "name": label, "reason": found.reason})
            continue
        counts[found.by] += 1
        by_village[found.code].append(i)

    if not by_village:
        raise Refused(
            f"{source} 中的 {len(frame)} 个要素没有一个能与村庄名录匹配（{read.crs.describe()}）。"
            f"文件中的字段：{_field_list(frame)}。"
            "请用 --code-field 指定 12 位村代码（统计用区划代码）字段，"
            "或用 --name-field 指定村名字段；名称按乡镇 + 村名匹配（去掉“村委会”“居委会”“社区”等后缀）。"
        )

    duplicates = []
    village_geoms: dict[str, Any] = {}
    for code, features in by_village.items():
        if len(features) > 1:
            duplicates.append({"village": code, "features": [i + 1 for i in features]})
            village_geoms[code] = polygonal_part(shapely.union_all(geoms[features]))
        else:
            village_geoms[code] = geoms[features[0]]

    now = utcnow()
    session.execute(
        update(Village),
        [
            {
                "id": registry.by_code[code][0],
                "geometry": shapely.to_wkb(geom),
                "boundary_source": source[:255],
                "boundary_generated": False,
                "updated_at": now,
            }
            for code, geom in village_geoms.items()
        ],
    )
    districts = {code[:6] for code in village_geoms}
    missing = session.scalars(
        select(Village.code)
        .join(Township, Village.township_id == Township.id)
        .join(District, Township.district_id == District.id)
        .where(District.code.in_(districts), Village.geometry.is_(None))
        .order_by(Village.code)
    ).all()

    codes = sorted(village_geoms)
    try:
        findings = coverage_findings(
            codes, np.array([village_geoms[c] for c in codes], dtype=object)
        )
    except GEOSException:
        findings = None  # quality findings are advice; a GEOS failure must not block the load
    bounded = session.scalar(select(func.count()).where(Village.geometry.is_not(None)))
    if findings is not None and bounded == len(codes):
        # The file holds every stored boundary: its coverage check serves zone derivation too.
        remember_coverage_validity(
            session,
            boundaries_digest(codes, np.array([village_geoms[c] for c in codes], dtype=object)),
            findings.valid_coverage,
        )

    return BoundaryReport(
        crs=read.crs.crs,
        crs_read=read.crs.describe(),
        features=len(frame),
        matched=len(village_geoms),
        unmatched_boundaries=unmatched,
        villages_without_boundary=list(missing),
        repaired=int(repaired.sum()),
        source=source,
        encoding=read.encoding,
        code_field=code_col,
        name_field=name_col,
        township_field=township_col,
        matched_by_code=counts["code"],
        matched_by_name=counts["name"],
        duplicates=duplicates,
        findings=findings,
    )


# --------------------------------------------------------------------------
# Reading villages back
# --------------------------------------------------------------------------


def villages_frame(
    session: Session,
    township_code: str | None = None,
    district_code: str | None = None,
    *,
    boundaries_only: bool = False,
) -> gpd.GeoDataFrame:
    """Villages as a GeoDataFrame in EPSG:4490, for maps, zones and reports.

    Parameters
    ----------
    session : Session
    township_code, district_code : str, optional
        Restrict to one township (9 digits) or district (6 digits).
    boundaries_only : bool, default False
        Drop villages without a boundary (their geometry is None otherwise).

    Returns
    -------
    GeoDataFrame
        Columns ``code, name, township_code, township_name, district_code,
        category, total_households, boundary_generated, geometry``, ordered by code.
    """
    query = (
        select(
            Village.code,
            Village.name,
            Township.code,
            Township.name,
            District.code,
            Village.category,
            Village.total_households,
            Village.boundary_generated,
            Village.geometry,
        )
        .join(Township, Village.township_id == Township.id)
        .join(District, Township.district_id == District.id)
        .order_by(Village.code)
    )
    if township_code:
        query = query.where(Township.code == township_code)
    if district_code:
        query = query.where(District.code == district_code)
    if boundaries_only:
        query = query.where(Village.geometry.is_not(None))
    rows = session.execute(query).all()
    columns = [
        "code",
        "name",
        "township_code",
        "township_name",
        "district_code",
        "category",
        "total_households",
    ]
    data = pd.DataFrame([r[:7] for r in rows], columns=columns)
    data["total_households"] = data["total_households"].astype("Int64")
    data["boundary_generated"] = pd.Series([bool(r[7]) for r in rows], dtype=bool)
    wkb = np.array([r[8] for r in rows], dtype=object)
    geometry = shapely.from_wkb(wkb) if len(wkb) else np.array([], dtype=object)
    return gpd.GeoDataFrame(
        data, geometry=gpd.GeoSeries(geometry, crs=STORAGE_CRS), crs=STORAGE_CRS
    )
