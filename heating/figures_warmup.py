"""After a ledger commit, its district's figures computed once, before the pages ask (issue 17).

A clerk's commit changes its district's data version, and the next page of
that district — in any worker — judged the district's use again: about 2 s
of CPU for 屯留区 on the city demo, paid by the first planner to click (the
load test's village page at p95).  With figures shared by the app's
processes (``heating.shared_figures``) the import process that wrote the
ledger computes them right after, under the keys the pages ask for (the
district's village facts with their evidence, now, by the configured
counting rules), and the pages find them stored.  A page asking meanwhile
waits for that claim instead of computing beside it; a page that asked in the
moment between the commit and this computation claimed them first, and this
reads what it stored (under the load test, at six requests a second, that is
the common case: README, "Load test").

Nothing here changes a figure: it only computes earlier what a page would
compute.  When sharing is off (SQLite, one process) nothing is done: the
import process's own memory serves no page.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from heating import shared_figures
from heating.config import Config
from heating.models import District, ImportBatch, Township
from heating.processes import pool_runtime, run_in_process
from heating.village_facts import village_facts

log = logging.getLogger(__name__)


def warm_after_commit(config: Config, batch_id: int) -> None:
    """Compute, in an import process, the kept figures of the district ``batch_id`` wrote."""
    try:
        run_in_process("imports", _warm, config, batch_id)
    except Exception:  # the commit stands; the first page computes the figures instead
        log.exception("figures after the commit of batch %s not computed", batch_id)


def _warm(config: Config, batch_id: int) -> None:
    with pool_runtime(config) as runtime:
        if not shared_figures.enabled(runtime.engine):
            return
        with runtime.session() as session:
            code = session.scalar(
                select(District.code)
                .join(Township, Township.district_id == District.id)
                .join(ImportBatch, ImportBatch.township_id == Township.id)
                .where(ImportBatch.id == batch_id, ImportBatch.status == "committed")
            )
            if code is not None:
                village_facts(session, district_code=code)
