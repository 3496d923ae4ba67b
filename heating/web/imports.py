"""Ledger uploads: form → background preview → commit / accept valid / cancel; history; template."""

from __future__ import annotations

import contextlib
import io
import math
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import date
from typing import Any

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
from flask_login import current_user
from sqlalchemy import select

from heating import clock
from heating.batch_changes import change_rows
from heating.batch_effect import coverage_change
from heating.clock import today
from heating.errors import Refused
from heating.models import ImportBatch, ImportJob, StoredFile, Township
from heating.report.workbook import Column
from heating.signoff import returned
from heating.web import jobs
from heating.web.access import (
    UPLOADERS,
    request_scope,
    roles_required,
    scoped_township_code,
    sees_personal_data,
)
from heating.web.db import app_config, app_runtime, db
from heating.web.exports import wants_xlsx, xlsx_download
from heating.web.list_exports import export_batches
from heating.web.params import page_arg
from imports.batches import cancel as cancel_batch
from imports.batches import list_batches
from imports.fields import LEDGER_LABELS
from imports.issue_list import (
    batch_issues,
    batch_rows,
    code_groups,
    filtered,
    was_cut_short,
    write_workbook,
)
from imports.ledger_date import check_option, parse_option
from imports.rollback import rollback as rollback_batch
from imports.template import write_template

bp = Blueprint("imports", __name__)

ISSUE_PAGE = 200
CHANGE_PAGE = 50  # households per page of 变更明细
HISTORY_LIMIT = 200
# How long the upload request waits for a small file before showing the progress page.
INLINE_WAIT_SECONDS = 2.0


def _townships_for_upload() -> list[Township]:
    query = select(Township).order_by(Township.code)
    if current_user.role == "clerk":
        query = query.where(Township.id == current_user.township_id)
    district = request_scope(township="").district_code  # ?district= narrows an admin's list
    if district is not None:
        query = query.where(Township.code.startswith(district))
    return list(db().scalars(query))


def _load_batch(batch_id: int) -> ImportBatch:
    """The batch, or 404; 403 when a clerk asks for another township's batch."""
    batch = db().get(ImportBatch, batch_id)
    if batch is None or batch.kind != "ledger":
        abort(404)
    if current_user.role == "clerk" and batch.township_id != current_user.township_id:
        abort(403)
    return batch


def _file_name(raw: str) -> str:
    """The original name as the clerk sees it (Chinese kept; any client path dropped)."""
    return raw.replace("\\", "/").rsplit("/", 1)[-1].strip() or "未命名文件"


def _wait_briefly(future: Any) -> None:
    with contextlib.suppress(FutureTimeout):
        future.result(timeout=INLINE_WAIT_SECONDS)


@bp.route("/imports", methods=["GET", "POST"])
@roles_required(*UPLOADERS)
def index() -> ResponseReturnValue:
    """The upload form and the history of batches; POST starts a preview."""
    townships = _townships_for_upload()
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash("请选择要上传的台账文件。", "error")
            return _index_page(townships), 400
        requested = request.form.get("township", "").strip() or None
        township_code = scoped_township_code(requested)
        township = next((t for t in townships if t.code == township_code), None)
        if township_code and township is None:
            flash(f"乡镇代码 {township_code} 不在村庄名录中。", "error")
            return _index_page(townships), 400
        try:
            ledger_date = _ledger_date_field(request.form.get("ledger_date", ""))
        except Refused as exc:
            flash(exc.message, "error")
            return _index_page(townships), 400
        data = upload.read()
        name = _file_name(upload.filename)
        token = _start_preview(data, name, township, township_code, ledger_date)
        return redirect(url_for("imports.job", token=token))
    if wants_xlsx():
        code = current_user.township_code if current_user.role == "clerk" else None
        return export_batches(list_batches(db(), code))
    return _index_page(townships)


