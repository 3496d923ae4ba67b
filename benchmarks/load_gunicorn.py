"""gunicorn hooks for ``benchmarks/load.py``: log each request's CPU time in the app.

The wall time a user sees on a shared machine is mostly waiting for a core;
the CPU the request itself used (``time.thread_time`` of the thread serving
it, so the other threads of the worker are not counted; a clerk's import job
runs in a job process of its own, ``imports.job_process``) is what sizes a
server.  ``load.py`` reads these lines back.
"""

from __future__ import annotations

import logging
import time
from typing import Any

CPU_MARK = "request-cpu"


def pre_request(worker: Any, req: Any) -> None:
    req.heating_cpu = time.thread_time()


def post_request(worker: Any, req: Any, environ: Any, resp: Any) -> None:
    start = getattr(req, "heating_cpu", None)
    if start is not None:
        spent = (time.thread_time() - start) * 1000
        worker.log.info("%s %s %s %.1f", CPU_MARK, req.method, req.uri, spent)


def post_fork(server: Any, worker: Any) -> None:
    """Show the app's start-up computation of figures (``heating.figures_warmup``) in the log:
    ``load.py`` starts the users once every worker has logged it."""
    logger = logging.getLogger("heating.figures_warmup")
    logger.setLevel(logging.INFO)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("[%(asctime)s] [%(process)d] %(message)s"))
    logger.addHandler(handler)
