"""What several test modules share: the cast, the tiny district, households, forms, ledgers.

Test modules import from here (never from each other); fixtures live in
``conftest.py``.  Households are written only through the production
history writer (``write_household``), so every test row has its versions
exactly as an import would leave them.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import re
import tempfile
import time
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from openpyxl import Workbook
from shapely.geometry import box
from sqlalchemy import select
from sqlalchemy.orm import Session

from heating import clock
from heating.db import get_meta

# The register and boiler ledger headers as the demo writes them: the files clerks send.
from heating.demo.registers import BOILER_HEADER, REGISTER_HEADER
from heating.history import record_create, record_update
from heating.households import household_key, id_hash
from heating.models import (
    District,
    Household,
    ImportBatch,
    StoredFile,
    Township,
    Village,
    Zone,
    ZoneDerivation,
)
from heating.runtime import Runtime

# The run's encryption key file, outside the repository; tests/conftest.py creates
# the key there and points HEATING_ENCRYPTION_KEY_FILE at it.
KEY_FILE = Path(tempfile.mkdtemp(prefix="heating-test-key-")) / "heating.key"

# --------------------------------------------------------------------------
# The cast and the tiny district (both are in the template database)
# --------------------------------------------------------------------------

PASSWORD = "correct-horse-1"

# username → (role, township code)
CAST = {
    "alice": ("admin", None),
    "bob": ("clerk", "140405001"),
    "carol": ("clerk", "140405101"),
    "dave": ("planner", None),
    "erin": ("city", None),
    "rita": ("reviewer", None),
}

NANJIE, DONGJIE, SHANGCUN, XIACUN = (
    "140405001201",
    "140405001202",
    "140405101201",
    "140405101202",
)

# A tiny hand-built district: 2 townships, 4 villages, unit-square polygons.
TINY = {
    "district": ("140405", "屯留区"),
    "townships": [("140405001", "麟绛街道", True), ("140405101", "上村镇", False)],
    # code, name, township, category, total households, polygon (lon/lat box)
    "villages": [
        (NANJIE, "南街村委会", "140405001", "county_core", 10, (112.80, 36.30, 112.81, 36.31)),
        (DONGJIE, "东街村委会", "140405001", "fringe", 8, (112.81, 36.30, 112.82, 36.31)),
        (SHANGCUN, "上村村委会", "140405101", "rural", 20, (112.82, 36.30, 112.83, 36.31)),
        (XIACUN, "下村村委会", "140405101", "rural", None, (112.83, 36.30, 112.84, 36.31)),
    ],
}


def load_tiny_district(session: Session) -> dict[str, int]:
    """Write TINY; return village code → id."""
    district = District(
        code=TINY["district"][0], name=TINY["district"][1], seat_township_code="140405001"
    )
    session.add(district)
    session.flush()
    townships = {}
    for code, name, seat in TINY["townships"]:
        township = Township(code=code, name=name, district_id=district.id, is_seat=seat)
        session.add(township)
        townships[code] = township
    session.flush()
    ids: dict[str, int] = {}
    for code, name, tcode, category, total, bounds in TINY["villages"]:
        village = Village(
            code=code,
            name=name,
            township_id=townships[tcode].id,
            category=category,
            total_households=total,
            geometry=box(*bounds).wkb,
        )
        session.add(village)
        session.flush()
        ids[code] = village.id
    return ids


def load_cast(session: Session) -> dict[str, int]:
    """Create the cast through ``heating.users``; return username → id."""
    from heating.users import create_user

    return {
        name: create_user(session, name, role, PASSWORD, township).id
        for name, (role, township) in CAST.items()
    }


# --------------------------------------------------------------------------
# Households, always through the production history writer
# --------------------------------------------------------------------------

MAY = datetime(2021, 5, 1, 9, 0)
_serial = itertools.count(1)


def write_household(
    session: Session,
    village_id: int,
    no: str,
    status: str,
    *,
    recorded_at: datetime | None = None,
    ledger_date: date | None = None,
    **fields: Any,
) -> Household:
    """Create one household with 户号 ``no`` and its first version, as an import would.

    The ledger date defaults to the day of ``recorded_at`` (today without it).
    """
    key, key_kind = household_key(
        household_no=no, id_number=None, head_name=None, address=None, salt=""
    )
    fields.setdefault("head_name", f"户主{no}")
    if fields.get("id_number"):
        fields["id_hash"] = id_hash(fields["id_number"], get_meta(session, "id_salt") or "")
    household = Household(
        village_id=village_id,
        key=key,
        key_kind=key_kind,
        household_no=no,
        status=status,
        **fields,
    )
    record_create(
        session, household, ledger_date=ledger_date or day_of(recorded_at), recorded_at=recorded_at
    )
    return household


def day_of(recorded_at: datetime | None) -> date:
    """A test change's default ledger date: the day it was recorded (today without one)."""
    return recorded_at.date() if recorded_at is not None else clock.today()


