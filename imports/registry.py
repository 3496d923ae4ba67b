"""Load the village registry (村庄名录) from a spreadsheet.

The same reading, header and cleaning machinery as the household ledger
(``imports.records``: readers, header, clean) with its own declared schema;
the file is read in the limited child process of ``imports.isolation``.

Two phases, so that a refusal writes nothing:

1. ``check_registry`` — one complete check of the whole file against the
   database as it is: codes (12-digit village codes that start with their
   township's 9-digit code), names (a township new to the registry needs
   one), category (a Chinese label or key of the configured profile, kept,
   or proposed from the urban–rural code), total households.  Any error
   refuses the whole file with one message (``LoadReport.refusal``, shown by
   the CLI and the admin page alike).
2. ``_apply`` — creates or updates districts, townships and villages in the
   caller's transaction.  It decides nothing that could fail: everything it
   relies on was checked in phase 1.

A blank optional cell never erases what the registry already holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from heating.config import Config
from heating.counties import district_name
from heating.errors import Refused
from heating.models import District, Township, Village, audit
from heating.profile import Profile
from imports.fields import Field, Schema, normalise_word
from imports.records import LoadReport, Record, keep_file, read_records

REGISTRY_FIELDS: tuple[Field, ...] = (
    Field("district_code", "区县代码", ("区县编码", "县区代码", "district_code"), "code"),
    Field("district", "区县", ("区县名称", "县区", "district_name", "district"), "text"),
    Field("township_code", "乡镇代码", ("乡镇编码", "街道代码", "township_code"), "code"),
    Field(
        "township",
        "乡镇",
        ("乡镇名称", "乡镇(街道)", "街道", "所属乡镇", "township_name", "township"),
        "text",
    ),
    Field(
        "village_code",
        "村代码",
        ("村级代码", "行政区划代码", "区划代码", "统计用区划代码", "村编码", "village_code"),
        "code",
    ),
    Field(
        "village",
        "村名",
        ("村", "村名称", "行政村", "村(社区)", "村委会", "社区", "village_name", "village"),
        "text",
    ),
    Field("category", "区域类别", ("类别", "区域分类", "category"), "text"),
    Field("total_households", "总户数", ("户数", "总户", "total_households"), "int"),
    Field(
        "urban_rural_code",
        "城乡分类代码",
        ("城乡分类", "城乡属性代码", "urban_rural_code"),
        "code",
    ),
    Field("seat", "是否驻地", ("驻地", "县城驻地", "区县驻地", "is_seat"), "text"),
)
REGISTRY_SCHEMA = Schema("registry", REGISTRY_FIELDS)
CHUNK = 5000
YES_WORDS = frozenset({"是", "1", "true", "yes", "y", "驻地", "√"})


RegistryRow = Record


@dataclass
class _Report(LoadReport):
    proposed: list[dict[str, Any]] = field(default_factory=list)


def category_lookup(profile: Profile) -> dict[str, str]:
    """Normalised category label or key → key, for the configured profile."""
    out: dict[str, str] = {}
    for cat in profile.categories:
        out[normalise_word(cat.key)] = cat.key
        out[normalise_word(cat.name)] = cat.key
    return out


def read_registry(
    data: bytes, file_name: str, config: Config, report: _Report
) -> list[RegistryRow]:
    """Read every visible sheet that has a registry header into cleaned rows."""
    return read_records(
        data,
        file_name,
        config,
        REGISTRY_SCHEMA,
        report,
        required=(("village_code",), ("village",)),
        what="村庄名录",
        hint=("township_code", "township", "village_code", "village", "category"),
    )


def _check_rows(
    rows: list[RegistryRow], profile: Profile, report: _Report
) -> dict[str, tuple[str, int]]:
    """Validate codes, names, categories and numbers; fill derived township codes.

    Returns each township's name as first written in the file, with its row.
    """
    categories = category_lookup(profile)
    allowed = "、".join(f"{c.name}（{c.key}）" for c in profile.categories)
    seen: dict[str, int] = {}
    township_names: dict[str, tuple[str, int]] = {}
    for row in rows:
        v = row.values
        code = v.get("village_code")
        if not code:
            report.add(
                "error",
                "required",
                "村代码为空：每个村都要有 12 位统计用区划代码。",
                row,
                "village_code",
            )
            continue
        if not (len(code) == 12 and code.isdigit()):
            report.add(
                "error",
                "village_code_format",
                f"村代码“{code}”应为 12 位数字（统计用区划代码）。",
                row,
                "village_code",
                code,
            )
            continue
        tcode = v.get("township_code")
        if tcode is None:
            v["township_code"] = tcode = code[:9]
        elif not (len(tcode) == 9 and tcode.isdigit()):
            report.add(
                "error",
                "township_code_format",
                f"乡镇代码“{tcode}”应为 9 位数字。",
                row,
                "township_code",
                tcode,
            )
            continue
        elif not code.startswith(tcode):
            report.add(
                "error",
                "village_code_mismatch",
                f"村代码 {code} 不以所属乡镇代码 {tcode} 开头：请核对两列。",
                row,
                "village_code",
                code,
            )
        dcode = v.get("district_code")
        if dcode is not None and not (len(dcode) == 6 and code.startswith(dcode)):
            report.add(
                "error",
                "district_code_mismatch",
                f"区县代码“{dcode}”应为村代码的前 6 位（{code[:6]}）。",
                row,
                "district_code",
                dcode,
            )
        if not v.get("village"):
            report.add("error", "required", "村名为空。", row, "village")
        if code in seen:
            report.add(
                "error",
                "duplicate_village",
                f"村代码 {code} 在第 {seen[code]} 行已出现过，请删除重复的一行。",
                row,
                "village_code",
                code,
            )
        else:
            seen[code] = row.row
        name = v.get("township")
        if name:
            first = township_names.setdefault(tcode, (name, row.row))
            if first[0] != name:
                report.add(
                    "warning",
                    "township_name_differs",
                    f"乡镇 {tcode} 的名称与第 {first[1]} 行不同（“{first[0]}”），以第一次出现的为准。",
                    row,
                    "township",
                    name,
                )
        raw_cat = v.get("category")
        if raw_cat:
            key = categories.get(normalise_word(raw_cat))
            if key is None:
                report.add(
                    "error",
                    "unknown_value",
                    f"区域类别“{raw_cat}”不在要求配置中，可选：{allowed}。",
                    row,
                    "category",
                    raw_cat,
                )
            v["category_key"] = key
        total = v.get("total_households")
        if total is not None and total < 0:
            report.add("error", "negative", "总户数不能为负数。", row, "total_households", total)
        urc = v.get("urban_rural_code")
        if urc is not None and not (len(urc) == 3 and urc.isdigit()):
            report.add(
                "error",
                "urban_rural_code_format",
                f"城乡分类代码“{urc}”应为 3 位数字（如 111、121、220）。",
                row,
                "urban_rural_code",
                urc,
            )
    return township_names


def _check_new_townships(
    session: Session,
    rows: list[RegistryRow],
    township_names: dict[str, tuple[str, int]],
    report: _Report,
) -> None:
    """A township the registry does not hold yet needs a name somewhere in the file."""
    stored = set(session.scalars(select(Township.code)))
    reported: set[str] = set()
    for row in rows:
        tcode = row.values.get("township_code")
        if not tcode or tcode in stored or tcode in township_names or tcode in reported:
            continue
        reported.add(tcode)
        report.add(
            "error",
            "required",
            f"乡镇 {tcode} 不在名录中，文件中也没有它的名称：请在“乡镇”列填写乡镇名称。",
            row,
            "township",
        )


def _seats(session: Session, rows: list[RegistryRow]) -> dict[str, bool]:
    """Whether each township is the district seat: the file's 是否驻地, else what is stored."""
    seats = {
        code: bool(seat) for code, seat in session.execute(select(Township.code, Township.is_seat))
    }
    for code in session.scalars(select(District.seat_township_code)):
        if code:
            seats[code] = True
    for row in rows:
        seat = row.values.get("seat")
        if seat is not None and row.values.get("township_code"):
            seats[row.values["township_code"]] = normalise_word(seat) in YES_WORDS
    return seats


