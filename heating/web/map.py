"""The coverage map page and the GeoJSON endpoints for GIS users."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import shapely
from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from geo.boundaries import villages_frame
from geo.maps import build_map, load_zones, render_html
from heating.measures import coverage
from heating.models import District, Township
from heating.web.access import ALL_ROLES, roles_required, scoped_township_code
from heating.web.db import app_config, app_runtime, db

bp = Blueprint("map", __name__)

GEOJSON_MIMETYPE = "application/geo+json"


def _scope() -> tuple[str | None, str | None]:
    """(township, district) of the request: a clerk is held to its own township (403 else)."""
    township = scoped_township_code(request.args.get("township"))
    district = None if current_user.role == "clerk" else request.args.get("district") or None
    session = db()
    if township and session.scalar(select(Township.id).where(Township.code == township)) is None:
        abort(404)
    if district and session.scalar(select(District.id).where(District.code == district)) is None:
        abort(404)
    return township, district


@bp.route("/map")
@roles_required(*ALL_ROLES)
def page():  # noqa: ANN201
    """Show the coverage map, optionally limited to one township or district."""
    township, district = _scope()
    session = db()
    runtime = app_runtime()
    village_url = url_for("villages.show", code="CODE").replace("CODE", "{code}")
    township_url = url_for("map.page", township="CODE").replace("CODE", "{code}")
    m, summary = build_map(
        session,
        runtime.config,
        township_code=township,
        district_code=district,
        asset_url=url_for("static", filename="vendor"),
        village_url=village_url,
        township_url=township_url,
    )
    townships = session.execute(select(Township.code, Township.name).order_by(Township.code)).all()
    if current_user.role == "clerk":
        townships = [t for t in townships if t.code == current_user.township_code]
    return render_template(
        "map/page.html",
        map_html=render_html(m),
        summary=summary,
        townships=townships,
        township=township,
        district=district,
    )


def _feature_collection(features: list[dict[str, Any]]) -> Response:
    body = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
    return Response(body, mimetype=GEOJSON_MIMETYPE)


@bp.route("/api/villages.geojson")
@roles_required(*ALL_ROLES)
def villages_geojson():  # noqa: ANN201
    """Villages with boundaries and their measures (lon/lat, CGCS2000 ≈ WGS84)."""
    township, district = _scope()
    session = db()
    profile = app_config().profile
    frame = villages_frame(session, township, district, boundaries_only=True)
    rows = {
        r.key: r
        for r in coverage(
            session, profile, "village", township_code=township, district_code=district
        )
    }
    geometries = shapely.to_geojson(np.asarray(frame.geometry.values)) if len(frame) else []
    features = []
    for village, geometry in zip(frame.itertuples(index=False), geometries, strict=True):
        m = rows.get(village.code)
        features.append(
            {
                "type": "Feature",
                "id": village.code,
                "properties": {
                    "code": village.code,
                    "name": village.name,
                    "township": village.township_name,
                    "township_code": village.township_code,
                    "category": village.category,
                    "required": m.required if m else None,
                    "clean": m.clean if m else None,
                    "coverage": m.coverage if m else None,
                    "effective_coverage": m.effective_coverage if m else None,
                    "target": profile.target(village.category),
                    "gap": m.gap if m else None,
                    "meets": m.meets if m else None,
                    "boundary_generated": bool(village.boundary_generated),
                },
                "geometry": json.loads(geometry),
            }
        )
    return _feature_collection(features)


@bp.route("/api/zones.geojson")
@roles_required(*ALL_ROLES)
def zones_geojson():  # noqa: ANN201
    """The current derivation's coal-ban zones (a clerk: those holding its villages)."""
    township, _ = _scope()
    zones, _priority = load_zones(db())
    features = []
    geometries = shapely.to_geojson(np.asarray(zones.geometry.values)) if len(zones) else []
    for zone, geometry in zip(zones.itertuples(index=False), geometries, strict=True):
        codes = list(zone.village_codes)
        if township and not any(c.startswith(township) for c in codes):
            continue
        features.append(
            {
                "type": "Feature",
                "id": zone.zone_id,
                "properties": {
                    "zone_id": zone.zone_id,
                    "village_count": len(codes),
                    "area_km2": zone.area_km2,
                    "villages": codes,
                    "as_of": zone.as_of,
                },
                "geometry": json.loads(geometry),
            }
        )
    return _feature_collection(features)
