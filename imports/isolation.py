"""Parse untrusted files in a child process that may die without taking the server along.

A spreadsheet or boundary file comes from a user, and the libraries that read
it are not ours: python-calamine's Rust side *aborts the process* when a
1.8 KB xlsx declares a 1,000,000 × 16,384 grid (no Python exception to
catch), an 868-byte .ods expands to gigabytes, GDAL reads a million features
into one frame.  ``imports.dimensions`` refuses the hostile shapes we know
before any grid is built; this module is the net under everything else:
whatever a library does with a file, it does it in a child process with an
address-space limit (``RLIMIT_AS`` = ``import_max_memory_mb``), no core
dumps, and a time limit (``import_max_seconds`` of CPU time; a child that
stops making progress is killed after ``WALL_FACTOR`` times that in wall
time), and the server only
sees a result, a refusal, or a dead child that it turns into a clear Chinese
refusal (``file_too_large_to_read``, ``file_read_timeout``).

Design decisions
----------------
*Where the boundary goes.*  The child reads **and parses**: for a ledger it
runs read → header → clean → validate → resolve villages and returns the
compact ``ParsedLedger`` (``LedgerRow`` keeps one tuple of values per row),
never raw rows: a 1M-row sheet as Python lists is several times the parsed
ledger and would land in the server's memory.  What parsing needs from the
database (the village index, the ID salt, the district's extent and heat
sources) is loaded by the parent beforehand and handed over as plain data,
so the child never opens a database connection.  Diff and commit stay in the
parent, which owns the transaction.

*How the child starts.*  The server is multi-threaded (waitress threads,
background import threads): ``fork`` would copy locks held by other threads
(a deadlock waiting to happen) and the server's whole address space into the
child's memory limit.  ``spawn`` pays an interpreter start and the imports
(≈ 0.5 s) on every upload.  We use ``forkserver``: one clean single-threaded
process, started on first use, that has already imported the parsing modules
(``PRELOAD``; GDAL and geopandas too, ``PRELOAD_GEO``, where the process has
them loaded anyway — the web app, the tests — and not for ``heating
import``; numpy comes with openpyxl, single-threaded) and forks each child from itself: ≈ 6 ms per child after a start of
≈ 0.5–0.8 s once per server process (or once per CLI command).  Unlike
multiprocessing's default, the child does not import the parent's
``__main__`` (``_Popen``): it would re-run a user's script.

*How the result comes back.*  The child pickles its messages straight into a
pipe and the parent unpickles from the stream as it arrives: neither side
ever holds the whole pickle as one bytes object.  A ledger's rows travel in
parts of 5,000 while the child is still reading (``emit`` → ``on_part``), as
plain tuples that the parent turns back into ``LedgerRow`` objects with
``LedgerRow(tuple)`` (no Python call per row), so the child never holds all
rows and parsing overlaps the transfer.  Progress reports travel on the same
pipe.  The child leaves with ``os._exit`` after the last flush instead of
freeing its objects one by one.  The parent unpickles with an allow-list
(our own ``imports.*`` classes, dates, decimals): if a library bug ever let a
crafted file take over the child, it still could not send the server a
pickle that runs code.

Measured on the 2-core development machine under load (``benchmarks/
import_ledgers.py``): the preview of a 100k-row ledger costs about the same
wall time as in one process (the parent unpickles while the child parses)
and ≈ 1 s more CPU in all (the dimension scan and the pickling); a 10k-row
preview ≈ 0.2–0.3 s more.  A 1M-row .xlsx ledger (streamed from its XML,
``imports.streaming_xlsx``) ends its parse with ≈ 0.3 GB in the child and
≈ 1.0 GB of parsed rows in the parent, both alive at once (≈ 1.34 GB with the
fork server; with calamine's whole grid the child alone was 1.4 GB).

*How failures map.*  A ``Refused`` raised in the child (an unreadable file, a
declared grid too large) comes back as the same refusal.  ``MemoryError``, or
a child killed by a signal (the Rust abort is ``SIGABRT``, the kernel's OOM
killer ``SIGKILL``), is ``file_too_large_to_read`` (``ChildKilled`` for a signal: the
ledger parse then reads once more without trusting a declared size); the CPU limit (``SIGXCPU``) and the wall-clock
backstop are ``file_read_timeout``.  Any other exception in the child is a bug: it is
re-raised in the parent with the child's traceback, never swallowed.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import multiprocessing
import multiprocessing.context
import os
import pickle
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import forkserver, popen_forkserver, reduction, spawn, util
from multiprocessing.context import set_spawning_popen
from typing import Any

from heating.errors import Refused
from imports.child_messages import Emitter, Recorded, SafeUnpickler, loads_checked, replay
from imports.issues import LedgerRejected

__all__ = [
    "ChildFailed",
    "ChildKilled",
    "ChildLimits",
    "job_context",
    "loads_checked",
    "replay",
    "run_isolated",
]

log = logging.getLogger(__name__)
MB = 1024 * 1024
# Modules the fork server imports once, so that each child starts ready to parse.
PRELOAD = ["imports.isolation", "imports.pipeline", "imports.registry", "python_calamine"]
PRELOAD_GEO = ["pyogrio", "geopandas", "geo.boundary_files", "geo.boundary_reading"]
# Exit codes of the child besides 0.
EXIT_MEMORY = 3
# A child that uses no CPU (stuck) is killed after this many times the CPU limit in wall time.
WALL_FACTOR = 3
PIPE_BYTES = 1 << 20
EXIT_ERROR = 4

_context_lock = threading.Lock()
_context: Any = None
# What children reported in this process (benchmarks, diagnostics): the largest peak
# RSS in MB, and the CPU seconds of the last one.
peak_child_rss_mb = 0.0
last_child_cpu_s = 0.0


@dataclass(frozen=True)
class ChildLimits:
    """What a child may use: address space (MB) and CPU seconds (wall: ``WALL_FACTOR`` ×)."""

    memory_mb: int
    seconds: float

    @classmethod
    def from_config(cls, config: Any) -> ChildLimits:
        return cls(int(config.import_max_memory_mb), float(config.import_max_seconds))


class ChildFailed(RuntimeError):
    """The child raised something that is not a refusal: a bug, with the child's traceback."""


