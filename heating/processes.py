"""Pools of long-lived processes for the web app's heavy work: import jobs and report builds.

Why processes: a web worker runs its request threads under one interpreter
lock.  A 50,000-row commit (≈ 8 s of Python) or a district's report (3–5 s)
in one of them made every other page of that worker wait for the lock — and
a page that asks the database twenty times waits for it twenty times.  In a
process of its own the heavy work is scheduled by the operating system
beside the pages (README, "Load test").

Each app process keeps one pool per kind of work (``POOL_SIZES``), started
when first needed from the fork server of ``imports.isolation`` (a clean,
single-threaded process; never a ``fork()`` of the threaded web worker, and
no re-import of the server's entry script) and kept for later work.  What a
pool runs is a module-level function given plain, picklable data (the
settings, ids, dates); it opens its own engine.  A process that dies
(killed, out of memory) breaks its pool: the caller gets ``ProcessDied``
and the next call gets a new pool.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any, TypeVar

from heating.config import Config
from heating.runtime import Runtime, open_keyring, open_runtime
from imports import isolation

# Processes per app process: two clerks of one worker commit side by side; report
# builds take turns (a kept report serves the downloads that follow).
POOL_SIZES = {"imports": 2, "reports": 1}
# How much a pool's processes yield the cores to the pages (os.nice): a report build
# is several seconds of CPU that a city official waits for anyway, while 50 planners'
# pages each want a few milliseconds now; the load test saw report builds take about
# one of two cores. Import jobs keep the pages' priority (their goal: ≤ 2 × alone).
POOL_NICENESS = {"imports": 0, "reports": 10}
DIED_MESSAGE = "处理进程意外退出（可能是内存不足），请稍后重试；如反复出现，请联系管理员。"

T = TypeVar("T")

_pools: dict[str, ProcessPoolExecutor] = {}
_lock = threading.Lock()
# In a pool process: the runtimes opened, by settings (one installation in production,
# one per test in the tests), the oldest closed beyond RUNTIMES_KEPT.
RUNTIMES_KEPT = 4
_runtimes: OrderedDict[str, Runtime] = OrderedDict()


class ProcessDied(RuntimeError):
    """The process ended before answering (killed, out of memory)."""


def _pool(name: str) -> ProcessPoolExecutor:
    with _lock:
        pool = _pools.get(name)
        if pool is None:
            niceness = POOL_NICENESS[name]
            pool = ProcessPoolExecutor(
                max_workers=POOL_SIZES[name],
                mp_context=isolation.job_context(),
                initializer=os.nice if niceness else None,
                initargs=(niceness,) if niceness else (),
            )
            _pools[name] = pool
        return pool


def run_in_process(name: str, work: Callable[..., T], *args: Any) -> T:
    """``work(*args)`` in a process of the pool ``name``; wait for its answer (from a thread).

    The answer (or the exception) comes back pickled; raises ``ProcessDied``
    when the process died, after which that pool is replaced.
    """
    pool = _pool(name)
    try:
        return pool.submit(work, *args).result()
    except BrokenProcessPool as exc:
        with _lock:
            if _pools.get(name) is pool:
                del _pools[name]
        pool.shutdown(wait=False)
        raise ProcessDied(DIED_MESSAGE) from exc


def process_ids(name: str) -> list[int]:
    """The pids of this process's pool ``name`` (for tests and diagnostics)."""
    with _lock:
        processes = getattr(_pools.get(name), "_processes", None) or {}
        return sorted(processes)


@contextmanager
def pool_runtime(config: Config) -> Iterator[Runtime]:
    """In a pool process: the runtime for ``config``, kept between calls, connections closed after.

    Kept, because its engine keys the kept figures (``heating.evidence_cache``): a
    build reuses what earlier ones computed under the same keys while the data
    version stands (the districts with evidence, say; a report's facts are keyed by
    its own known-at time), and no engine is made per call.  Connections
    closed after each call (``Engine.dispose`` keeps the engine): an idle one would
    hold a server slot, and a database someone wants to drop.
    """
    with _lock:
        runtime = _runtimes.pop(config.settings_key(), None)
        if runtime is None:
            runtime = open_runtime(config)
        else:
            open_keyring(config)  # the key of these settings, as open_runtime activates it
        _runtimes[config.settings_key()] = runtime
        while len(_runtimes) > RUNTIMES_KEPT:
            _runtimes.popitem(last=False)[1].engine.dispose()
    try:
        yield runtime
    finally:
        runtime.engine.dispose()
