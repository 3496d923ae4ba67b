"""Ledger previews and commits (and usage commits) in the background, with progress in the database.

A 100k-row ledger takes longer to read than a request may last (a WSGI
server's worker timeout, a browser's patience).  The upload view stores an
``ImportJob`` row and hands the job to a job process (``imports.job_process``:
a process of its own, so a commit does not share the interpreter lock with
the pages this worker serves); a thread of the app's ``ThreadPoolExecutor``
waits for it.  The view answers with a page that refreshes itself until the
job is done.  Progress lives in the database, so whichever worker process
serves the refresh can show it.

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

from heating.errors import Refused
from heating.models import ImportJob, utcnow
from heating.processes import ProcessDied
from heating.runtime import Runtime
from imports.job_process import FAILED_MESSAGE, finish, run_in_job_process

log = logging.getLogger(__name__)

# How often a process marks the jobs it holds as alive.
HEARTBEAT_SECONDS = 15.0
# A running job nobody holds, silent for this long, died with its worker process.
STALE_AFTER = timedelta(seconds=60)
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


def _run(app: Flask, token: str, work: Callable[[], None]) -> None:
    """Run ``work()``, which records how the job ended; record it here when it could not."""
    runtime = _runtime(app)
    with app.app_context():
        try:
            work()
        except Refused as exc:
            finish(runtime, token, state="failed", message=exc.message)
        except ProcessDied as exc:
            app.logger.error("import job %s: its process died", token)
            finish(runtime, token, state="failed", message=str(exc))
        except Exception:
            app.logger.exception("import job %s failed", token)
            finish(runtime, token, state="failed", message=FAILED_MESSAGE)
        finally:
            _release(token)


def submit_job(app: Flask, token: str, work: Callable[[], None]) -> Future:
    """Queue ``work()`` in a thread of this process, the job held as alive from now until it ends."""
    _hold(token, _runtime(app))
    try:
        return app.extensions["heating_jobs"].submit(_run, app, token, work)
    except BaseException:
        _release(token)
        raise


def _submit_to_job_process(token: str, kind: str, **arguments: Any) -> Future:
    """Run an import job in a job process (``imports.job_process``); a thread here waits for it."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    config = _runtime(app).config

    def work() -> None:
        run_in_job_process(config, token, kind, **arguments)

    return submit_job(app, token, work)


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
    return _submit_to_job_process(
        token,
        "preview",
        data=data,
        file_name=file_name,
        township_code=township_code,
        user_id=user_id,
        ledger_date=ledger_date,
    )


def start_commit(token: str, batch_id: int, *, accept_valid: bool, user_id: int) -> Future:
    """Write a previewed batch in the background (imports.commit.commit; its district's
    figures are computed before it commits, ``heating.figures_warmup``)."""
    return _submit_to_job_process(
        token,
        "commit",
        batch_id=batch_id,
        accept_valid=accept_valid,
        user_id=user_id,
    )


def start_usage_commit(token: str, batch_id: int, *, accept_valid: bool, user_id: int) -> Future:
    """Write a previewed usage batch in the background (imports.usage_batches.commit_usage)."""
    return _submit_to_job_process(
        token, "usage_commit", batch_id=batch_id, accept_valid=accept_valid, user_id=user_id
    )


def effective_state(job: ImportJob) -> tuple[str, str | None]:
    """The job's state and message; a running job that died with its process is failed."""
    if job.state == "running" and not held_here(job.id) and utcnow() - job.updated_at > STALE_AFTER:
        return "failed", STALE_MESSAGE
    return job.state, job.message
