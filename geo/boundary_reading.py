"""Read an uploaded boundary file within limits: size, features, memory and time.

A boundaries zip is as untrusted as a ledger: 5 MB of zipped Shapefile held
a million features and took 27 s and 1.3 GB in the request thread.  Here:

- the file's size (``upload_max_mb``) and, for a zip, its uncompressed size
  (``import_max_unzipped_mb``) are checked before GDAL opens it;
- ``geo.boundary_files.read_boundary_file`` runs in the child process of
  ``imports.isolation`` (``import_max_memory_mb``, ``import_max_seconds``),
  after the feature count (``boundaries_max_features``) is checked there;
- the child hands back plain data — attribute columns as lists, geometries
  as WKB, the CRS as WKT — that the parent rebuilds into the same
  ``BoundaryFile``; no pandas or GDAL object crosses the boundary.

GDAL, pandas and geopandas are preloaded by the fork server only where the
process has them loaded anyway (the web app, ``heating boundaries load``, the
tests; see ``imports.isolation.PRELOAD_GEO``): there a boundary file's child
starts at once; elsewhere it imports them itself (about a second), so that
``heating import`` children do not carry their address space.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heating.errors import Refused
from imports.isolation import ChildLimits, run_isolated

MB = 1024 * 1024


@dataclass(frozen=True)
class BoundaryLimits:
    """How large a boundary file may be, how many features, and what its reading may use."""

    max_mb: int
    max_unzipped_mb: int
    max_features: int
    child: ChildLimits

    @classmethod
    def from_config(cls, config: Any) -> BoundaryLimits:
        return cls(
            config.upload_max_mb,
            config.import_max_unzipped_mb,
            config.boundaries_max_features,
            ChildLimits.from_config(config),
        )


def read_boundary_file_limited(
    path: str | Path, *, encoding: str | None = None, limits: BoundaryLimits | None = None
) -> Any:
    """``geo.boundary_files.read_boundary_file`` in a limited child; returns its ``BoundaryFile``.

    Parameters
    ----------
    path : str or Path
        GeoJSON, GeoPackage, Shapefile or zipped Shapefile.
    encoding : str, optional
        The .dbf text encoding; detected when there is no .cpg.
    limits : BoundaryLimits, optional
        Defaults to the configured settings.

    Raises
    ------
    Refused
        Too large, too many features, unreadable, or what the child ran into.
    """
    import geopandas as gpd
    import pandas as pd

    from geo.boundary_files import BoundaryFile
    from geo.crs import CrsReading

    if limits is None:
        from heating.config import load_config

        limits = BoundaryLimits.from_config(load_config())
    path = Path(path)
    if not path.exists():
        raise Refused(f"找不到文件：{path}")
    _check_size(path, limits)
    plain = run_isolated(
        read_plain,
        str(path),
        encoding,
        limits.max_features,
        limits=limits.child,
        file_name=path.name,
    )
    geometry = gpd.GeoSeries.from_wkb(plain["wkb"], crs=plain["crs"])
    frame = pd.DataFrame(plain["columns"], index=range(len(plain["wkb"])))
    frame[plain["geometry_name"]] = geometry
    frame = gpd.GeoDataFrame(frame, geometry=plain["geometry_name"], crs=plain["crs"])
    return BoundaryFile(
        frame=frame,
        crs=CrsReading(*plain["crs_reading"]),
        encoding=plain["encoding"],
        encoding_detected=plain["encoding_detected"],
        layer=plain["layer"],
        driver=plain["driver"],
    )


def _check_size(path: Path, limits: BoundaryLimits) -> None:
    size = path.stat().st_size
    if size > limits.max_mb * MB:
        raise Refused(
            f"边界文件“{path.name}”大小 {size / MB:.1f} MB，超过上限 {limits.max_mb} MB"
            "（设置 upload_max_mb）。请只保留村界图层，或按区县拆分后再上传。"
        )
    if path.suffix.lower() != ".zip":
        return
    try:
        with zipfile.ZipFile(path) as archive:
            total = sum(i.file_size for i in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        return  # GDAL says what is wrong with it
    if total > limits.max_unzipped_mb * MB:
        raise Refused(
            f"边界文件“{path.name}”解压后约 {total / MB:.0f} MB，超过上限 {limits.max_unzipped_mb} MB"
            "（设置 import_max_unzipped_mb），疑似压缩炸弹，已拒绝读取。"
            "请确认文件来源；压缩包内只需 .shp、.shx、.dbf、.prj（和 .cpg）。"
        )


# --------------------------------------------------------------------------
# In the child
# --------------------------------------------------------------------------


def read_plain(path: str, encoding: str | None, max_features: int) -> dict[str, Any]:
    """Count the features, read the file, and return it as plain data (runs in the child)."""
    import pyogrio
    import shapely

    from geo.boundary_files import pick_layer, read_boundary_file

    name = Path(path).name
    try:
        layer = pick_layer(Path(path))
        count = pyogrio.read_info(path, layer=layer, force_feature_count=True)["features"]
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError):
        count = 0  # read_boundary_file refuses it with the reason
    if count > max_features:
        raise Refused(
            f"边界文件“{name}”有 {count:,} 个要素，超过上限 {max_features:,} 个"
            "（设置 boundaries_max_features）。一个区县的村界通常只有几百到几千个："
            "请确认这是村界图层，或按区县拆分后再上传。"
        )
    read = read_boundary_file(path, encoding=encoding)
    frame = read.frame
    geometry = frame.geometry
    return {
        "columns": {c: _plain_values(frame[c]) for c in frame.columns if c != geometry.name},
        "geometry_name": geometry.name,
        "wkb": list(shapely.to_wkb(geometry.to_numpy())),
        "crs": frame.crs.to_wkt() if frame.crs is not None else None,
        "crs_reading": (read.crs.crs, read.crs.name, read.crs.inferred),
        "encoding": read.encoding,
        "encoding_detected": read.encoding_detected,
        "layer": read.layer,
        "driver": read.driver,
    }


_PLAIN = (str, int, float, bool, bytes, type(None))


def _plain_values(column: Any) -> list[Any]:
    """A column as Python scalars (dates and other objects as text, missing as None)."""
    import pandas as pd

    out = []
    for value in column.tolist():
        if isinstance(value, _PLAIN):
            out.append(value)
        elif value is pd.NaT:
            out.append(None)
        elif hasattr(value, "isoformat"):
            out.append(value.isoformat())
        else:
            out.append(str(value))
    return out
