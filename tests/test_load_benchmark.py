"""benchmarks/load.py's machinery, briefly: gunicorn workers, locust users, two clerks at once.

The real load test runs for minutes on the demo (see README "性能 / Benchmarks");
this runs its parts for a few seconds on the tiny district so they do not rot:
the server as README runs it (gunicorn; one threaded worker here: each further worker only
imports the app and starts its fork server again), three simulated
users through the login form and the page mix, and two clerks of different
townships uploading and committing through the web at the same time.  Then
both commits must have landed and the counts the pages show equal a replay of
the household history.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

# Found, not imported: importing locust would let gevent patch this test process.
for tool in ("locust", "gunicorn"):
    if importlib.util.find_spec(tool) is None:
        pytest.skip(f"{tool} comes with the [bench] extra", allow_module_level=True)

ROOT = Path(__file__).resolve().parent.parent


def load_module():
    spec = importlib.util.spec_from_file_location("load_benchmark", ROOT / "benchmarks" / "load.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_users_browse_while_two_clerks_commit(runtime, standard, tmp_path) -> None:
    load = load_module()
    rows = 200
    plan = load.make_plan(runtime, users=3, rows=rows)
    assert [code for _, code, _ in plan.clerks] == ["140405001", "140405101"]
    ledgers = load.write_ledgers(runtime, plan, rows, tmp_path)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan.locust_plan((0.5, 1.0))), "utf-8")
    key = Path(runtime.config.encryption_key_file)
    prefix = tmp_path / "locust"
    with load.Server(runtime.config.database_url, key, tmp_path, workers=1, threads=4) as server:
        locust = load.start_locust(server.base, plan_file, 3, 5, prefix, 1.0)
        runs = load.clerks_at_once(server.base, plan, ledgers, rows)
        assert locust.wait(timeout=120) == 0, prefix.with_suffix(".log").read_text()
    result = load.read_locust(prefix)
    spent = load.read_cpu(server.log_path)  # the app's CPU per request, from gunicorn's hooks
    assert sum(len(v) for v in spent.values()) >= result.total.requests
    assert len(spent["clerk or login"]) >= 10
    assert result.total.requests > 6
    assert result.total.failures == 0, result.failures
    assert {p.kind for p in result.pages} >= {
        f"{load.LOGIN_KIND} (GET)",
        f"{load.LOGIN_KIND} (POST)",
    }
    for run in runs:
        assert run.error is None, run.error
        assert run.preview_s is not None and run.commit_s is not None
        ok, what = load.landed(runtime, run)
        assert ok, what
    assert load.replay_matches(runtime) == (True, [])


def test_the_exit_status_follows_every_goal_the_table_shows() -> None:
    """A run that misses a page's p95 or a commit's 2 × is a failed run, not only one with errors."""
    load = load_module()

    def page(kind: str, p95: float) -> object:
        return load.PageStats(kind, 10, 0, 50.0, p95, p95, 1.0)

    pages = [
        page("dashboard", 630.0),
        page("village page", 1100.0),
        page(f"{load.REPORT_KIND} (each request)", 87_000.0),  # no p95 goal
        page(f"{load.LOGIN_KIND} (POST)", 1_500.0),  # no p95 goal
    ]
    result = load.LoadResult(pages, page("all", 1_900.0))
    landed = [(True, "批次 1"), (True, "批次 2")]
    assert load.missed_goals(result, 0, True, landed, [1.78, 1.42]) == [
        "village page p95 1100 ms > 1000 ms"
    ]
    assert load.missed_goals(result, 0, True, landed, [2.38, None]) == [
        "village page p95 1100 ms > 1000 ms",
        "写入为单独的 2.38 × > 2 ×",
    ]
    pages[1] = page("village page", 1000.0)
    assert load.missed_goals(result, 0, True, landed, [2.0, 1.9]) == []
    assert load.missed_goals(result, 1, False, [(True, "批次 1"), (False, "超时")], [None]) == [
        "错误 1 个",
        "覆盖率与历史重放不一致",
        "未写入：超时",
    ]
