"""Background import jobs: a job that died with its process is reported as failed within a minute;
jobs run in job processes of their own, and one that dies is reported and replaced."""

from __future__ import annotations

import os
import signal
import threading
from datetime import timedelta

from sqlalchemy import func, select, update

from heating.models import Household, ImportJob, User, utcnow
from heating.processes import DIED_MESSAGE
from heating.web import jobs
from imports import job_process
from tests.support.web import batch_id_of, follow_job, post, upload


def _job(runtime, username: str = "bob") -> str:
    with runtime.session() as session:
        user_id = session.scalar(select(User.id).where(User.username == username))
    return jobs.create_job(
        runtime, "preview", user_id=user_id, township_id=None, file_name="台账.xlsx"
    )


def _silent_for(runtime, token: str, seconds: float) -> None:
    with runtime.session() as session:
        session.execute(
            update(ImportJob)
            .where(ImportJob.id == token)
            .values(updated_at=utcnow() - timedelta(seconds=seconds))
        )


def _updated_at(runtime, token: str):
    with runtime.session() as session:
        return session.scalar(select(ImportJob.updated_at).where(ImportJob.id == token))


def test_a_job_whose_process_died_is_failed_after_a_minute_not_fifteen(login, runtime) -> None:
    client = login("bob")
    token = _job(runtime)  # nobody runs it: its process is gone
    _silent_for(runtime, token, 30)
    page = client.get(f"/imports/jobs/{token}").get_data(as_text=True)
    assert 'http-equiv="refresh"' in page and "job-failed" not in page
    _silent_for(runtime, token, 61)
    page = client.get(f"/imports/jobs/{token}").get_data(as_text=True)
    assert 'id="job-failed"' in page and 'http-equiv="refresh"' not in page
    assert jobs.STALE_MESSAGE in page


def test_a_job_this_process_runs_stays_running_and_its_heartbeat_beats(login, runtime, app) -> None:
    client = login("bob")
    token = _job(runtime)
    started, release = threading.Event(), threading.Event()

    def work() -> None:
        started.set()
        assert release.wait(30)
        raise jobs.Refused("测试结束。")

    future = jobs.submit_job(app, token, work)
    try:
        assert started.wait(30)
        # A long commit may keep the database from taking heartbeats: held here, still running.
        _silent_for(runtime, token, 600)
        page = client.get(f"/imports/jobs/{token}").get_data(as_text=True)
        assert 'http-equiv="refresh"' in page
        other = _job(runtime)
        _silent_for(runtime, other, 600)
        jobs.beat_once()
        assert utcnow() - _updated_at(runtime, token) < timedelta(seconds=5)
        assert utcnow() - _updated_at(runtime, other) > timedelta(seconds=500)  # not ours
    finally:
        release.set()
        future.result(timeout=30)
    assert not jobs.held_here(token)
    page = client.get(f"/imports/jobs/{token}").get_data(as_text=True)
    assert "测试结束。" in page


TOWNSHIP = "140405001"
LEDGER = (
    "户号,户主姓名,村,改造状态,改造方式,完工日期\n"
    "J001,张三,南街村委会,已完工,煤改电,2021-09-01\n"
    "J002,李四,南街村委会,未改造,,\n"
).encode()


def _households(runtime) -> int:
    with runtime.session() as session:
        return session.scalar(select(func.count()).select_from(Household))


def test_a_ledger_is_read_and_written_in_a_job_process_and_one_that_dies_is_replaced(
    login, runtime
) -> None:
    """The preview and the commit run outside the web process (a commit no longer shares the
    worker's interpreter lock with its pages); a job process killed between jobs fails the
    next job with a clear message, nothing is written, and the job after that works again."""
    client = login("bob")
    first = batch_id_of(upload(client, LEDGER, "台账.csv", TOWNSHIP, "2021-10-31"))
    pids = job_process.job_process_ids()
    assert pids and os.getpid() not in pids
    for pid in pids:  # as the OOM killer would
        os.kill(pid, signal.SIGKILL)
    page = follow_job(client, post(client, f"/imports/{first}/commit", {"mode": "strict"}))
    text = page.get_data(as_text=True)
    assert 'id="job-failed"' in text and DIED_MESSAGE in text
    assert _households(runtime) == 0
    assert not set(job_process.job_process_ids()) & set(pids)
    page = follow_job(client, post(client, f"/imports/{first}/commit", {"mode": "strict"}))
    assert "台账已写入" in page.get_data(as_text=True)
    assert _households(runtime) == 2


def test_a_job_recorded_done_stays_done_when_its_process_dies_afterwards(login, runtime) -> None:
    """The job process records its work as done in the work's own transaction; dying after
    that (while returning memory, say) must not turn the clerk's page into a failure."""
    token = _job(runtime)
    with runtime.session() as session:
        session.execute(update(ImportJob).where(ImportJob.id == token).values(state="done"))
    job_process.finish(runtime, token, state="failed", message=DIED_MESSAGE)
    with runtime.session() as session:
        job = session.get(ImportJob, token)
        assert (job.state, job.message) == ("done", None)
    running = _job(runtime)
    job_process.finish(runtime, running, state="failed", message=DIED_MESSAGE)
    with runtime.session() as session:
        assert session.get(ImportJob, running).state == "failed"