def _check_categories(
    session: Session, rows: list[RegistryRow], profile: Profile, report: _Report
) -> None:
    """Every village must end with a category: given, kept, or proposed from its code."""
    codes = [r.values["village_code"] for r in rows]
    stored: dict[str, tuple[str | None, str | None]] = {}
    for start in range(0, len(codes), CHUNK):
        query = select(Village.code, Village.category, Village.urban_rural_code).where(
            Village.code.in_(codes[start : start + CHUNK])
        )
        stored.update((code, (cat, urc)) for code, cat, urc in session.execute(query))
    seats = _seats(session, rows)
    names = "、".join(c.name for c in profile.categories)
    for row in rows:
        v = row.values
        if v.get("category"):
            continue
        category, urc = stored.get(v["village_code"], (None, None))
        code = v.get("urban_rural_code") or urc
        proposed = profile.propose_category(code, is_seat=seats.get(v["township_code"], False))
        if proposed is None and category is None:
            why = f"城乡分类代码 {code} 没有对应的类别" if code else "也没有城乡分类代码可以推定"
            report.add(
                "error",
                "category_missing",
                f"区域类别为空，{why}：请填写区域类别（{names}）。",
                row,
                "category",
            )


def load_registry(
    session: Session,
    data: bytes,
    file_name: str,
    *,
    config: Config,
    user_id: int | None = None,
    ip: str | None = None,
) -> dict[str, Any]:
    """Create or update districts, townships and villages from a registry file.

    Returns ``{"townships", "villages", "new", "updated", "issues", …}``.
    Raises ``Refused`` (with the report as ``detail`` and the message of
    ``LoadReport.refusal``) when any row has an error; then nothing is written.
    """
    report = _Report()
    rows = read_registry(data, file_name, config, report)
    if not rows:
        raise Refused(f"文件“{file_name}”的名录表头下没有任何村的数据。")
    township_names = check_registry(session, rows, config.profile, report)
    if report.errors:
        raise Refused(report.refusal("村庄名录", file_name), detail=_result(report, rows, 0, 0, []))
    new, updated, new_townships = _apply(session, rows, township_names, config, report)
    keep_file(
        session,
        data,
        file_name,
        kind="registry",
        user_id=user_id,
        counts={"rows": len(rows), "new": new, "updated": updated},
        issues=report.issues,
    )
    result = _result(report, rows, new, updated, new_townships)
    # The one audit entry of a registry load, from the CLI or the admin page alike.
    audit(
        session,
        "registry_load",
        user=user_id,
        target=file_name,
        detail={k: result[k] for k in ("townships", "villages", "new", "updated")},
        ip=ip,
    )
    return result