def change_household(
    session: Session,
    village_id: int,
    no: str,
    when: datetime | None,
    *,
    ledger_date: date | None = None,
    **changes: Any,
) -> None:
    """Change the household with 户号 ``no`` through the history writer."""
    household = session.scalar(
        select(Household).where(Household.village_id == village_id, Household.key == f"no:{no}")
    )
    record_update(
        session, household, changes, ledger_date=ledger_date or day_of(when), recorded_at=when
    )


def add_many(
    session: Session,
    village_id: int,
    count: int,
    status: str,
    *,
    operation: str | None = None,
    at: datetime | None = MAY,
    **fields: Any,
) -> list[Household]:
    """Add ``count`` households of one status, each with a fresh 户号."""
    return [
        write_household(
            session,
            village_id,
            str(next(_serial)),
            status,
            operation=operation,
            recorded_at=at,
            **fields,
        )
        for _ in range(count)
    ]


def add_households_by_status(
    runtime: Runtime,
    village_id: int,
    *,
    clean: int = 0,
    pending: int = 0,
    exempt: int = 0,
    lapsed: int = 0,
) -> None:
    """Add ledger rows: clean (of which ``lapsed`` burn coal again), pending, exempt."""
    plan = (
        [("completed", "coal_again")] * lapsed
        + [("accepted", "normal")] * (clean - lapsed)
        + [("pending", None)] * pending
        + [("exempt", None)] * exempt
    )
    with runtime.session() as session:
        for i, (status, operation) in enumerate(plan):
            write_household(
                session,
                village_id,
                str(i),
                status,
                head_name="户主",
                operation=operation,
                exempt_reason="空置" if status == "exempt" else None,
            )


def add_households(
    runtime: Runtime,
    village_code: str,
    rows: Iterable[tuple[str, str, str | None, str | None]],
) -> None:
    """Create households (户号, status, id_number, phone) in a village with their history."""
    with runtime.session() as session:
        village_id = session.scalar(select(Village.id).where(Village.code == village_code))
        for no, status, number, phone in rows:
            write_household(
                session,
                village_id,
                no,
                status,
                id_number=number,
                phone=phone,
                route="electric" if status in ("completed", "accepted") else None,
                completed_on=date(2021, 6, 30) if status == "completed" else None,
            )


# --------------------------------------------------------------------------
# A two-year history for the annual report
# --------------------------------------------------------------------------

AS_OF = date(2021, 10, 31)
INJECTION = '=HYPERLINK("http://x","y")'


def add_zone(
    runtime: Runtime,
    villages: list[str],
    touching: list[str],
    bounds: tuple[float, float, float, float] = (112.80, 36.30, 112.81, 36.31),
    *,
    as_of: date = date(2021, 10, 31),
    zone_id: str = "JMQ-0001",
    geometry: Any = None,
    enclaves: Iterable[str] = (),
) -> None:
    """Store a derivation as of ``as_of`` holding one zone (default: a box over 南街)."""
    with runtime.session() as session:
        derivation = ZoneDerivation(as_of=as_of, summary={"enclaves": list(enclaves)})
        session.add(derivation)
        session.flush()
        session.add(
            Zone(
                derivation_id=derivation.id,
                zone_id=zone_id,
                geometry=(geometry if geometry is not None else box(*bounds)).wkb,
                area_km2=1.0,
                village_codes=villages,
                touching=touching,
            )
        )


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def add_ledger_household(
    session: Session, village_id: int, no: str, status: str, when: str, **fields: Any
) -> Household:
    """Create a household as a ledger import on ``when`` would (with route and device)."""
    defaults: dict[str, Any] = {"head_name": f"户主{no}", "address": f"{no}号院"}
    if status in ("completed", "accepted"):
        defaults.update(route="electric", device="空气源热泵", completed_on=date(2020, 9, 1))
    defaults.update(fields)
    return write_household(session, village_id, no, status, recorded_at=at(when), **defaults)


