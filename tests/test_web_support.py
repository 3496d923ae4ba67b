"""Helpers shared by the web tests (no tests here): CSRF tokens, households, batches, ledgers."""

from __future__ import annotations

import hashlib
import io
import re
import time
from collections.abc import Iterable
from datetime import date

from flask.testing import FlaskClient
from openpyxl import Workbook
from sqlalchemy import select

from heating.households import household_key, record_create
from heating.models import Household, ImportBatch, StoredFile, Township, Village
from heating.runtime import Runtime

TOKEN_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|name="csrf-token" content="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/") -> str:
    """The CSRF token of the client's session, read from a page as a browser would."""
    page = client.get(path).get_data(as_text=True)
    match = TOKEN_RE.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


def post(client: FlaskClient, path: str, data: dict | None = None, **kwargs):  # noqa: ANN201
    """POST a form with the session's CSRF token."""
    form = dict(data or {})
    form.setdefault("csrf_token", csrf_token(client))
    return client.post(path, data=form, **kwargs)


def add_households(
    runtime: Runtime,
    village_code: str,
    rows: Iterable[tuple[str, str, str | None, str | None]],
) -> None:
    """Create households (户号, status, id_number, phone) in a village with their history."""
    with runtime.session() as session:
        village = session.scalar(select(Village).where(Village.code == village_code))
        for no, status, id_number, phone in rows:
            key, kind = household_key(
                household_no=no, id_number=id_number, head_name=None, address=None, salt="s"
            )
            record_create(
                session,
                Household(
                    village_id=village.id,
                    key=key,
                    key_kind=kind,
                    household_no=no,
                    head_name=f"户主{no}",
                    id_number=id_number,
                    phone=phone,
                    status=status,
                    route="electric" if status in ("completed", "accepted") else None,
                    completed_on=date(2021, 6, 30) if status == "completed" else None,
                ),
            )


def add_batch(runtime: Runtime, township_code: str, *, status: str = "committed") -> int:
    """A batch row of a township, as the import would leave it."""
    data = f"ledger of {township_code} {status}".encode()
    sha = hashlib.sha256(data).hexdigest()
    with runtime.session() as session:
        if session.get(StoredFile, sha) is None:
            session.add(StoredFile(sha256=sha, size=len(data), content=data))
            session.flush()
        township = session.scalar(select(Township).where(Township.code == township_code))
        batch = ImportBatch(
            kind="ledger",
            township_id=township.id,
            file_name=f"{township.name}台账.xlsx",
            sha256=sha,
            size=len(data),
            status=status,
            counts={"rows": 1, "new": 1, "updated": 0, "unchanged": 0, "rejected": 0},
            issues=[],
        )
        session.add(batch)
        session.flush()
        return batch.id


LEDGER_HEADER = [
    "村名",
    "户号",
    "户主姓名",
    "身份证号",
    "联系电话",
    "改造状态",
    "改造方式",
    "完工日期",
]


def ledger_xlsx(rows: list[list[object]], *, title: str | None = "麟绛街道清洁取暖台账") -> bytes:
    """An .xlsx ledger written by openpyxl, with a title row above the header as clerks do."""
    wb = Workbook()
    ws = wb.active
    ws.title = "台账"
    if title:
        ws.append([title])
    ws.append(LEDGER_HEADER)
    for row in rows:
        ws.append(row)
    for cell in ws["D"]:
        cell.number_format = "@"
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def upload(client: FlaskClient, data: bytes, name: str, township: str | None = None):  # noqa: ANN201
    """Upload a ledger through the form; follow the job page until the preview is ready."""
    form = {"file": (io.BytesIO(data), name), "csrf_token": csrf_token(client, "/imports")}
    if township is not None:
        form["township"] = township
    resp = client.post("/imports", data=form, content_type="multipart/form-data")
    return follow_job(client, resp)


def follow_job(client: FlaskClient, resp, timeout: float = 600.0):  # noqa: ANN001, ANN201
    """Follow redirects through the progress page until it stops refreshing."""
    deadline = time.monotonic() + timeout
    while True:
        while resp.status_code in (301, 302, 303):
            resp = client.get(resp.headers["Location"])
        body = resp.get_data(as_text=True)
        if 'http-equiv="refresh"' not in body:
            return resp
        assert time.monotonic() < deadline, "job did not finish"
        time.sleep(0.3)
        resp = client.get(resp.request.path)


def batch_id_of(resp) -> int:  # noqa: ANN001
    match = re.search(r"/imports/(\d+)$", resp.request.path)
    assert match, resp.request.path
    return int(match.group(1))


def id_number(seed: int) -> str:
    """A valid 18-digit ID number (GB 11643 check digit) from a seed."""
    body = f"140405199{seed % 10}{(seed // 10) % 12 + 1:02d}{seed % 28 + 1:02d}{seed % 1000:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(body, weights, strict=True))
    return body + "10X98765432"[total % 11]


def bad_id_number(seed: int) -> str:
    """An ID number whose check digit is wrong."""
    good = id_number(seed)
    return good[:-1] + ("0" if good[-1] != "0" else "1")
