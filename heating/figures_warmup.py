"""Figures computed before the pages ask: by each ledger commit, and when the app starts (issue 17).

A clerk's commit changes its district's data version, and the next page of
that district — in any worker — judged the district's use again: about 2 s
of CPU for 屯留区 on the city demo, paid by the first planner to click (the
load test's village page at p95).  With figures shared by the app's
processes (``heating.shared_figures``) the commit computes them itself, in
its own transaction (which sees the rows it wrote), under the version its
commit will make (``heating.data_version.reserve``), and stores them for
the other processes before it commits: the first page after the commit
finds them, with no moment in which a page could claim them first (as it
did when they were computed after the commit: README, "Load test").

If another commit of the same district lands meanwhile, this commit writes
a fresh version instead of the chosen one, and what was stored is never
read.  Nothing here changes a figure: it only computes earlier what a page
would compute.  When sharing is off (SQLite by default, one process)
nothing is done: the import process's own memory serves no page.

**At start.** Every district's figures are cold when the app starts, and
the first planner of each district paid its judgement (the load test's
slowest pages were its first minute).  So an app that shares its figures
computes every district's in one of its import processes, in the
background, as it starts: one worker computes, the others find the claims
and read.  Pages asking meanwhile wait for the claim of their district
rather than compute beside it.  Both follow the setting
``compute_figures_ahead`` (on by default; the tests turn it off but where
they test it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from heating import data_version, shared_figures
from heating.config import Config
from heating.evidence import season_judged
from heating.evidence_cache import engine_of
from heating.models import District
from heating.processes import pool_runtime, run_in_process
from heating.runtime import Runtime
from heating.seasons import counting_usage
from heating.usage_flags import judged_households
from heating.village_facts import village_facts

log = logging.getLogger(__name__)


def compute_before_commit(session: Session, config: Config) -> bool:
    """Compute and share the kept figures of the districts ``session`` wrote, as they will be
    once it commits; True when they were.  The last step before the commit: a write after it
    would make them worthless (``data_version.reserve``).  Setting ``compute_figures_ahead``.

    Only on PostgreSQL: on SQLite the commit holds the database's one write lock, so
    the figures could not be stored by another connection before it ends.
    """
    engine = engine_of(session)
    if not config.compute_figures_ahead or engine.dialect.name != "postgresql":
        return False
    if not shared_figures.enabled(engine):
        return False
    districts = data_version.reserve(session)
    if not districts:
        return False
    try:
        with session.begin_nested():  # a failed statement must not abort the commit's transaction
            districts_figures(session, sorted(districts))
    except Exception:  # the commit stands; the first page computes the figures instead
        log.exception("figures of %s not computed before the commit", sorted(districts))
        return False
    return True


def warm_at_start(runtime: Runtime) -> threading.Thread | None:
    """Start computing every district's figures in an import process (logs when done), where
    figures are computed ahead and shared; the thread that waits for it, else None."""
    if not runtime.config.compute_figures_ahead or not shared_figures.enabled(runtime.engine):
        return None
    thread = threading.Thread(
        target=_warm_logged, args=(runtime.config,), name="figures-warmup", daemon=True
    )
    thread.start()
    return thread


def _warm_logged(config: Config) -> None:
    started = time.monotonic()
    try:
        districts = run_in_process("imports", warm_every_district, config)
    except Exception:  # the pages compute what is missing
        log.exception("figures not computed at start")
        return
    log.info("figures warm: %d districts in %.1f s", districts, time.monotonic() - started)


def warm_every_district(config: Config) -> int:
    """In a pool process: every district's figures (``district_figures``), then the
    installation's facts (built from them); the number of districts."""
    with pool_runtime(config) as runtime:
        if not shared_figures.enabled(runtime.engine):
            return 0
        with runtime.session() as session:
            codes = session.scalars(select(District.code).order_by(District.code)).all()
            districts_figures(session, codes)
            village_facts(session)
    return len(codes)


def districts_figures(session: Session, codes: Sequence[str]) -> None:
    """What the pages of each district ask first: its village facts (dashboard, lists, maps,
    APIs) and its households judged in the season the measures judge (the village page's
    evidence list).  The facts judge only a district holding use evidence; the village
    page lists the judged households of any district (README, "Load test")."""
    settings = counting_usage(session)
    year = season_judged(session, None, settings)
    for code in codes:
        village_facts(session, district_code=code)
        if year is not None:
            judged_households(session, year, settings, district_code=code)