def build_history(runtime: Runtime, ids: dict[str, int]) -> None:
    """Two years of ledgers in the tiny district; the report tests state the numbers."""
    add, change = add_ledger_household, change_household
    south, east, up, down = ids[NANJIE], ids[DONGJIE], ids[SHANGCUN], ids[XIACUN]
    with runtime.session() as s:
        # 2020: 南街 4 clean of 6 rows (1 exempt); 上村 6 clean of 10.
        for i in range(1, 5):
            add(s, south, f"S{i}", "completed", "2020-06-01 10:00")
        add(s, south, "S5", "pending", "2020-06-01 10:00")
        add(s, south, "S6", "exempt", "2020-06-01 10:00", exempt_reason="空置")
        for i in range(1, 11):
            add(s, up, f"U{i}", "completed" if i <= 6 else "planned", "2020-07-01 10:00")
    with runtime.session() as s:
        # 2021: 南街 S5 done but burning coal again, S7–S9 done (S9 undated), S10 pending.
        change(s, south, "S5", at("2021-05-01 10:00"), status="completed", route="gas",
               device="燃气壁挂炉", completed_on=date(2021, 4, 1), operation="coal_again")  # fmt: skip
        for i in (7, 8):
            add(
                s, south, f"S{i}", "completed", "2021-05-01 10:00", route="gas", device="燃气壁挂炉"
            )
        add(s, south, "S9", "completed", "2021-05-01 10:00", completed_on=None)
        add(s, south, "S10", "pending", "2021-05-01 10:00")
        # 东街: all 8 done (one unstable with a note that looks like a formula).
        for i in range(1, 9):
            extra: dict[str, Any] = {}
            if i == 1:
                extra = {"operation": "unstable", "note": INJECTION, "head_name": "=cmd|' /C calc'!A0",
                         "id_number": "140405199001011234", "phone": "13812345678"}  # fmt: skip
            add(s, east, f"E{i}", "accepted", "2021-06-01 10:00", **extra)
        # 上村: 6 more clean, 2 of the old planned now clean → 14 clean of 16 rows (registry 20).
        for i in range(11, 17):
            add(s, up, f"U{i}", "completed", "2021-06-15 10:00", route="biomass",
                device=" 生物质炉 ")  # fmt: skip
        change(s, up, "U7", at("2021-06-15 10:00"), status="completed", route="electric",
               device="空气源热泵", completed_on=date(2021, 6, 1))  # fmt: skip
        change(s, up, "U8", at("2021-06-15 10:00"), status="completed")  # no completion date
        # 下村 (no registry total): 5 rows, 2 clean, one abandoned.
        for i in range(1, 6):
            status = "completed" if i <= 2 else "pending"
            op = "abandoned" if i == 1 else None
            add(s, down, f"D{i}", status, "2021-07-01 10:00", operation=op)


def read_table(ws: Any, first_header: str, occurrence: int = 1) -> list[dict[str, Any]]:
    """Rows of the worksheet table whose first header cell reads ``first_header``.

    Grouped columns are keyed "group|header", others by their header.
    """
    found = [c.row for c in ws["A"] if c.value == first_header]
    top = found[occurrence - 1]
    ncols = ws.max_column
    two_level = ws.cell(top + 1, 1).value is None and any(
        ws.cell(top + 1, j).value for j in range(2, ncols + 1)
    )
    keys, group = [], None
    for j in range(1, ncols + 1):
        head = ws.cell(top, j).value
        if not two_level:
            keys.append(head)
            continue
        sub = ws.cell(top + 1, j).value
        if head is not None:
            group = head
        keys.append(head if sub is None else f"{group}|{sub}")
    first = top + (2 if two_level else 1)
    rows = []
    for r in range(first, ws.max_row + 1):
        values = [ws.cell(r, j).value for j in range(1, ncols + 1)]
        if all(v is None for v in values[1:]):
            break
        rows.append({k: v for k, v in zip(keys, values, strict=True) if k is not None})
    return rows


