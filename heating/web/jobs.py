"""Ledger previews and commits (and usage commits) in a background thread, with progress in the database.

A 100k-row ledger takes longer to read than a request may last (a WSGI
server's worker timeout, a browser's patience).  The upload view stores an
``ImportJob`` row, hands the work to the app's ``ThreadPoolExecutor`` and
answers with a page that refreshes itself until the job is done.  Progress
lives in the database, so whichever worker process serves the refresh can
show it.

A job must never look alive after its process died (killed, restarted, out
of memory).  Two signs of life, so that the page says "failed" within a
minute instead of "正在读取…" for a quarter of an hour:

- this process knows the jobs it runs or has queued (``_LIVE``): a job it
  holds is running however long its commit keeps the database busy;
- a heartbeat thread writes ``updated_at`` of those jobs every
  ``HEARTBEAT_SECONDS``, for the other worker processes of a multi-process
  server.  A running job that no process holds and whose heartbeat is older
  than ``STALE_AFTER`` died with its process.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from datetime import date, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from heating import clock
from heating.errors import Refused
from heating.models import ImportBatch, ImportJob, utcnow
from heating.runtime import Runtime
from imports.batches import preview
from imports.commit import commit
from imports.usage_batches import commit_usage, reparse

log = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 1.0
# How often a process marks the jobs it holds as alive.
HEARTBEAT_SECONDS = 15.0
# A running job nobody holds, silent for this long, died with its worker process.
STALE_AFTER = timedelta(seconds=60)
FAILED_MESSAGE = "处理时出现系统错误，已记录。请稍后重新上传；如反复出现，请联系管理员。"
STALE_MESSAGE = "处理中断（服务可能已重启），请重新上传文件。"


def _runtime(app: Flask) -> Runtime:
    return app.extensions["heating"]


# Jobs this process has queued or is running: token → the runtime whose database holds them.
_LIVE: dict[str, Runtime] = {}
_LIVE_LOCK = threading.Lock()
_heartbeat: threading.Thread | None = None


def _hold(token: str, runtime: Runtime) -> None:
    global _heartbeat
    with _LIVE_LOCK:
        _LIVE[token] = runtime
        if _heartbeat is None or not _heartbeat.is_alive():
            _heartbeat = threading.Thread(target=_beat, name="heating-job-heartbeat", daemon=True)
            _heartbeat.start()


def _release(token: str) -> None:
    with _LIVE_LOCK:
        _LIVE.pop(token, None)


def held_here(token: str) -> bool:
    """Whether this process is running (or has queued) the job."""
    with _LIVE_LOCK:
        return token in _LIVE


def _beat() -> None:
    while True:
        time.sleep(HEARTBEAT_SECONDS)
        beat_once()


def beat_once() -> None:
    """Mark every job this process holds as alive (``updated_at`` = now)."""
    with _LIVE_LOCK:
        held: dict[int, tuple[Runtime, list[str]]] = {}
        for token, runtime in _LIVE.items():
            held.setdefault(id(runtime), (runtime, []))[1].append(token)
    for runtime, tokens in held.values():
        try:
            with runtime.session() as session:
                session.execute(
                    update(ImportJob)
                    .where(ImportJob.id.in_(tokens), ImportJob.state == "running")
                    .values(updated_at=utcnow())
                )
        except Exception:  # noqa: BLE001 - a busy or closed database: the next beat tries again
            log.debug("heartbeat skipped for jobs %s", tokens)


def create_job(
    runtime: Runtime,
    kind: str,
    *,
    user_id: int,
    township_id: int | None,
    file_name: str,
    batch_id: int | None = None,
    accept_valid: bool = False,
) -> str:
    """Store a running job and return its token."""
    token = secrets.token_hex(16)
    with runtime.session() as session:
        session.add(
            ImportJob(
                id=token,
                kind=kind,
                user_id=user_id,
                township_id=township_id,
                file_name=file_name,
                batch_id=batch_id,
                accept_valid=accept_valid,
                state="running",
            )
        )
    return token


def progress_writer(runtime: Runtime, token: str) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` callback that records at most once a second."""
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] < PROGRESS_EVERY_SECONDS and done < total:
            return
        last[0] = now
        try:
            with runtime.session() as session:
                session.execute(
                    update(ImportJob)
                    .where(ImportJob.id == token)
                    .values(done=done, total=total, updated_at=utcnow())
                )
        except OperationalError:  # progress is cosmetic; never fail the import for it
            log.warning("progress update skipped for job %s", token)

    return report