def check_registry(
    session: Session, rows: list[RegistryRow], profile: Profile, report: _Report
) -> dict[str, tuple[str, int]]:
    """Every check of the whole file, before anything is written; problems go to ``report``.

    Returns each township's name as first written in the file (what
    ``_apply`` stores).
    """
    township_names = _check_rows(rows, profile, report)
    valid = [r for r in rows if _has_valid_codes(r)]
    _check_new_townships(session, valid, township_names, report)
    _check_categories(session, valid, profile, report)
    return township_names


def _has_valid_codes(row: RegistryRow) -> bool:
    code = row.values.get("village_code")
    tcode = row.values.get("township_code")
    return bool(code and len(code) == 12 and code.isdigit() and tcode and len(tcode) == 9)


def _result(
    report: _Report, rows: list[RegistryRow], new: int, updated: int, new_townships: list[str]
) -> dict[str, Any]:
    return {
        "townships": len(
            {r.values.get("township_code") for r in rows if r.values.get("township_code")}
        ),
        "villages": len(rows),
        "new": new,
        "updated": updated,
        "new_townships": new_townships,
        "proposed": report.proposed,
        "issues": [i.as_json() for i in report.issues],
    }


def _district(session: Session, code: str, name: str | None, config: Config) -> District:
    district = session.scalar(select(District).where(District.code == code))
    if district is None:
        district = District(code=code, name=name or config.district_name or district_name(code))
        session.add(district)
        session.flush()
    elif name and district.name != name:
        district.name = name
    return district


