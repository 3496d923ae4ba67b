"""Import jobs (ledger previews and commits, usage commits) in processes of their own.

Why not a thread of the web worker, as before: a 50,000-row commit is about
8 s of Python.  In a thread it shared the worker's interpreter lock with the
pages that worker served, so under the load test (50 planners on 2 cores)
every page of that worker waited behind the commit and the commit behind
the pages (6–10 × its time alone; README, "Load test").  In a process of its
own the operating system shares the cores between the commit and the pages.

How: each app process keeps a small pool of import processes
(``heating.processes``), started from the fork server of
``imports.isolation`` and kept for later jobs.  A job gets the app's settings and its arguments as
plain data, opens its own engine, does the work and records how it ended in
its ``ImportJob`` row — in the same transaction as the work, so a job is
"done" exactly when its batch is written.  The web worker waits for it in a
thread (``heating.web.jobs``), keeps the job's heartbeat, and fails the job
itself only when the job process died without recording anything.

A job's own reading of the file still happens in the limited child of
``imports.isolation.run_isolated``: the job process is not a sandbox.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from heating import clock
from heating.config import Config
from heating.errors import Refused
from heating.figures_warmup import compute_before_commit
from heating.models import ImportBatch, ImportJob, utcnow
from heating.processes import pool_runtime, process_ids, run_in_process
from heating.runtime import Runtime
from imports import isolation
from imports.batches import preview
from imports.commit import commit
from imports.usage_batches import commit_usage, reparse

log = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 1.0
FAILED_MESSAGE = "处理时出现系统错误，已记录。请稍后重新上传；如反复出现，请联系管理员。"

Progress = Callable[[int, int], None]


def progress_writer(runtime: Runtime, token: str) -> Progress:
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


def finish(
    runtime: Runtime, token: str, *, state: str, batch_id: int | None = None, message: str | None
) -> None:
    """Record how a running job ended (``failed`` with the message the clerk reads).

    Only a job still running: a job process that died after recording its work
    as done (while returning memory, say) leaves it done.
    """
    with runtime.session() as session:
        values: dict[str, Any] = {"state": state, "updated_at": utcnow(), "message": message}
        if batch_id is not None:
            values["batch_id"] = batch_id
        session.execute(
            update(ImportJob)
            .where(ImportJob.id == token, ImportJob.state == "running")
            .values(**values)
        )


def _preview(
    session: Session,
    config: Config,
    progress: Progress,
    *,
    data: bytes,
    file_name: str,
    township_code: str | None,
    user_id: int,
    ledger_date: date | None,
) -> int:
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


def _commit(
    session: Session,
    config: Config,
    progress: Progress,
    *,
    batch_id: int,
    accept_valid: bool,
    user_id: int,
) -> int:
    batch, _ = commit(
        session,
        batch_id,
        accept_valid=accept_valid,
        user_id=user_id,
        config=config,
        progress=progress,
    )
    compute_before_commit(session, config)  # the district's pages find its figures after the commit
    return batch.id


def _usage_commit(
    session: Session,
    config: Config,
    progress: Progress,
    *,
    batch_id: int,
    accept_valid: bool,
    user_id: int,
) -> int:
    batch = session.get(ImportBatch, batch_id)
    parsed = reparse(session, batch, config, clock.today(config.timezone))
    commit_usage(session, batch_id, parsed, accept_valid=accept_valid, user_id=user_id)
    return batch_id


WORK: dict[str, Callable[..., int]] = {
    "preview": _preview,
    "commit": _commit,
    "usage_commit": _usage_commit,
}


def run_job(config: Config, token: str, kind: str, arguments: dict[str, Any]) -> None:
    """In a job process: do the work and record how it ended, with an engine of its own."""
    with pool_runtime(config) as runtime:
        progress = progress_writer(runtime, token)
        try:
            with runtime.session() as session:
                batch_id = WORK[kind](session, config, progress, **arguments)
                session.execute(
                    update(ImportJob)
                    .where(ImportJob.id == token)
                    .values(state="done", batch_id=batch_id, updated_at=utcnow())
                )
        except Refused as exc:
            finish(runtime, token, state="failed", message=exc.message)
        except Exception:
            log.exception("import job %s failed", token)
            finish(runtime, token, state="failed", message=FAILED_MESSAGE)
    isolation.release_freed_memory()  # a 1M-row commit's heap goes back before the next job


def run_in_job_process(config: Config, token: str, kind: str, **arguments: Any) -> None:
    """Run a job in an import process (``heating.processes``) and wait for it.

    Raises ``heating.processes.ProcessDied`` when the process died; every other
    outcome the job recorded itself.
    """
    run_in_process("imports", run_job, config, token, kind, arguments)


def job_process_ids() -> list[int]:
    """The pids of this process's import processes (for tests and diagnostics)."""
    return process_ids("imports")