def _finish(
    runtime: Runtime,
    token: str,
    *,
    state: str,
    batch_id: int | None = None,
    message: str | None = None,
) -> None:
    with runtime.session() as session:
        values: dict[str, Any] = {"state": state, "updated_at": utcnow(), "message": message}
        if batch_id is not None:
            values["batch_id"] = batch_id
        session.execute(update(ImportJob).where(ImportJob.id == token).values(**values))


def _run(app: Flask, token: str, work: Callable[[Any, Callable[[int, int], None]], int]) -> None:
    """Run ``work(session, progress) -> batch id`` and record how it ended."""
    runtime = _runtime(app)
    progress = progress_writer(runtime, token)
    with app.app_context():
        try:
            with runtime.session() as session:
                batch_id = work(session, progress)
                session.execute(
                    update(ImportJob)
                    .where(ImportJob.id == token)
                    .values(state="done", batch_id=batch_id, updated_at=utcnow())
                )
        except Refused as exc:
            _finish(runtime, token, state="failed", message=exc.message)
        except Exception:
            app.logger.exception("import job %s failed", token)
            _finish(runtime, token, state="failed", message=FAILED_MESSAGE)
        finally:
            _release(token)


def submit_job(
    app: Flask, token: str, work: Callable[[Any, Callable[[int, int], None]], int]
) -> Future:
    """Queue ``work(session, progress) -> batch id``, held as alive from now until it ends."""
    _hold(token, _runtime(app))
    try:
        return app.extensions["heating_jobs"].submit(_run, app, token, work)
    except BaseException:
        _release(token)
        raise


def start_preview(
    token: str,
    data: bytes,
    file_name: str,
    *,
    township_code: str | None,
    user_id: int,
    ledger_date: date | None = None,
) -> Future:
    """Read and judge an uploaded ledger in the background (imports.batches.preview)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    config = _runtime(app).config

    def work(session: Any, progress: Callable[[int, int], None]) -> int:
        batch, _ = preview(
            session,
            data,
            file_name,
            user_id=user_id,
            township_code=township_code,
            config=config,
            ledger_date=ledger_date,
            progress=progress,
        )
        return batch.id

    return submit_job(app, token, work)


def start_commit(token: str, batch_id: int, *, accept_valid: bool, user_id: int) -> Future:
    """Write a previewed batch in the background (imports.commit.commit)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    config = _runtime(app).config

    def work(session: Any, progress: Callable[[int, int], None]) -> int:
        batch, _ = commit(
            session,
            batch_id,
            accept_valid=accept_valid,
            user_id=user_id,
            config=config,
            progress=progress,
        )
        return batch.id

    return submit_job(app, token, work)


def effective_state(job: ImportJob) -> tuple[str, str | None]:
    """The job's state and message; a running job that died with its process is failed."""
    if job.state == "running" and not held_here(job.id) and utcnow() - job.updated_at > STALE_AFTER:
        return "failed", STALE_MESSAGE
    return job.state, job.message


def start_usage_commit(token: str, batch_id: int, *, accept_valid: bool, user_id: int) -> Future:
    """Write a previewed usage batch in the background (imports.usage_batches.commit_usage)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    config = _runtime(app).config

    def work(session: Any, progress: Callable[[int, int], None]) -> int:
        batch = session.get(ImportBatch, batch_id)
        parsed = reparse(session, batch, config, clock.today(config.timezone))
        commit_usage(session, batch_id, parsed, accept_valid=accept_valid, user_id=user_id)
        return batch_id

    return submit_job(app, token, work)
