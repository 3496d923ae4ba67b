"""Export coal-ban zones as GeoJSON, GeoPackage or zipped Shapefile (EPSG:4490).

Every format carries ``zone_id``, ``village_count``, ``area_km2`` and the
member villages: a property list in GeoJSON, a second layer of village
polygons in GeoPackage; in the Shapefile zip, the zones' ``vil_names`` (村名（乡镇）,
cut to the 254 bytes a .dbf text field holds), a second Shapefile of the member
villages with their names and townships, and a CSV of the same list.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely
from sqlalchemy.orm import Session

from geo.crs import STORAGE_CRS
from geo.villages import villages_frame
from geo.zone_derivations import DerivationResult, derivation_result
from heating.errors import NotFound, Refused
from heating.formulas import formula_safe

FORMATS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG", ".zip": "Shapefile"}
DBF_TEXT_BYTES = 254
CRS_NOTE = (
    "坐标为 CGCS2000 经纬度（EPSG:4490），按 RFC 7946 以经度、纬度顺序给出；"
    "与 WGS84 相差在厘米级，可直接叠加天地图。"
)


@dataclass(frozen=True)
class ExportResult:
    """What was written: the file, its format and how many zones."""

    path: Path
    format: str
    zones: int
    derivation: int


def _village_rows(session: Session, result: DerivationResult) -> list[dict[str, Any]]:
    villages = villages_frame(session).set_index("code")
    rows = []
    for zone in result.zones:
        for code in zone.villages:
            known = code in villages.index
            rows.append(
                {
                    "zone_id": zone.zone_id,
                    "code": code,
                    "name": villages.at[code, "name"] if known else "",
                    "township_code": villages.at[code, "township_code"] if known else "",
                    "township_name": villages.at[code, "township_name"] if known else "",
                    "geometry": villages.at[code, "geometry"] if known else None,
                }
            )
    return rows


def _zones_frame(result: DerivationResult, names: dict[str, str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "zone_id": [z.zone_id for z in result.zones],
            "village_count": [len(z.villages) for z in result.zones],
            "area_km2": [round(z.area_km2, 6) for z in result.zones],
            "villages": [",".join(z.villages) for z in result.zones],
            "village_names": [",".join(names.get(c, "") for c in z.villages) for z in result.zones],
            "touching": [",".join(z.touching) for z in result.zones],
            "households": [z.households for z in result.zones],
            "as_of": [result.derivation.as_of.isoformat()] * len(result.zones),
        },
        geometry=gpd.GeoSeries([z.geometry for z in result.zones], crs=STORAGE_CRS),
        crs=STORAGE_CRS,
    )


def _write_geojson(
    target: Path, result: DerivationResult, zones: gpd.GeoDataFrame, rows: list[dict[str, Any]]
) -> None:
    """RFC 7946: lon/lat, counter-clockwise outer rings, no ``crs`` member (a note instead)."""
    by_zone: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_zone.setdefault(row["zone_id"], []).append(
            {k: row[k] for k in ("code", "name", "township_code", "township_name")}
        )
    frame = zones.drop(columns="as_of")
    frame["village_list"] = [by_zone.get(zone_id, []) for zone_id in frame["zone_id"]]
    frame["geometry"] = shapely.orient_polygons(frame.geometry.values, exterior_cw=False)
    collection = {
        "type": "FeatureCollection",
        "name": "禁煤区",
        "derivation": result.derivation.id,
        "as_of": result.derivation.as_of.isoformat(),
        "crs_note": CRS_NOTE,
        "features": frame.to_geo_dict(drop_id=True)["features"],
    }
    target.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")


def _write_gpkg(target: Path, zones: gpd.GeoDataFrame, rows: list[dict[str, Any]]) -> None:
    zones.to_file(target, layer="zones", driver="GPKG", engine="pyogrio")
    members = gpd.GeoDataFrame(rows, geometry="geometry", crs=STORAGE_CRS) if rows else None
    if members is not None:
        members.to_file(target, layer="zone_villages", driver="GPKG", engine="pyogrio", mode="a")


def _fit_dbf(text: str) -> str:
    """Cut a comma-joined list at a comma so it fits a .dbf text field (254 bytes)."""
    if len(text.encode("utf-8")) <= DBF_TEXT_BYTES:
        return text
    kept = ""
    for item in text.split(","):
        candidate = f"{kept},{item}" if kept else item
        if len((candidate + ",…").encode("utf-8")) > DBF_TEXT_BYTES:
            break
        kept = candidate
    return kept + ",…"


def _named(row: dict[str, Any]) -> str:
    """A village as the Shapefile lists it: 南街村委会（麟绛街道）."""
    if not row["name"]:
        return row["code"]
    return f"{row['name']}（{row['township_name']}）" if row["township_name"] else row["name"]


def _write_shapefile_zip(target: Path, zones: gpd.GeoDataFrame, rows: list[dict[str, Any]]) -> None:
    """zones.shp/.shx/.dbf/.prj/.cpg (UTF-8, so QGIS and ArcGIS read Chinese), the member
    villages as a second Shapefile ``zone_villages/zone_villages.shp`` (in a folder, so the
    zip still opens as the one layer ``zones``), and ``zone_villages.csv``.

    DBF field names are at most 10 characters: ``vil_count``, ``househlds``, ``vil_names``
    (村名（乡镇）, cut at a name to fit 254 bytes) on the zones; ``vil_code``, ``vil_name``,
    ``twp_code``, ``twp_name`` on the villages.
    """
    shp = zones.rename(columns={"village_count": "vil_count", "households": "househlds"})
    shp = shp.drop(columns=["village_names", "touching"])
    shp["villages"] = shp["villages"].map(_fit_dbf)
    by_zone: dict[str, list[str]] = {}
    for row in rows:
        by_zone.setdefault(row["zone_id"], []).append(_named(row))
    shp.insert(
        shp.columns.get_loc("villages") + 1,
        "vil_names",
        [_fit_dbf(",".join(by_zone.get(z, []))) for z in shp["zone_id"]],
    )
    members = gpd.GeoDataFrame(
        {
            "zone_id": [r["zone_id"] for r in rows],
            "vil_code": [r["code"] for r in rows],
            "vil_name": [r["name"] for r in rows],
            "twp_code": [r["township_code"] for r in rows],
            "twp_name": [r["township_name"] for r in rows],
        },
        geometry=gpd.GeoSeries([r["geometry"] for r in rows], crs=STORAGE_CRS),
        crs=STORAGE_CRS,
    )
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder) / "zones.shp"
        village_base = Path(folder) / "zone_villages" / "zone_villages.shp"
        village_base.parent.mkdir()
        for frame, path in ((shp, base), (members, village_base)):
            frame.to_file(path, driver="ESRI Shapefile", engine="pyogrio", encoding="UTF-8")
            cpg = path.with_suffix(".cpg")
            if not cpg.exists():
                cpg.write_text("UTF-8", encoding="ascii")
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(
            ["zone_id", "village_code", "village_name", "township_code", "township_name"]
        )
        for row in rows:
            writer.writerow(
                [
                    formula_safe(row[k]) if isinstance(row[k], str) else row[k]
                    for k in ("zone_id", "code", "name", "township_code", "township_name")
                ]
            )
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            for part in sorted(Path(folder).rglob("*")):
                if part.is_file():
                    archive.write(part, part.relative_to(folder).as_posix())
            # UTF-8 with BOM so Excel opens the Chinese names correctly.
            archive.writestr("zone_villages.csv", "\ufeff" + text.getvalue())


def export_zones(
    session: Session,
    path: str | Path,
    derivation_id: int | None = None,
    *,
    township_code: str | None = None,
    district_code: str | None = None,
) -> ExportResult:
    """Write the current (or a given) derivation's zones to a file in EPSG:4490.

    Parameters
    ----------
    session : Session
    path : str or Path
        ``.geojson`` (RFC 7946, lon/lat), ``.gpkg`` (layers ``zones`` and
        ``zone_villages``) or ``.zip`` (Shapefile with a UTF-8 .cpg and
        ``zone_villages.csv``).
    derivation_id : int, optional
        Which derivation; the current one by default.
    township_code : str, optional
        Only the zones holding at least one village of this township (a
        clerk's scope, the same rule as ``/api/zones.geojson``).
    district_code : str, optional
        Only the zones holding at least one village of this district.

    Returns
    -------
    ExportResult

    Raises
    ------
    Refused
        Unknown file type, or no derivation yet.
    """
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise Refused(
            f"不支持的导出格式 {path.suffix or '（无扩展名）'}：请用 .geojson、.gpkg 或 .zip（Shapefile）。"
        )
    result = derivation_result(session, derivation_id)
    if result is None:
        if derivation_id is not None:
            raise NotFound(f"没有第 {derivation_id} 次禁煤区推导。")
        raise Refused("还没有推导过禁煤区：请先运行 heating zones derive。")
    prefix = township_code or district_code
    if prefix:
        result = dataclasses.replace(
            result,
            zones=[z for z in result.zones if any(c.startswith(prefix) for c in z.villages)],
        )
    rows = _village_rows(session, result)
    names = {r["code"]: r["name"] for r in rows}
    # Write next to the target and rename, so a failed export never leaves half a file.
    fd, temp_name = tempfile.mkstemp(prefix=".zones-", suffix=path.suffix, dir=path.parent or ".")
    os.close(fd)
    temp = Path(temp_name)
    zones = _zones_frame(result, names)
    try:
        if kind == "GeoJSON":
            _write_geojson(temp, result, zones, rows)
        elif kind == "GPKG":
            temp.unlink()
            _write_gpkg(temp, zones, rows)
        else:
            _write_shapefile_zip(temp, zones, rows)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return ExportResult(
        path=path, format=kind, zones=len(result.zones), derivation=result.derivation.id
    )