class ChildKilled(LedgerRejected):
    """``file_too_large_to_read`` from a child killed by a signal (a library's abort, the OOM
    killer), not one that reported running out of memory: a caller may try again more warily."""


# Numeric libraries size their thread pools (thread stacks, buffers) by the machine's cores
# when imported: openpyxl imports numpy when it can, and the fork server imports openpyxl.
ONE_THREAD = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _mp_context() -> Any:
    """The forkserver context, its server running with single-threaded numeric libraries.

    The fork server's address space is every child's starting point and counts
    against the child's ``RLIMIT_AS``: on a 64-core machine OpenBLAS' 64
    threads would take hundreds of MB of it.  The server is (re)started with
    ``ONE_THREAD`` set; the variables are set only while it starts.
    """
    global _context
    with _context_lock:
        if _context is None:
            ctx = multiprocessing.get_context("forkserver")
            # A process that has GDAL and pandas loaded (the web app, the boundaries command,
            # the tests) reads boundary files too: its fork server holds them as well, so a
            # boundary file's child starts in milliseconds instead of importing them (≈ 1 s).
            geo = PRELOAD_GEO if "geopandas" in sys.modules else []
            ctx.set_forkserver_preload(PRELOAD + geo)
            _context = ctx
        saved = {name: os.environ.get(name) for name in ONE_THREAD}
        os.environ.update(dict.fromkeys(ONE_THREAD, "1"))
        try:
            forkserver.ensure_running()  # quick when it runs; starts it otherwise
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        return _context


def start_fork_server() -> None:
    """Start the fork server now (it imports ``PRELOAD`` in the background).

    For a long-running single process (``heating serve``): the first upload
    then does not wait for the imports.  Not before a ``fork()`` of the
    server itself (gunicorn ``--preload``): the workers would share it.
    """
    _mp_context()


