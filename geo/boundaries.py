"""Village boundaries: load a file (the one writer of village geometry).

A boundary file (GeoJSON, GeoPackage, zipped Shapefile — also one whose .dbf
is GBK without a .cpg) is read in whatever CRS it declares
(``geo.boundary_files``, in a limited child process: ``geo.boundary_reading``),
repaired
(``geo.repair``), matched to registry villages (``geo.boundary_matching``,
through the ledger's own village resolver), stored as WKB in EPSG:4490 and
audited here; neighbouring villages' overlaps and gaps are reported as
data-quality findings (``geo.tessellation``), never silently fixed.  The
villages are read back with ``geo.villages.villages_frame``.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely import GEOSException
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo.boundary_matching import (
    Match,
    as_code,
    cell_text,
    find_code_field,
    find_name_field,
    find_township_field,
    match_feature,
)
from geo.boundary_reading import BoundaryLimits, read_boundary_file_limited
from geo.crs import to_storage
from geo.repair import polygonal_part, repair_geometries
from geo.tessellation import (
    SLIVER_M2,
    TessellationFindings,
    boundaries_digest,
    remember_tessellation_validity,
    tessellation_findings,
)
from heating.db import analyze
from heating.errors import Refused
from heating.models import District, Township, Village, audit, utcnow
from imports.villages import VillageIndex

# At most this many overlaps / gaps are listed in a report (the totals cover all).
MAX_LISTED = 200


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
    findings: TessellationFindings | None = None

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
    limits: BoundaryLimits | None = None,
    user_id: int | None = None,
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
    user_id : int, optional
        Who loads it (the audit entry names them).

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
    read = read_boundary_file_limited(path, encoding=encoding, limits=limits)
    frame = read.frame
    village_ids = dict(session.execute(select(Village.code, Village.id)).all())
    if not village_ids:
        raise Refused("村庄名录为空：请先用 heating registry load 导入村庄名录，再加载村界。")

    code_col = _field(frame, code_field, "--code-field") or find_code_field(frame)
    name_col = _field(frame, name_field, "--name-field")
    codes = [as_code(v, 12) for v in frame[code_col]] if code_col else []
    every_code_known = code_col is not None and all(c in village_ids for c in codes)
    # Names are resolved only when some code is missing or unknown: the name index
    # costs more than the rest of the matching (1.1 s for 30,000 villages).
    index = None if every_code_known else VillageIndex.load(session, None)
    if name_col is None and index is not None:
        name_col = find_name_field(frame, index)
    township_col = (
        None
        if index is None
        else find_township_field(frame, index, {c for c in (code_col, name_col) if c})
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
        if geoms[i] is None:
            label = cell_text(value(name_col, i)) or cell_text(value(code_col, i))
            reason = "几何无效且修复后没有面" if repaired[i] else "没有面几何（空、点或线）"
            unmatched.append({"feature": i + 1, "name": label, "reason": reason})
            continue
        if index is None:
            found = Match(codes[i], "code")
        else:
            found = match_feature(
                index,
                code_value=value(code_col, i),
                name_value=value(name_col, i),
                township_value=value(township_col, i),
            )
        if found.code is None:
            label = cell_text(value(name_col, i)) or cell_text(value(code_col, i))
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
    codes = sorted(village_geoms)
    shapes = np.array([village_geoms[c] for c in codes], dtype=object)
    # The overlap and gap check (GEOS, which releases the GIL) runs beside the
    # database writes: on two cores the load takes the longer of the two, not the sum.
    with ThreadPoolExecutor(max_workers=1) as pool:
        checking = pool.submit(tessellation_findings, codes, shapes)
        write_boundaries(session, [village_ids[c] for c in codes], shapes, source[:255])
        missing = session.scalars(
            select(Village.code)
            .join(Township, Village.township_id == Township.id)
            .join(District, Township.district_id == District.id)
            .where(District.code.in_({c[:6] for c in codes}), Village.geometry.is_(None))
            .order_by(Village.code)
        ).all()
        bounded = session.scalar(select(func.count()).where(Village.geometry.is_not(None)))
        try:
            findings = checking.result()
        except GEOSException:
            findings = None  # quality findings are advice; a GEOS failure must not block the load
    if findings is not None and bounded == len(codes):
        # The file holds every stored boundary: its tessellation check serves zone derivation too.
        remember_tessellation_validity(session, boundaries_digest(codes, shapes), findings.is_valid)

    analyze(session, "villages")  # every village row grew by its boundary
    report = BoundaryReport(
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
    audit(
        session,
        "boundaries_load",
        user=user_id,
        target=source,
        detail={
            "crs": report.crs,
            "features": report.features,
            "matched": report.matched,
            "repaired": report.repaired,
        },
    )
    return report


def write_boundaries(session: Session, ids: list[int], shapes: np.ndarray, source: str) -> None:
    """Store boundaries (EPSG:4490) on villages by id, in one statement on PostgreSQL.

    The geometries go to WKB in one vectorised call; PostgreSQL updates every
    village from a binary COPY, SQLite with one ``executemany``:
    no ORM object or statement per village (30,000 villages: 1.2 s through
    the ORM's bulk update on SQLite, most of a 33 s load on PostgreSQL).
    """
    wkb = shapely.to_wkb(shapes).tolist()
    now = utcnow()
    if session.get_bind().dialect.name == "postgresql":
        # COPY the rows in binary into a temporary table, then one UPDATE … FROM it:
        # 1.8 s for 30,000 villages where an UPDATE from unnest() of two arrays took 6.3 s.
        cursor = session.connection().connection.dbapi_connection.cursor()
        cursor.execute("CREATE TEMPORARY TABLE boundary_rows (id integer, geometry bytea)")
        with cursor.copy("COPY boundary_rows (id, geometry) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "bytea"])
            for row in zip(ids, wkb, strict=True):
                copy.write_row(row)
        cursor.execute(
            "UPDATE villages SET geometry = b.geometry, boundary_source = %s, "
            "boundary_generated = false, updated_at = %s FROM boundary_rows AS b "
            "WHERE villages.id = b.id",
            (source, now),
        )
        cursor.execute("DROP TABLE boundary_rows")
        return
    # sqlite3's own executemany: the rows are two values each, and SQLAlchemy's
    # per-row parameter handling cost as much as SQLite's writing (0.5 of 1.7 s).
    stamp = Village.__table__.c.updated_at.type.bind_processor(session.get_bind().dialect)
    session.connection().exec_driver_sql(
        "UPDATE villages SET geometry = ?, boundary_source = ?, boundary_generated = 0, "
        "updated_at = ? WHERE id = ?",
        [(w, source, stamp(now) if stamp else now, i) for i, w in zip(ids, wkb, strict=True)],
    )
