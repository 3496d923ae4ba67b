"""Background import jobs: a job that died with its process is reported as failed within a minute."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select, update

from heating.models import ImportJob, User, utcnow
from heating.web import jobs


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

    def work(session, progress) -> int:
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