class _Popen(popen_forkserver.Popen):
    """Start a fork-server child that does not run the parent's main script.

    multiprocessing makes each child import the parent's ``__main__`` (the
    server's entry script, a user's script, a benchmark) so that functions
    defined there can be found.  Our children run only ``imports.*``
    functions: importing a main script would at best cost time and at worst
    run it again.  This is ``popen_forkserver.Popen._launch`` (CPython
    3.11–3.13) with the main-module entries left out of the preparation data,
    and a wider pipe for the arguments (the uploaded file).
    """

    def _launch(self, process_obj: Any) -> None:
        prep_data = spawn.get_preparation_data(process_obj._name)
        for key in ("init_main_from_path", "init_main_from_name"):
            prep_data.pop(key, None)
        buf = io.BytesIO()
        set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            set_spawning_popen(None)
        self.sentinel, w = forkserver.connect_to_new_process(self._fds)
        _widen(w)  # the file itself goes through this pipe
        _parent_w = os.dup(w)
        self.finalizer = util.Finalize(self, util.close_fds, (_parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class _Process(multiprocessing.context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj: Any) -> _Popen:  # noqa: N802 - multiprocessing's name
        return _Popen(process_obj)


class _JobContext(multiprocessing.context.ForkServerContext):
    """The fork server's context, its processes not running the parent's main script."""

    Process = _Process


def job_context() -> Any:
    """A multiprocessing context for long-lived job processes (``imports.job_process``).

    The same fork server as the parsing children (started here with
    single-threaded numeric libraries), and the same rule: a job process does
    not import the server's entry script.  Unlike a parsing child, a job
    process has no limits: it is our code on data already parsed.
    """
    _mp_context()
    return _JobContext()


def run_isolated(
    func: Callable[..., Any],
    *args: Any,
    limits: ChildLimits,
    file_name: str,
    progress: Callable[[int, int], None] | None = None,
    on_part: Callable[[Any], None] | None = None,
    record: Callable[[bytes], None] | None = None,
    **kwargs: Any,
) -> Any:
    """Call ``func(*args, **kwargs)`` in a limited child and return its result.

    ``func`` must be a module-level function (it is named, not pickled);
    when ``progress`` is given, ``func`` gets a ``progress(done, total)``
    keyword whose calls are relayed to it from the child; when ``on_part`` is
    given, ``func`` gets an ``emit(part)`` keyword and each part reaches
    ``on_part`` in the parent as soon as it is sent (a large result in
    pieces, while the child works on).  Raises the child's ``Refused``, a
    ``LedgerRejected`` when the child ran out of memory, was killed or took
    too long, and ``ChildFailed`` for any other exception in the child.
    With ``record``, every byte read from the child is handed to it as it
    arrives: ``replay`` of those bytes gives the same parts and result again
    (``imports.parse_cache``).
    """
    ctx = _mp_context()
    reader, writer = ctx.Pipe(duplex=False)
    _widen(reader.fileno())
    child = _Process(
        target=_child_main,
        args=(writer, func, args, kwargs, limits, progress is not None, on_part is not None),
        name=f"heating-read-{func.__name__}",
        daemon=True,
    )
    child.start()
    writer.close()
    timed_out = threading.Event()

    def expire() -> None:
        timed_out.set()
        _kill(child)

    timer = threading.Timer(limits.seconds * WALL_FACTOR, expire)
    timer.daemon = True
    timer.start()
    stream: Any = os.fdopen(os.dup(reader.fileno()), "rb", buffering=1 << 20)
    reader.close()
    source = Recorded(stream, record) if record is not None else stream
    message: tuple[Any, ...] | None = None
    try:
        while True:
            try:
                message = SafeUnpickler(source).load()
            except (EOFError, pickle.UnpicklingError, OSError, ValueError):
                message = None
                break
            if message[0] == "progress":
                if progress is not None:
                    progress(message[1], message[2])
                continue
            if message[0] == "part":
                if on_part is not None:
                    on_part(message[1])
                continue
            break
        if message is not None:
            try:
                stats = SafeUnpickler(source).load()
                _note_stats(func.__name__, stats[1], stats[2])
            except (EOFError, pickle.UnpicklingError, OSError, ValueError, IndexError):
                pass  # statistics only
    finally:
        timer.cancel()
        stream.close()
        child.join(timeout=10)
        if child.exitcode is None:
            _kill(child)
            child.join()
    if message is not None:
        kind = message[0]
        if kind == "ok":
            return message[1]
        if kind == "refused":
            _, text, code, detail = message
            if code is not None:
                raise LedgerRejected(text, code=code, detail=detail)
            raise Refused(text, detail=detail)
        if kind == "memory":
            raise _too_large(file_name, limits)
        if kind == "error":
            raise ChildFailed(f"读取“{file_name}”的子进程出错：\n{message[1]}")
    if timed_out.is_set() or child.exitcode == -signal.SIGXCPU:
        raise _timeout(file_name, limits)
    if child.exitcode == EXIT_ERROR:
        raise ChildFailed(f"读取“{file_name}”的子进程出错（退出码 {child.exitcode}）")
    # Killed by a signal (abort in a library, the OOM killer) or out of memory while replying.
    refusal = _too_large(file_name, limits)
    if child.exitcode is not None and child.exitcode < 0:
        raise ChildKilled(refusal.message, code=refusal.code)
    raise refusal


def _widen(fd: int) -> None:
    """A 1 MB pipe instead of 64 KB: a part of 5,000 rows crosses in one go, not twenty.

    Each time a full pipe blocks the child, the parent has to be scheduled to
    drain it; on a busy machine that wait, repeated, cost seconds per 100k rows.
    """
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):
        pass  # not Linux, or above /proc/sys/fs/pipe-max-size: the default pipe works too


def _note_stats(name: str, peak_mb: float, cpu_s: float) -> None:
    global peak_child_rss_mb, last_child_cpu_s
    peak_child_rss_mb = max(peak_child_rss_mb, peak_mb)
    last_child_cpu_s = cpu_s
    log.debug("child %s: peak RSS %.0f MB, CPU %.2f s", name, peak_mb, cpu_s)


def _kill(child: Any) -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):  # already gone
        child.kill()


