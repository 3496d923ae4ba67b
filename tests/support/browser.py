"""Driving the app in Playwright's chromium: logging in, the coverage map's page and file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from geo.maps import map_data
from geo.maps_document import basemap_of, map_document
from geo.maps_folium import build_map, standalone_html
from heating.models import Village
from heating.runtime import Runtime
from tests.support.households import add_households_by_status
from tests.support.users import PASSWORD
from tests.support.zones import add_zone


def browser_log_in(page: Any, base: str, username: str) -> None:
    """Log in through the login page in a Playwright page, as a person would."""
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


# --------------------------------------------------------------------------
# The coverage map
# --------------------------------------------------------------------------

HOSTILE = "<img src=x onerror=alert(1)>${alert(1)}{{ cycler.__name__ }}"
HOSTILE_CODE = "140405101202"


def add_map_scene(runtime: Runtime, tiny_district: dict[str, int]) -> None:
    """南街 10/10 达标, 东街 0/8 差距较大, 上村 15/20 接近, 下村 (hostile name) 1/2.

    A zone over 南街 derived on 2021-10-31; 东街 beside it is a priority gap.
    """
    add_households_by_status(runtime, tiny_district["140405001201"], clean=10)
    add_households_by_status(runtime, tiny_district["140405101201"], clean=15, pending=5)
    add_households_by_status(runtime, tiny_district[HOSTILE_CODE], clean=1, pending=1)
    with runtime.session() as session:
        session.scalar(select(Village).where(Village.code == HOSTILE_CODE)).name = HOSTILE
    add_zone(runtime, ["140405001201"], ["140405001202"])


def csp_violations(page: Any) -> list[str]:
    """Collect the browser's reports of anything the app's CSP blocked."""
    violations: list[str] = []
    page.page.on(
        "console", lambda m: violations.append(m.text) if "Content Security" in m.text else None
    )
    return violations


def wait_for_map(pg: Any) -> None:
    """Wait until the map's script has drawn the villages."""
    pg.wait_for_function(
        "() => window.heatingMap !== undefined && !!window.heatingMap.layers.areas"
    )


def village_points(pg: Any) -> dict[str, list[float]]:
    """Code → page coordinates of a point inside each village (its label point)."""
    return pg.evaluate(
        """() => { const m = heatingMap.map, out = {};
                   const r = m.getContainer().getBoundingClientRect();
                   const t = heatingMap.doc.topology.transform;
                   for (const g of heatingMap.doc.topology.objects.areas.geometries) {
                     const p = g.properties, at = p.at;
                     const ll = L.latLng(at[1] * t.scale[1] + t.translate[1],
                                         at[0] * t.scale[0] + t.translate[0]);
                     const c = m.latLngToContainerPoint(ll);
                     out[p.code] = [c.x + r.left, c.y + r.top]; }
                   return out; }"""
    )


def standalone_file(runtime: Runtime, tmp_path: Path) -> Path:
    """The offline map file ``heating map`` writes, for the runtime's database."""
    with runtime.session() as session:
        data = map_data(session, runtime.config)
    document = map_document(data, basemap=basemap_of(runtime.config))
    path = tmp_path / "map.html"
    path.write_text(standalone_html(build_map(document, standalone=True)), encoding="utf-8")
    return path