def _ledger_date_field(raw: str) -> date | None:
    """The upload form's ``ledger_date`` (blank: found in the file); refused with a reason."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        day = parse_option(raw)
    except ValueError as exc:
        raise Refused(str(exc)) from None
    return check_option(day, today(app_config().timezone))


def _start_preview(
    data: bytes,
    name: str,
    township: Township | None,
    township_code: str | None,
    ledger_date: date | None,
) -> str:
    token = jobs.create_job(
        app_runtime(),
        "preview",
        user_id=current_user.id,
        township_id=township.id if township else None,
        file_name=name,
    )
    _wait_briefly(
        jobs.start_preview(
            token,
            data,
            name,
            township_code=township_code,
            user_id=current_user.id,
            ledger_date=ledger_date,
        )
    )
    return token


def _index_page(townships: list[Township]) -> str:
    code = current_user.township_code if current_user.role == "clerk" else None
    batches = list_batches(db(), code)
    if request_scope(township="").district_code is not None:
        ids = {t.id for t in townships}
        batches = [b for b in batches if b.township_id in ids]
    batches = batches[:HISTORY_LIMIT]
    return render_template(
        "imports/index.html",
        townships=townships,
        batches=batches,
        returned=returned(db(), current_user.township_id) if code else [],
    )


@bp.route("/imports/jobs/<token>")
@roles_required(*UPLOADERS)
def job(token: str) -> ResponseReturnValue:
    """Progress of a background preview/commit; refreshes itself until done."""
    found = db().get(ImportJob, token)
    if found is None:
        abort(404)
    if current_user.role != "admin" and found.user_id != current_user.id:
        abort(403)
    state, message = jobs.effective_state(found)
    if state == "done" and found.batch_id is not None:
        if found.kind == "commit":
            flash("台账已写入。", "success")
        return redirect(url_for("imports.show", batch_id=found.batch_id))
    return render_template("imports/job.html", job=found, state=state, message=message)


@bp.route("/imports/<int:batch_id>")
@roles_required(*UPLOADERS)
def show(batch_id: int) -> ResponseReturnValue:
    """One batch: counts, header mapping, issues (filterable), and what can be done next."""
    batch = _load_batch(batch_id)
    severity = request.args.get("severity", "").strip()
    field = request.args.get("field", "").strip()
    code = request.args.get("code", "").strip()
    all_issues = batch.issues or []
    issues = filtered(all_issues, severity, field, code)
    pages = max(1, math.ceil(len(issues) / ISSUE_PAGE))
    page = page_arg(pages)
    labels = LEDGER_LABELS
    fields_present = sorted({i.get("field") for i in all_issues if i.get("field")})
    counts = batch.counts or {}
    tab = "changes" if request.args.get("tab") == "changes" else "issues"
    details = batch.changes or {}
    changes = []
    change_pages = 1
    if tab == "changes":
        rows = change_rows(db(), details, sees_personal_data(batch.township_id))
        change_pages = max(1, math.ceil(len(rows) / CHANGE_PAGE))
        page = page_arg(change_pages)
        changes = rows[(page - 1) * CHANGE_PAGE : page * CHANGE_PAGE]
    effect = None
    if batch.committed_at is not None and batch.township is not None:
        effect = coverage_change(
            db(), app_config().profile, batch.township.code, batch.committed_at
        )
    return render_template(
        "imports/show.html",
        batch=batch,
        tab=tab,
        changes=changes,
        changes_total=details.get("total", 0),
        changes_listed=len(details.get("listed") or []),
        change_pages=change_pages,
        effect=effect,
        effect_known_at=(
            [
                clock.local(moment, app_config().timezone).isoformat(timespec="microseconds")
                for moment in (effect.before_known_at, effect.after_known_at)
            ]
            if effect
            else None
        ),
        counts=counts,
        has_errors=bool(counts.get("rejected")),
        issues=issues[(page - 1) * ISSUE_PAGE : page * ISSUE_PAGE],
        issue_total=len(issues),
        all_issue_total=len(all_issues),
        page=page,
        pages=pages,
        severity=severity,
        field=field,
        code=code,
        groups=code_groups(all_issues),
        fields_present=fields_present,
        labels=labels,
        cut_short=was_cut_short(all_issues),
        severity_counts={
            s: sum(1 for i in all_issues if i.get("severity") == s)
            for s in ("error", "warning", "note")
        },
    )


@bp.route("/imports/<int:batch_id>/issues.xlsx")
@roles_required(*UPLOADERS)
def issues_download(batch_id: int) -> ResponseReturnValue:
    """The batch's issue list as a workbook (the page's filters apply), with the problem rows
    as the clerk typed them to fix and upload again; every issue, not a page."""
    batch = _load_batch(batch_id)
    listing = batch_issues(db(), batch, app_config())
    severity = request.args.get("severity", "").strip()
    field = request.args.get("field", "").strip()
    code = request.args.get("code", "").strip()
    issues = filtered(listing.issues, severity, field, code)
    originals = batch_rows(db(), batch, app_config(), issues)
    buffer = io.BytesIO()
    write_workbook(batch, listing, issues, buffer, originals)
    buffer.seek(0)
    stem = batch.file_name.rsplit(".", 1)[0]
    return send_file(
        buffer,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=f"批次{batch.id}_{stem}_问题清单.xlsx",
    )


@bp.route("/imports/<int:batch_id>/changes.xlsx")
@roles_required(*UPLOADERS)
def changes_download(batch_id: int) -> ResponseReturnValue:
    """The batch's 变更明细 as a workbook: one row per changed field, masked as the page."""
    batch = _load_batch(batch_id)
    details = batch.changes or {}
    rows = [
        [c.sheet, c.row, c.village, c.household_no or "", c.head_name or "", label, before, after]
        for c in change_rows(db(), details, sees_personal_data(batch.township_id))
        for label, before, after in c.fields
    ]
    listed, total = len(details.get("listed") or []), details.get("total", 0)
    notes = [f"共 {total:,} 户有更新，只列出前 {listed:,} 户。"] if total > listed else []
    return xlsx_download(
        f"批次 {batch.id} 变更明细",
        [
            Column("工作表"),
            Column("行", "int", sums=False),
            Column("村"),
            Column("户号"),
            Column("户主"),
            Column("字段"),
            Column("修改前", width=24, wrap=True),
            Column("修改后", width=24, wrap=True),
        ],
        [[v if v is not None else "" for v in row] for row in rows],
        file_stem=f"批次{batch.id}_{batch.file_name.rsplit('.', 1)[0]}_变更明细",
        subtitle=f"“{batch.file_name}”更新的农户，逐项列出修改前与修改后的值",
        notes=notes,
    )


