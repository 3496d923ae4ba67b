"""The coverage map page, its script, and the GeoJSON endpoints for GIS users.

``/map`` is a plain page holding the map's element and script links: the
vendored Leaflet, topojson-client, ``static/js/map.js``, then
``/map/script.js`` with the same query — the script folium builds for this
map, served as a file (no inline script: the page runs under
``script-src 'self'``).  ``/api/villages.geojson`` and
``/api/zones.geojson`` give the unsimplified shapes and raw numbers.
"""

from __future__ import annotations

import json
from typing import Any

import geopandas as gpd
import pandas as pd
from flask import Blueprint, Response, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from geo.maps import current_zones, map_data, summary
from geo.maps_document import MapLinks, basemap_of, map_document
from geo.maps_folium import SCRIPTS, STYLESHEETS, build_map, map_script
from geo.villages import villages_frame
from heating.errors import Refused
from heating.measures import coverage
from heating.models import Township
from heating.web import access
from heating.web.access import ALL_ROLES, roles_required
from heating.web.db import app_config, db

bp = Blueprint("map", __name__)

GEOJSON_MIMETYPE = "application/geo+json"


def request_scope() -> tuple[str | None, str | None]:
    """(township, district) of the request, held to what the user may read (see access)."""
    scope = access.request_scope()
    return scope.township_code, scope.district_code


def json_response(data: Any, mimetype: str = "application/json") -> Response:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Response(body, mimetype=mimetype)


def map_assets(script_url: str) -> dict[str, list[str]]:
    """The links a page with a map needs: the vendored files, then the map's own script."""
    return {
        "styles": [url_for("static", filename=name) for name in STYLESHEETS],
        "scripts": [url_for("static", filename=name) for name in SCRIPTS] + [script_url],
    }


def scope_map_script(township: str | None, district: str | None, *, view: str = "coverage") -> str:
    """The script that draws the coverage map of a scope, with links into the app."""
    if view not in ("coverage", "zones"):
        raise Refused(f"view 应为 coverage 或 zones，得到 {view!r}")
    config = app_config()
    data = map_data(db(), config, township_code=township, district_code=district)
    links = MapLinks(
        village=url_for("villages.show", code="CODE").replace("CODE", "{code}"),
        township=url_for("map.page", township="CODE").replace("CODE", "{code}"),
    )
    document = map_document(
        data, links=links, basemap=basemap_of(config), zone_labels=view == "zones"
    )
    document["summary"] = _summary_json(data)
    return map_script(build_map(document, asset_url=url_for("static", filename="")))


def _summary_json(data: Any) -> dict[str, Any]:
    s = summary(data)
    return {
        "mode": s.mode,
        "villages": s.villages,
        "without_boundary": s.without_boundary,
        "classes": s.classes,
        "priority": s.priority,
        "zones": s.zones,
        "generated_boundaries": s.generated_boundaries,
    }


@bp.route("/map")
@roles_required(*ALL_ROLES)
def page() -> ResponseReturnValue:
    """Show the coverage map, optionally limited to one township or district."""
    township, district = request_scope()
    session = db()
    townships = session.execute(select(Township.code, Township.name).order_by(Township.code)).all()
    townships = [
        t
        for t in townships
        if access.may_read_code(t.code) and (district is None or t.code.startswith(district))
    ]
    return render_template(
        "map/page.html",
        townships=townships,
        township=township,
        district=district,
        assets=map_assets(url_for("map.script", township=township, district=district)),
    )


@bp.route("/map/script.js")
@roles_required(*ALL_ROLES)
def script() -> ResponseReturnValue:
    """The map's script (same scope as /map; ``view=zones`` writes the zone ids on)."""
    township, district = request_scope()
    body = scope_map_script(township, district, view=request.args.get("view", "coverage"))
    response = Response(body, mimetype="text/javascript")
    response.cache_control.private = True
    response.cache_control.no_store = True
    return response


def _feature_collection(records: list[dict[str, Any]], geometry: Any, ids: list[str]) -> Response:
    """GeoJSON of ``records`` (values as they are: no int → float) with ``ids`` as feature ids."""
    properties = pd.DataFrame(records, index=ids, dtype=object)
    frame = gpd.GeoDataFrame(properties, geometry=list(geometry), crs="EPSG:4490")
    return json_response(frame.to_geo_dict(na="null", drop_id=False), GEOJSON_MIMETYPE)


@bp.route("/api/villages.geojson")
@roles_required(*ALL_ROLES)
def villages_geojson() -> ResponseReturnValue:
    """Villages with boundaries and their measures (lon/lat, CGCS2000 ≈ WGS84)."""
    township, district = request_scope()
    session = db()
    profile = app_config().profile
    frame = villages_frame(session, township, district, boundaries_only=True)
    rows = {
        r.key: r
        for r in coverage(
            session, profile, "village", township_code=township, district_code=district
        )
    }
    records = []
    for village in frame.itertuples(index=False):
        m = rows.get(village.code)
        records.append(
            {
                "code": village.code,
                "name": village.name,
                "township": village.township_name,
                "township_code": village.township_code,
                "category": village.category,
                "required": m.required if m else None,
                "clean": m.clean if m else None,
                "coverage": m.coverage if m else None,
                "effective_coverage": m.effective_coverage if m else None,
                # As /api/coverage: flagged is 0 where none was checked (usage_checked says so).
                "usage_checked": m.usage_checked if m else None,
                "usage_flagged": m.usage_flagged if m else None,
                "verified_effective_coverage": m.verified_effective_coverage if m else None,
                "target": profile.target(village.category),
                "gap": m.gap if m else None,
                "meets": m.meets if m else None,
                "heat_source_noncompliant": m.heat_source_noncompliant if m else None,
                "boundary_generated": bool(village.boundary_generated),
            }
        )
    return _feature_collection(records, frame.geometry.values, list(frame["code"]))


@bp.route("/api/zones.geojson")
@roles_required(*ALL_ROLES)
def zones_geojson() -> ResponseReturnValue:
    """The current derivation's coal-ban zones (a clerk: those holding its villages)."""
    township, district = request_scope()
    zones, derivation = current_zones(db())
    if township or district:
        prefix = township or district
        holds = [any(c.startswith(prefix) for c in v) for v in zones["villages"]]
        zones = zones.loc[pd.Series(holds, index=zones.index, dtype=bool)]
    records = [
        {
            "zone_id": zone.zone_id,
            "village_count": len(zone.villages),
            "area_km2": zone.area_km2,
            "villages": list(zone.villages),
            "as_of": derivation.as_of.isoformat(),
        }
        for zone in zones.itertuples(index=False)
    ]
    return _feature_collection(records, zones.geometry.values, list(zones["zone_id"]))