# --------------------------------------------------------------------------
# Batches and ledgers
# --------------------------------------------------------------------------


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


def ledger_xlsx(
    rows: list[list[object]],
    *,
    title: str | None = "麟绛街道清洁取暖台账",
    header: list[str] = LEDGER_HEADER,
) -> bytes:
    """An .xlsx ledger written by openpyxl, with a title row above the header as clerks do."""
    wb = Workbook()
    ws = wb.active
    ws.title = "台账"
    if title:
        ws.append([title])
    ws.append(header)
    for row in rows:
        ws.append(row)
    for cell in ws["D"]:
        cell.number_format = "@"
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def with_check_digit(body17: str) -> str:
    """A valid 18-digit ID number (GB 11643 check digit) for a 17-digit body."""
    total = sum(int(d) * w for d, w in zip(body17, ID_WEIGHTS, strict=True))
    return body17 + "10X98765432"[total % 11]


def id_number(seed: int) -> str:
    """A valid 18-digit ID number from a seed."""
    return with_check_digit(
        f"140405199{seed % 10}{(seed // 10) % 12 + 1:02d}{seed % 28 + 1:02d}{seed % 1000:03d}"
    )


def bad_id_number(seed: int) -> str:
    """An ID number whose check digit is wrong."""
    good = id_number(seed)
    return good[:-1] + ("0" if good[-1] != "0" else "1")


def row_counts(runtime: Runtime) -> dict[str, int]:
    """Rows per table: compare before and after a refused request to prove nothing was stored."""
    from sqlalchemy import func

    from heating.models import Base

    with runtime.session() as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


# --------------------------------------------------------------------------
# Forms over HTTP
# --------------------------------------------------------------------------

TOKEN_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|name="csrf-token" content="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/") -> str:
    """The CSRF token of the client's session, read from a page as a browser would."""
    page = client.get(path).get_data(as_text=True)
    match = TOKEN_RE.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


def post(client: FlaskClient, path: str, data: dict | None = None, **kwargs: Any) -> Any:
    """POST a form with the session's CSRF token."""
    form = dict(data or {})
    form.setdefault("csrf_token", csrf_token(client))
    return client.post(path, data=form, **kwargs)


def log_in(client: FlaskClient, username: str, password: str) -> Any:
    """Submit the login form as a browser would (CSRF token from the form)."""
    token = csrf_token(client, "/login")
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )


def browser_log_in(page: Any, base: str, username: str) -> None:
    """Log in through the login page in a Playwright page, as a person would."""
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def workbook_xlsx(*sheets: tuple[str, list[list[Any]]], hidden: tuple[str, ...] = ()) -> bytes:
    """A workbook with the given (name, rows) sheets, written by openpyxl."""
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in sheets:
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
        if name in hidden:
            ws.sheet_state = "hidden"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def upload(
    client: FlaskClient,
    data: bytes,
    name: str,
    township: str | None = None,
    ledger_date: str | None = None,
) -> Any:
    """Upload a ledger through the form; follow the job page until the preview is ready."""
    form = {"file": (io.BytesIO(data), name), "csrf_token": csrf_token(client, "/imports")}
    if township is not None:
        form["township"] = township
    if ledger_date is not None:
        form["ledger_date"] = ledger_date
    resp = client.post("/imports", data=form, content_type="multipart/form-data")
    return follow_job(client, resp)


def follow_job(client: FlaskClient, resp: Any, timeout: float = 600.0) -> Any:
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


def batch_id_of(resp: Any) -> int:
    """The batch id of the page ``resp`` ended on (/imports/<id>)."""
    match = re.search(r"/imports/(\d+)$", resp.request.path)
    assert match, resp.request.path
    return int(match.group(1))


# --------------------------------------------------------------------------
# The heat-source register and the boiler ledger, as files
# --------------------------------------------------------------------------

# One source of each case of the rule: compliant, grade C, listed, unknown grade, other kinds.
REGISTER = [
    ["屯留热电厂", "热电联产", "A", "否", None, 112.89, 36.32, 300],
    ["长治市恒达焦化有限公司", "工业余热", "B级", "否", None, 112.95, 36.35, 40],
    ["屯留县兴旺钢铁有限责任公司", "余热", "C", "否", None, 112.80, 36.28, 25],
    ["屯留县宏达化工有限公司", "工业余热", "A", "是", "2023-12-31", None, None, 12],
    ["屯留县宇通余热利用有限公司", "工业余热", None, "否", None, None, None, None],
    ["麟绛街道燃气锅炉房", "燃气锅炉房", "引领性", "否", None, None, None, 14],
]


