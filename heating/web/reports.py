"""年度报告: the annual evaluation report page and its .xlsx download (all but clerks)."""

from __future__ import annotations

from datetime import date, datetime
from io import BytesIO

from flask import Blueprint, render_template, request, send_file
from flask.typing import ResponseReturnValue

from heating.clock import parse_known_at
from heating.errors import Refused
from heating.history import first_ledger_date
from heating.report import build_report
from heating.report.snapshot import check_year, default_as_of
from heating.scope import districts as all_districts
from heating.web.access import bound_district, roles_required, scoped_district_code
from heating.web.db import app_config, db
from heating.web.params import YES, date_arg, flag_arg, int_arg

bp = Blueprint("reports", __name__)

REPORT_ROLES = ("admin", "planner", "city", "reviewer")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def suggested_years() -> list[int]:
    """Years of the ledgers recorded, newest first (this year at least)."""
    first = first_ledger_date(db())
    this_year = date.today().year
    start = first.year if first else this_year
    return list(range(this_year, start - 1, -1))


def default_year() -> int:
    """The newest year whose cut-off has passed (a final report), else last year."""
    today = date.today()
    return today.year if default_as_of(app_config(), today.year) < today else today.year - 1


def _form_page(error: str | None = None, status: int = 200) -> ResponseReturnValue:
    config = app_config()
    years = suggested_years()
    bound = bound_district()
    districts = [d for d in all_districts(db()) if bound is None or d.code == bound]
    year = int_arg("year", "报告年度", default=0, minimum=2000, maximum=2100) or default_year()
    return (
        render_template(
            "reports/index.html",
            years=[(y, default_as_of(config, y)) for y in years],
            year=year,
            as_of=request.args.get("as_of", ""),
            known_at=request.args.get("known_at", ""),
            districts=districts,
            district=bound or request.args.get("district", ""),
            approved_only=request.args.get("approved_only", "").strip().lower() in YES,
            cutoff=config.report_cutoff,
            error=error,
        ),
        status,
    )


@bp.route("/reports")
@roles_required(*REPORT_ROLES)
def index() -> ResponseReturnValue:
    """Show the report form: year, optional as-of date, district where there are several."""
    return _form_page()


def _parse_request() -> tuple[int, date | None, str | None, datetime | None]:
    raw_year = request.args.get("year", "").strip()
    if not raw_year.isdigit():
        raise Refused(f"请选择报告年度（四位数字，如 2021），得到 {raw_year!r}。")
    year = int(raw_year)
    check_year(year)
    as_of = date_arg("as_of", "截止日期")
    district = scoped_district_code(request.args.get("district"))
    raw_known = request.args.get("known_at", "").strip()
    known_at = None
    if raw_known:
        try:
            known_at = parse_known_at(raw_known, app_config().timezone)
        except ValueError as exc:
            raise Refused(f"已知时点：{exc}。") from None
    return year, as_of, district, known_at


@bp.route("/reports/download")
@roles_required(*REPORT_ROLES)
def download() -> ResponseReturnValue:
    """Build the report for the chosen year and as-of date and send it as .xlsx."""
    scoped_district_code(request.args.get("district"))  # 403 outside the user's district
    try:
        year, as_of, district, known_at = _parse_request()
        approved_only = flag_arg("approved_only", "只含已审核乡镇 approved_only")
        built = build_report(
            db(),
            app_config(),
            year,
            as_of=as_of,
            district_code=district,
            known_at=known_at,
            approved_only=approved_only,
        )
    except Refused as exc:
        return _form_page(exc.message, 400)
    # Flask sends the Chinese name as RFC 5987 filename* with an ASCII fallback.
    return send_file(
        BytesIO(built.content),
        mimetype=XLSX,
        as_attachment=True,
        download_name=built.file_name,
        max_age=0,
    )
