"""年度报告: the annual evaluation report page and its .xlsx download (all but clerks).

With several districts, users who may read the whole city (those who may open
全市汇总, ``heating.web.city``) also download the city summary workbook with its
分区县 sheet (``heating.report.city.city_summary_workbook``: seconds, no
district report built), and the page lists one link per district to that
district's full report: each link is a request of its own (``download``, the
district's data only), so no request builds a dozen reports.  A whole city's
reports in one go (a zip took minutes of CPU and outlived the request timeout)
are the command's: ``heating report --city --out DIR``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import date, datetime
from io import BytesIO

from flask import Blueprint, current_app, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from heating import clock
from heating.clock import parse_known_at
from heating.errors import Forbidden, Refused
from heating.evidence_cache import kept, peek
from heating.history import first_ledger_date, last_ledger_date
from heating.models import District
from heating.processes import ProcessDied
from heating.report.city import city_summary_workbook
from heating.report.district_year import check_year, default_as_of
from heating.report.report_process import ReportFile, build_report_file
from heating.scope import districts as all_districts
from heating.web.access import READ_ALL, bound_district, roles_required, scoped_district_code
from heating.web.db import app_config, app_runtime, db
from heating.web.layout import chosen_district
from heating.web.params import YES, flag_arg, int_arg, parse_day

bp = Blueprint("reports", __name__)

REPORT_ROLES = ("admin", "planner", "city", "reviewer")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def may_read_city() -> bool:
    """True when the user reads every district (as 全市汇总 does) and there are several."""
    return (
        current_user.role in READ_ALL and bound_district() is None and len(all_districts(db())) > 1
    )


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
    installed = all_districts(db())
    districts = [d for d in installed if bound is None or d.code == bound]
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
            city=may_read_city(),
            district_links=_district_links(_listed(districts), year) if len(installed) > 1 else [],
        ),
        status,
    )


def _listed(districts: list[District]) -> list[District]:
    """The districts whose report links the page lists: the one chosen with ``?district=``
    (the page is scoped like every other; the picker's 全部区县 lists them all), else all."""
    chosen = chosen_district()
    return [d for d in districts if d.code == chosen] if chosen else districts


def _district_links(districts: list[District], year: int) -> list[tuple[str, str, str]]:
    """(name, code, download URL) of each district's full report for ``year`` (the user's own
    district alone when bound): one request per district, the page's as-of and known-at kept."""
    when = {k: request.args.get(k, "").strip() for k in ("as_of", "known_at")}
    return [
        (
            d.name,
            d.code,
            url_for(
                "reports.download",
                year=year,
                district=d.code,
                **{k: v for k, v in when.items() if v},
            ),
        )
        for d in districts
    ]


@bp.route("/reports")
@roles_required(*REPORT_ROLES)
def index() -> ResponseReturnValue:
    """Show the report form: year, optional as-of date, district where there are several."""
    return _form_page()


def _parse_request() -> tuple[int, date | None, str | None, datetime | None]:
    year, as_of, known_at = _parse_when(request.args)
    district = scoped_district_code(request.args.get("district"))
    return year, as_of, district, known_at


def _parse_when(values: Mapping[str, str]) -> tuple[int, date | None, datetime | None]:
    """Year, as-of date and known-at time of a report form (query string or posted form)."""
    raw_year = values.get("year", "").strip()
    if not raw_year.isdigit():
        raise Refused(f"请选择报告年度（四位数字，如 2021），得到 {raw_year!r}。")
    year = int(raw_year)
    check_year(year)
    as_of = parse_day(values.get("as_of"), "截止日期")
    raw_known = values.get("known_at", "").strip()
    known_at = None
    if raw_known:
        try:
            known_at = parse_known_at(raw_known, app_config().timezone)
        except ValueError as exc:
            raise Refused(f"已知时点：{exc}。") from None
    return year, as_of, known_at


@bp.route("/reports/download")
@roles_required(*REPORT_ROLES)
def download() -> ResponseReturnValue:
    """Build the report for the chosen year and as-of date and send it as .xlsx."""
    scoped_district_code(request.args.get("district"))  # 403 outside the user's district
    try:
        year, as_of, district, known_at = _parse_request()
        approved_only = flag_arg("approved_only", "只含已审核乡镇 approved_only")
        built = _kept_report(year, as_of, district, known_at, approved_only)
    except Refused as exc:
        return _form_page(exc.message, 400)
    except ProcessDied as exc:  # the report process was killed (out of memory): say so
        return _form_page(f"报告生成失败：{exc}", 503)
    if built is None:  # still building after report_wait_seconds: the page refreshes itself
        wait = app_config().report_wait_seconds
        page = render_template("reports/building.html", refresh=REFRESH_SECONDS, waited=wait)
        return page, 202, {"Refresh": str(REFRESH_SECONDS), "Retry-After": str(REFRESH_SECONDS)}
    # Flask sends the Chinese name as RFC 5987 filename* with an ASCII fallback.
    return send_file(
        BytesIO(built.content),
        mimetype=XLSX,
        as_attachment=True,
        download_name=built.file_name,
        max_age=0,
    )


def _kept_report(
    year: int,
    as_of: date | None,
    district: str | None,
    known_at: datetime | None,
    approved_only: bool,
) -> ReportFile | None:
    """The report, built once per data version (``heating.evidence_cache``) for these choices;
    None while it is still being built after ``report_wait_seconds``.

    A district report costs seconds of CPU in the app and more in the database (each
    year's figures, the evidence, the heat sources); city users download the same
    ones.  While nothing that feeds a figure is committed, the same choices give the
    same file — the cover's generation time and known-at time are the first
    download's, and a report generated again with that known-at time has the same
    figures.  A commit that writes figures of this district — or of the whole
    installation: registry, zones, register, usage, sign-off — changes its data
    version, and the next download builds again, in a report process
    (``heating.report.report_process``), so the worker's other threads keep
    serving pages meanwhile.  A clerk's ledger in another district changes
    nothing in this one's report but, perhaps, the years of its trend (they
    run from the installation's first to its newest ledger date): those dates
    are part of the key.

    The build runs in a thread of the app's own (``_ReportBuilds``), not in the
    request's: builds take turns in the report process, and under the load test
    a dozen downloads waiting for their turn held most of the web threads, so the
    pages queued behind them for minutes.  The request that starts a build waits
    at most ``report_wait_seconds`` for it; the others do not wait.
    """
    config = app_config()
    session = db()
    key = (
        "report",
        year,
        as_of,
        district,
        known_at,
        approved_only,
        config.settings_key(),
        clock.today(config.timezone),
        first_ledger_date(session),
        last_ledger_date(session),
    )
    scope = None if district is None else (district,)  # None: the only district
    runtime = app_runtime()

    def build() -> ReportFile:
        return build_report_file(
            config,
            year,
            as_of=as_of,
            district_code=district,
            known_at=known_at,
            approved_only=approved_only,
        )

    def job() -> ReportFile:
        with runtime.session() as own:
            return kept(own, key, build, shared=True, districts=scope)

    found, built = peek(session, key, districts=scope)
    if found:
        return built
    running, started = _builds().start(key, job)
    # Only the request that started the build waits for it: a refresh of the 报告生成中 page
    # (or a colleague's download of the same report) answers at once, so no thread is held.
    wait = max(config.report_wait_seconds, 0) if started else 0
    try:
        return running.result(timeout=wait)
    except FutureTimeout:
        return None


# The page that says a report is still being built asks again after this many seconds.
REFRESH_SECONDS = 5
_BUILDS = "heating.report_builds"
_BUILDS_LOCK = threading.Lock()


class _ReportBuilds:
    """The app's report builds in progress, one per choice of report, off the request threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: dict[Hashable, Future[ReportFile]] = {}
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="report-build")

    def start(
        self, key: Hashable, job: Callable[[], ReportFile]
    ) -> tuple[Future[ReportFile], bool]:
        """The build of ``key`` in progress, or a new one, and whether it is new (a finished
        one is not kept: the file itself is, by ``heating.evidence_cache``, and a failure is
        tried again)."""
        with self.lock:
            running = self.running.get(key)
            if running is not None and not running.done():
                return running, False
            running = self.running[key] = self.pool.submit(job)
            running.add_done_callback(lambda done: self._forget(key, done))
            return running, True

    def _forget(self, key: Hashable, done: Future[ReportFile]) -> None:
        with self.lock:
            if self.running.get(key) is done:
                del self.running[key]


def _builds() -> _ReportBuilds:
    extensions = current_app.extensions
    found = extensions.get(_BUILDS)
    if found is None:
        with _BUILDS_LOCK:
            found = extensions.setdefault(_BUILDS, _ReportBuilds())
    return found


def _refuse_without_city_scope() -> None:
    """403 with the reason for users who may not read every district (before any work)."""
    if bound_district() is not None:
        raise Forbidden(
            f"您的账号只能查看{current_user.district_name}（{current_user.district_code}）的数据，"
            "全市报告含其他区县的数字：请下载本区县的年度报告，或请管理员调整账号绑定的区县。"
        )
    if len(all_districts(db())) < 2:
        raise Forbidden("库中只有一个区县，没有全市报告：请下载本区县的年度报告。")


@bp.route("/reports/city", methods=["POST"])
@roles_required(*READ_ALL)
def city_download() -> ResponseReturnValue:
    """Send the city summary workbook (分区县); each district's report has its own link."""
    _refuse_without_city_scope()
    try:
        year, as_of, known_at = _parse_when(request.form)
        content, name = city_summary_workbook(
            db(), app_config(), year, as_of=as_of, known_at=known_at
        )
    except Refused as exc:
        return _form_page(exc.message, 400)
    return send_file(
        BytesIO(content), mimetype=XLSX, as_attachment=True, download_name=name, max_age=0
    )