def sheet_xlsx(title: str, sheet: str, header: list[str], rows: list[list[Any]]) -> bytes:
    """An .xlsx with a title row, a header and rows, written by openpyxl."""
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append([title])
    ws.append(header)
    for row in rows:
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def register_xlsx(rows: list[list[Any]], header: list[str] = REGISTER_HEADER) -> bytes:
    """A heat-source register (sheet 热源名单) as an .xlsx."""
    return sheet_xlsx("屯留区集中供热热源名单（2021年）", "热源名单", header, rows)


def boiler_row(
    code: str,
    *,
    unit: str = "某单位",
    township: str = "麟绛街道",
    village: str | None = None,
    lon: float | None = 112.805,
    lat: float | None = 36.305,
    tph: float | None = 10,
    mw: float | None = None,
    fuel: str = "燃煤",
    state: str = "在用",
    state_date: str | None = None,
    inspected: str | None = None,
    low_nox: str | None = None,
    low_nox_on: str | None = None,
) -> list[Any]:
    """One row of BOILER_HEADER: a 10 t/h coal boiler in use in 南街 unless told otherwise."""
    return [
        code,
        unit,
        township,
        village,
        lon,
        lat,
        tph,
        mw,
        fuel,
        state,
        state_date,
        inspected,
        low_nox,
        low_nox_on,
    ]


def boiler_xlsx(rows: list[list[Any]], header: list[str] = BOILER_HEADER) -> bytes:
    """A boiler ledger (sheet 锅炉台账) as an .xlsx."""
    return sheet_xlsx("屯留区燃煤锅炉台账", "锅炉台账", header, rows)


# --------------------------------------------------------------------------
# Sign-off of a township's period
# --------------------------------------------------------------------------

PERIOD = date(2021, 10, 31)


def sign_off(
    runtime: Runtime,
    township_code: str,
    period: date,
    *steps: tuple[str, ...],
    confirm: bool = True,
) -> str:
    """Take sign-off steps ``(action, username[, note or reason])`` in order; return the state."""
    from heating import signoff
    from heating.models import User

    state = ""
    for action, username, *text in steps:
        with runtime.session() as session:
            user = session.scalar(select(User).where(User.username == username))
            state = signoff.transition(
                session,
                runtime.config,
                action,
                township_code,
                period,
                user,
                text=text[0] if text else None,
                confirm=confirm,
            ).state
    return state


# --------------------------------------------------------------------------
# A second district (multi-district tests): 潞城区, one township, two villages
# --------------------------------------------------------------------------

LUCHENG = "140406"
LUCHENG_TOWNSHIP = "140406001"
LUCHENG_VILLAGES = ("140406001201", "140406001202")


def add_second_district(session: Session) -> dict[str, int]:
    """Add 潞城区 beside the tiny district: 2 rural villages with households.

    Village 1: 10 required, 4 clean (gap 4 at 80%); village 2: 5 required, 5 clean.
    Returns village code → id.
    """
    district = District(code=LUCHENG, name="潞城区", seat_township_code=LUCHENG_TOWNSHIP)
    session.add(district)
    session.flush()
    township = Township(
        code=LUCHENG_TOWNSHIP, name="潞华街道", district_id=district.id, is_seat=True
    )
    session.add(township)
    session.flush()
    ids = {}
    for i, code in enumerate(LUCHENG_VILLAGES):
        village = Village(
            code=code,
            name=f"{'东西'[i]}关村委会",
            township_id=township.id,
            category="rural",
            total_households=None,
            geometry=box(113.10 + i * 0.01, 36.30, 113.11 + i * 0.01, 36.31).wkb,
        )
        session.add(village)
        session.flush()
        ids[code] = village.id
    add_many(session, ids[LUCHENG_VILLAGES[0]], 4, "completed", operation="normal")
    add_many(session, ids[LUCHENG_VILLAGES[0]], 6, "pending")
    add_many(session, ids[LUCHENG_VILLAGES[1]], 5, "completed", operation="normal")
    return ids