def _too_large(file_name: str, limits: ChildLimits) -> LedgerRejected:
    return LedgerRejected(
        f"读取文件“{file_name}”所需的内存超过了上限（{limits.memory_mb} MB，设置 import_max_memory_mb），"
        "已停止读取；服务未受影响。文件可能声明了极大的表格范围，或内容过多。"
        "请在 Excel 或 WPS 中打开，删除数据区域以外的行、列和工作表后另存为 .xlsx，"
        "或按乡镇/村拆分成多个文件后再上传。",
        code="file_too_large_to_read",
    )


def _timeout(file_name: str, limits: ChildLimits) -> LedgerRejected:
    return LedgerRejected(
        f"读取文件“{file_name}”超过了时间上限（{limits.seconds:g} 秒 CPU 时间，设置 import_max_seconds），"
        "已停止读取；服务未受影响。请删除无关的工作表和数据区域以外的内容，"
        "或按乡镇/村拆分成多个文件后再上传。",
        code="file_read_timeout",
    )


# --------------------------------------------------------------------------
# The child
# --------------------------------------------------------------------------


def _limit_self(limits: ChildLimits) -> None:
    """Apply the limits to this (child) process: address space, no core file, CPU backstop."""
    import resource

    memory = limits.memory_mb * MB
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # The time limit counts CPU seconds (SIGXCPU at the soft limit): a 1M-row ledger on a
    # busy machine needs 40 s of CPU but may take 200 s of wall time, and is not refused.
    cpu = max(1, math.ceil(limits.seconds))
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard == resource.RLIM_INFINITY or hard > cpu:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, hard))
    # A parent that went away closes the pipe: die quietly instead of printing a traceback.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    # A Rust abort (calamine) then prints one line to the log, not a stack trace.
    os.environ["RUST_BACKTRACE"] = "0"
    # Numeric libraries imported in the child (GDAL reading) reserve memory per thread.
    os.environ.update(dict.fromkeys(ONE_THREAD, "1"))


def _child_main(
    writer: Any,
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    limits: ChildLimits,
    wants_progress: bool,
    wants_parts: bool = False,
) -> None:
    out = os.fdopen(os.dup(writer.fileno()), "wb", buffering=1 << 20)
    writer.close()
    code = 0
    try:
        _limit_self(limits)

        def progress(done: int, total: int) -> None:
            pickle.dump(("progress", done, total), out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()

        emit = Emitter(out)

        try:
            if wants_progress:
                kwargs = {**kwargs, "progress": progress}
            if wants_parts:
                kwargs = {**kwargs, "emit": emit}
            result = func(*args, **kwargs)
            if wants_parts:
                emit.release()
            message: tuple[Any, ...] = ("ok", result)
        except MemoryError:
            message = ("memory",)
        except LedgerRejected as exc:
            message = ("refused", exc.message, exc.code, exc.detail)
        except Refused as exc:
            message = ("refused", exc.message, None, exc.detail)
        except Exception:
            message = ("error", traceback.format_exc())
        try:
            import resource

            usage = resource.getrusage(resource.RUSAGE_SELF)
            pickle.dump(message, out, protocol=pickle.HIGHEST_PROTOCOL)
            cpu = resource.getrusage(resource.RUSAGE_SELF)
            stats = (usage.ru_maxrss / 1024, cpu.ru_utime + cpu.ru_stime)
            pickle.dump(("stats", *stats), out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()
        except MemoryError:
            code = EXIT_MEMORY
    except MemoryError:
        code = EXIT_MEMORY
    except BaseException:  # noqa: BLE001 - the child must always end with an exit code
        code = EXIT_ERROR
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        # Skip freeing a million objects one by one: the parent has everything.
        os._exit(code)


def release_freed_memory() -> None:
    """Give memory freed by a library (calamine's sheet) back to the system (glibc only)."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
