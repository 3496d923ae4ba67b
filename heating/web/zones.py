"""Coal-ban zones: the current derivation, its changes, history, downloads, derive again."""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from geo.export import export_zones
from geo.zone_derivations import current_derivation, derivation_history, derive_zones
from heating.counties import district_name
from heating.models import District, Township, Village, Zone, ZoneDerivation
from heating.web import access
from heating.web.access import roles_required
from heating.web.db import app_config, db
from heating.web.exports import wants_xlsx
from heating.web.list_exports import zones_xlsx
from heating.web.map import map_assets, request_scope
from heating.web.params import int_arg, parse_day

bp = Blueprint("zones", __name__, url_prefix="/zones")

FORMATS = {
    "geojson": ("禁煤区.geojson", "application/geo+json"),
    "gpkg": ("禁煤区.gpkg", "application/geopackage+sqlite3"),
    "zip": ("禁煤区-shapefile.zip", "application/zip"),
}
HISTORY_LIMIT = 20


def _village_names(codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    rows = db().execute(select(Village.code, Village.name).where(Village.code.in_(codes)))
    return dict(rows.all())


SEARCH_LIMIT = 50


@dataclass(frozen=True)
class VillageZone:
    """Where one village stands against the zones (the zones page's 查找村庄)."""

    code: str
    name: str
    township: str
    inside: str | None  # the zone holding it
    touching: list[str]  # zones it touches while incomplete
    enclave: bool

    @property
    def says(self) -> str:
        if self.inside:
            return f"在禁煤区 {self.inside} 内"
        if self.enclave:
            return (
                f"飞地：未完成，被禁煤区 {'、'.join(self.touching)} 包围"
                if self.touching
                else "飞地"
            )
        if self.touching:
            return f"不在禁煤区内：未完成，与禁煤区 {'、'.join(self.touching)} 相邻"
        return "不在禁煤区内，也不与禁煤区相邻"


def find_villages(
    query: str, zones: list[Zone], enclaves: list[str], township: str | None
) -> tuple[list[VillageZone], int]:
    """Villages whose name contains ``query`` or whose code starts with it, and their zones.

    The same rule as the village list's search (spaces ignored); at most
    ``SEARCH_LIMIT`` listed, with the number found.
    """
    needle = "".join(query.split())
    if not needle:
        return [], 0
    stmt = (
        select(Village.code, Village.name, Township.name)
        .join(Township, Township.id == Village.township_id)
        .where(
            or_(
                Village.name.contains(needle, autoescape=True),
                Village.code.startswith(needle, autoescape=True),
            )
        )
        .order_by(Village.code)
    )
    if township:  # a township's code, or a district's (its townships' codes begin with it)
        stmt = stmt.where(Township.code.startswith(township))
    rows = db().execute(stmt).all()
    inside = {c: z.zone_id for z in zones for c in z.village_codes or []}
    touching: dict[str, list[str]] = {}
    for z in zones:
        for c in z.touching or []:
            touching.setdefault(c, []).append(z.zone_id)
    enclave_set = set(enclaves)
    found = [
        VillageZone(
            code, name, tname, inside.get(code), touching.get(code, []), code in enclave_set
        )
        for code, name, tname in rows[:SEARCH_LIMIT]
    ]
    return found, len(rows)


@bp.route("")
@login_required
def index() -> ResponseReturnValue:
    """Show the current zones, enclaves, the last derivation's changes and the history."""
    session = db()
    derivation = current_derivation(session)
    summary = dict(derivation.summary or {}) if derivation else {}
    zones = list(derivation.zones) if derivation else []
    scope = access.request_scope()
    township = scope.township_code or scope.district_code
    # A clerk or a district: the zones holding its villages, its own villages in the lists.
    if township:
        zones = [z for z in zones if any(c.startswith(township) for c in z.village_codes or [])]
        for key in ("enclaves", "added", "removed", "complete_without_boundary"):
            summary[key] = [c for c in summary.get(key) or [] if c.startswith(township)]
    codes: set[str] = set()
    if derivation:
        for z in zones:
            codes.update(z.village_codes or [])
            codes.update(z.touching or [])
        for key in ("enclaves", "added", "removed", "complete_without_boundary"):
            codes.update(summary.get(key) or [])
    query = (request.args.get("q") or "").strip()[:50]
    found, found_total = find_villages(query, zones, summary.get("enclaves") or [], township)
    if query:  # the zones holding or touching a village found (the table, the export)
        wanted = {v.inside for v in found} | {z for v in found for z in v.touching}
        zones = [z for z in zones if z.zone_id in wanted]
    if wants_xlsx():
        return zones_xlsx(
            zones, _village_names(codes), derivation.as_of if derivation else None, query
        )
    history = derivation_history(session)[:HISTORY_LIMIT]
    return render_template(
        "zones/index.html",
        derivation=derivation,
        zones=zones,
        query=query,
        found=found,
        found_total=found_total,
        scoped=("乡镇" if scope.township_code else "区县") if township else "",
        summary=summary,
        names=_village_names(codes),
        history=history,
        today=date.today().isoformat(),
        formats=FORMATS,
        assets=map_assets(url_for("map.script", view="zones", **_scope_args())),
    )


def _scope_args() -> dict[str, str]:
    township, district = request_scope()
    return {k: v for k, v in (("township", township), ("district", district)) if v}


@bp.route("/derive", methods=["POST"])
@roles_required("admin")
def derive() -> ResponseReturnValue:
    """Derive and store the zones as of a date (today by default)."""
    as_of = parse_day(request.form.get("as_of"), "截至日期") or date.today()
    session = db()
    profile = app_config().profile
    result = derive_zones(session, profile, as_of=as_of, user_id=current_user.id)
    session.commit()
    flash(f"已生成禁煤区（截至 {as_of.isoformat()}），共 {len(result.zones)} 片。", "success")
    return redirect(url_for("zones.index"))


@bp.route("/download/<fmt>")
@login_required
def download(fmt: str) -> ResponseReturnValue:
    """The current zones as GeoJSON, GeoPackage or zipped Shapefile (EPSG:4490)."""
    if fmt not in FORMATS:
        abort(404)
    _, mimetype = FORMATS[fmt]
    session = db()
    wanted = int_arg("derivation", "派生编号 derivation", default=0, minimum=0, maximum=2**31)
    derivation = session.get(ZoneDerivation, wanted) if wanted else current_derivation(session)
    if derivation is None:
        abort(404)
    tmp = tempfile.TemporaryDirectory(prefix="heating-zones-")
    path = Path(tmp.name) / f"zones.{fmt}"
    try:
        # A clerk gets the zones holding its township's villages, as from /api/zones.geojson.
        scope = access.request_scope()
        export_zones(session, path, derivation.id, **scope.kwargs)
        data = path.read_bytes()
    finally:
        tmp.cleanup()
    return send_file(
        io.BytesIO(data),
        mimetype=mimetype,
        as_attachment=True,
        download_name=download_name(session, derivation, fmt),
    )


def download_name(session: Session, derivation: ZoneDerivation, fmt: str) -> str:
    """E.g. 屯留区禁煤区（截至20211031，第3次派生）.geojson: which district, which derivation."""
    districts = [
        district_name(c, n) for c, n in session.execute(select(District.code, District.name))
    ]
    place = districts[0] if len(districts) == 1 else ""
    stem = f"{place}禁煤区（截至{derivation.as_of:%Y%m%d}，第{derivation.id}次派生）"
    return f"{stem}-shapefile.zip" if fmt == "zip" else f"{stem}.{fmt}"
