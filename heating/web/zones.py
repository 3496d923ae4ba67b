"""Coal-ban zones: the current derivation, its changes, history, downloads, derive again."""

from __future__ import annotations

import io
import tempfile
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
from sqlalchemy import select
from sqlalchemy.orm import Session

from geo.export import export_zones
from geo.zone_derivations import current_derivation, derivation_history, derive_zones
from heating.counties import district_name
from heating.models import District, Village, ZoneDerivation
from heating.web.access import roles_required, scoped_township_code
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


@bp.route("")
@login_required
def index() -> ResponseReturnValue:
    """Show the current zones, enclaves, the last derivation's changes and the history."""
    session = db()
    derivation = current_derivation(session)
    summary = dict(derivation.summary or {}) if derivation else {}
    zones = list(derivation.zones) if derivation else []
    township = scoped_township_code(None)
    if township:  # a clerk: the zones holding its villages, its own villages in the lists
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
    if wants_xlsx():
        return zones_xlsx(zones, _village_names(codes), derivation.as_of if derivation else None)
    history = derivation_history(session)[:HISTORY_LIMIT]
    return render_template(
        "zones/index.html",
        derivation=derivation,
        zones=zones,
        scoped=bool(township),
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
        export_zones(session, path, derivation.id, township_code=scoped_township_code(None))
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