def _apply(
    session: Session,
    rows: list[RegistryRow],
    township_names: dict[str, tuple[str, int]],
    config: Config,
    report: _Report,
) -> tuple[int, int, list[str]]:
    """Write a checked file (``check_registry`` found no error): nothing here can refuse."""
    profile = config.profile
    townships = {t.code: t for t in session.scalars(select(Township))}
    villages: dict[str, Village] = {}
    codes = [r.values["village_code"] for r in rows]
    for start in range(0, len(codes), CHUNK):
        part = codes[start : start + CHUNK]
        villages.update(
            (v.code, v) for v in session.scalars(select(Village).where(Village.code.in_(part)))
        )
    districts: dict[str, District] = {}
    new_townships: list[str] = []
    new = updated = 0
    for row in rows:
        v = row.values
        tcode = v["township_code"]
        township = townships.get(tcode)
        dcode = v.get("district_code") or tcode[:6]
        if dcode not in districts:
            districts[dcode] = _district(session, dcode, v.get("district"), config)
        district = districts[dcode]
        seat = v.get("seat")
        is_seat = None if seat is None else normalise_word(seat) in YES_WORDS
        # The name as first written in the file (a differing later one was a warning).
        name = township_names[tcode][0] if tcode in township_names else None
        if township is None:
            township = Township(
                code=tcode,
                name=name,
                district_id=district.id,
                is_seat=bool(is_seat) or district.seat_township_code == tcode,
            )
            session.add(township)
            session.flush()
            townships[tcode] = township
            new_townships.append(tcode)
        else:
            if name and township.name != name:
                township.name = name
            if is_seat is not None:
                township.is_seat = is_seat
        if township.is_seat and not district.seat_township_code:
            district.seat_township_code = tcode
        village = villages.get(v["village_code"])
        changes = _village_changes(village, v, township, profile, report)
        if village is None:
            village = Village(code=v["village_code"], **changes)
            session.add(village)
            villages[village.code] = village
            new += 1
        elif changes:
            for field_name, value in changes.items():
                setattr(village, field_name, value)
            updated += 1
    session.flush()
    return new, updated, new_townships


def _village_changes(
    village: Village | None,
    v: dict[str, Any],
    township: Township,
    profile: Profile,
    report: _Report,
) -> dict[str, Any]:
    """The village's fields to set (all of them for a new village)."""
    wanted: dict[str, Any] = {"name": v["village"], "township_id": township.id}
    if v.get("total_households") is not None:
        wanted["total_households"] = v["total_households"]
    if v.get("urban_rural_code") is not None:
        wanted["urban_rural_code"] = v["urban_rural_code"]
    if v.get("category_key"):
        wanted["category"] = v["category_key"]
        wanted["category_proposed"] = False
    elif village is None or village.category is None or village.category_proposed:
        code = v.get("urban_rural_code") or (village.urban_rural_code if village else None)
        proposed = profile.propose_category(code, is_seat=bool(township.is_seat))
        if proposed is None:
            pass  # _check_categories made sure the village keeps a category
        else:
            wanted["category"] = proposed
            wanted["category_proposed"] = True
            report.proposed.append(
                {
                    "code": v["village_code"],
                    "name": v["village"],
                    "urban_rural_code": code,
                    "category": proposed,
                    "category_label": profile.label(proposed),
                }
            )
    if village is None:
        wanted.setdefault("category_proposed", False)
        return wanted
    return {k: val for k, val in wanted.items() if getattr(village, k) != val}
