"""Read a boundary file: GeoJSON, GeoPackage, Shapefile or zipped Shapefile, any declared CRS.

The GDAL side of a boundary load.  It runs in the child process of
``imports.isolation`` (``geo.boundary_reading`` sets the limits and imports
this module there; the fork server preloads it only where the process has
GDAL and geopandas loaded anyway, ``imports.isolation.PRELOAD_GEO``, so the
children of ``heating import`` never carry them): it picks the polygon layer, works out a Shapefile's text
encoding when no ``.cpg`` says it (GBK is common; ../shared/pitfalls.md), and
resolves the CRS (``geo.crs``).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pyogrio

from geo.boundary_matching import text_columns
from geo.crs import CrsReading, resolve_crs
from heating.errors import Refused


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


def pick_layer(path: Path) -> str | None:
    """The polygon layer with most features (villages outnumber townships)."""
    layers = pyogrio.list_layers(path)
    if len(layers) <= 1:
        return None
    polygonal = [name for name, kind in layers if kind and "Polygon" in str(kind)]
    candidates = polygonal or [name for name, _ in layers]
    return max(candidates, key=lambda n: pyogrio.read_info(path, layer=n)["features"])


def _detect_dbf_encoding(frame: gpd.GeoDataFrame) -> str:
    """Work out a .dbf's encoding from text read as ISO-8859-1 (GDAL's guess without .cpg).

    Latin-1 maps bytes one to one, so field names and values give back their
    original bytes.  UTF-8 is tried first (it rarely decodes by accident),
    then GB18030 (a superset of GBK) when the result contains Chinese.
    """
    texts = [str(c) for c in frame.columns if c != frame.geometry.name]
    for column in text_columns(frame):
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
        layer = pick_layer(path)
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