def start_batch_commit(
    batch: ImportBatch,
    kind: str,
    start: Any,
    *,
    accept_valid: bool,
    township_id: int | None,
    area: str,
) -> ResponseReturnValue:
    """Start writing a previewed batch in the background; show the job (``area``: the blueprint).

    ``start`` is the job's starter in ``heating.web.jobs`` (``start_commit`` or
    ``start_usage_commit``); a small file is written before the first page.
    """
    if batch.status != "preview":
        flash(f"批次 {batch.id} 不是待确认状态，不能写入。", "error")
        return redirect(url_for(f"{area}.show", batch_id=batch.id))
    token = jobs.create_job(
        app_runtime(),
        kind,
        user_id=current_user.id,
        township_id=township_id,
        file_name=batch.file_name,
        batch_id=batch.id,
        accept_valid=accept_valid,
    )
    _wait_briefly(start(token, batch.id, accept_valid=accept_valid, user_id=current_user.id))
    return redirect(url_for(f"{area}.job", token=token))


@bp.route("/imports/<int:batch_id>/commit", methods=["POST"])
@roles_required(*UPLOADERS)
def commit(batch_id: int) -> ResponseReturnValue:
    """Start writing a previewed batch: strict, or valid rows only."""
    batch = _load_batch(batch_id)
    return start_batch_commit(
        batch,
        "commit",
        jobs.start_commit,
        accept_valid=request.form.get("mode") == "valid",
        township_id=batch.township_id,
        area="imports",
    )


@bp.route("/imports/<int:batch_id>/repreview", methods=["POST"])
@roles_required(*UPLOADERS)
def repreview(batch_id: int) -> ResponseReturnValue:
    """Preview the same stored file again, as the database is now (a stale or expired one)."""
    batch = _load_batch(batch_id)
    stored = db().get(StoredFile, batch.sha256)
    if stored is None:
        abort(404)
    ledger_date = batch.ledger_date if batch.ledger_date_source == "option" else None
    token = _start_preview(
        stored.content,
        batch.file_name,
        batch.township,
        batch.township.code if batch.township else None,
        ledger_date,
    )
    return redirect(url_for("imports.job", token=token))


@bp.route("/imports/<int:batch_id>/cancel", methods=["POST"])
@roles_required(*UPLOADERS)
def cancel(batch_id: int) -> ResponseReturnValue:
    """Drop a preview that will not be written."""
    _load_batch(batch_id)
    session = db()
    cancel_batch(session, batch_id, user_id=current_user.id)
    session.commit()
    flash(f"已取消批次 {batch_id}，没有写入任何数据。", "info")
    return redirect(url_for("imports.index"))


@bp.route("/imports/<int:batch_id>/rollback", methods=["POST"])
@roles_required(*UPLOADERS)
def rollback(batch_id: int) -> ResponseReturnValue:
    """Undo a committed batch as a whole."""
    _load_batch(batch_id)
    session = db()
    try:
        rollback_batch(session, batch_id, user_id=current_user.id, tz=app_config().timezone)
        session.commit()
    except Refused as exc:
        session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("imports.show", batch_id=batch_id))
    flash(f"已撤销批次 {batch_id}：相关农户已恢复到导入前的状态。", "success")
    return redirect(url_for("imports.show", batch_id=batch_id))


@bp.route("/template")
@roles_required(*UPLOADERS)
def template() -> ResponseReturnValue:
    """Download the blank ledger template of a township (a clerk's own by default)."""
    code = scoped_township_code(request.args.get("township"))
    if not code:
        raise Refused("请选择乡镇：在“台账导入”页面点击本乡镇的台账模板链接下载。")
    township = db().scalar(select(Township).where(Township.code == code))
    if township is None:
        abort(404)
    buffer = io.BytesIO()
    write_template(db(), code, buffer)
    buffer.seek(0)
    name = f"{township.name}清洁取暖改造台账模板.xlsx"
    return send_file(
        buffer,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=name,
    )
