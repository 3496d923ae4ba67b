"""The web's report downloads, built in a report process (``heating.processes``).

A district's report is 3–5 s of CPU in the app.  Built in a request thread,
it held the worker's interpreter lock while the worker's other threads
served pages, and every one of those pages waited for the lock again after
each of its database reads.  The report process gets the settings and the
choices as plain data, builds with an engine of its own and sends back the
file.  The CLI builds in its own process already (``heating report``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from heating.config import Config
from heating.errors import Refused
from heating.processes import pool_runtime, run_in_process
from heating.report import build_report


@dataclass(frozen=True)
class ReportFile:
    """What a download sends: the workbook and its Chinese file name."""

    content: bytes
    file_name: str


def build_report_file(
    config: Config,
    year: int,
    *,
    as_of: date | None,
    district_code: str | None,
    known_at: datetime | None,
    approved_only: bool,
) -> ReportFile:
    """The report built in a report process; its refusal comes back as ``Refused``."""
    answer = run_in_process(
        "reports", _build, config, year, as_of, district_code, known_at, approved_only
    )
    if isinstance(answer, str):
        raise Refused(answer)
    return answer


def _build(
    config: Config,
    year: int,
    as_of: date | None,
    district_code: str | None,
    known_at: datetime | None,
    approved_only: bool,
) -> ReportFile | str:
    """In the report process: the file, or the refusal's message (exceptions stay plain data)."""
    try:
        with pool_runtime(config) as runtime, runtime.session() as session:
            built = build_report(
                session,
                config,
                year,
                as_of=as_of,
                district_code=district_code,
                known_at=known_at,
                approved_only=approved_only,
            )
        return ReportFile(built.content, built.file_name)
    except Refused as exc:
        return exc.message
