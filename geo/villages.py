"""Villages read back as a GeoDataFrame: the frame maps, zones, exports and reports start from.

Geometry is stored as WKB in EPSG:4490 (``geo.crs.STORAGE_CRS``); a village
without a boundary has a missing geometry unless ``boundaries_only``.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from geo.crs import STORAGE_CRS
from heating.models import District, Township, Village


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
