"""Rules a cleaned ledger row must satisfy: ID numbers, ranges and cross-field rules.

Every rule returns ``imports.issues.Problem``s naming the field they are
about, without a place (the reader places them), and all of them are
collected, never just the first.  Messages are Chinese and say what to do;
values are masked by the caller when it places them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from operator import mul
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from heating.heat_sources import NONCOMPLIANT, Register, load_register, rule_label
from heating.models import STATUS_LABELS, Township, Village
from imports.fields import (
    MAX_HEATED_AREA_M2,
    PLAN_YEAR_RANGE,
    ROUTE_REQUIRED_STATUSES,
    STATUS_REASONS,
    normalise_word,
)
from imports.issues import Problem

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


_ASCII_ZERO_SUM = 48 * sum(ID_WEIGHTS)


def id_check_digit(first17: str) -> str:
    """GB 11643 check character for the first 17 digits (ASCII codes, all in C)."""
    return ID_CHECK[(sum(map(mul, first17.encode("ascii"), ID_WEIGHTS)) - _ASCII_ZERO_SUM) % 11]


def check_id_number(value: str) -> Problem | None:
    """None when valid; a 15-digit old number is a warning; anything else an error."""
    n = len(value)
    if n == 18:
        head = value[:17]
        last = value[17]
        if not head.isdigit() or not (last.isdigit() or last == "X"):
            return _id_format(value)
        if id_check_digit(head) != last:
            if value.endswith("00"):
                return Problem(
                    "error",
                    "number_lost_digits",
                    "身份证号末尾是 0 且校验位不符，很可能是按数字存储时丢失了末几位。"
                    "请把该列设置为“文本”格式，重新输入正确的身份证号后再上传。",
                    field="id_number",
                )
            return Problem(
                "error",
                "id_number_checksum",
                "身份证号校验位错误（第 18 位与前 17 位不符）。请核对身份证原件后改正。",
                field="id_number",
            )
        return None
    if n == 15 and value.isdigit():
        return Problem(
            "warning",
            "id_number_old",
            "这是 15 位旧身份证号，已接受；如有可能，请更新为 18 位新号码。",
            field="id_number",
        )
    return _id_format(value)


def _id_format(value: str) -> Problem:
    return Problem(
        "error",
        "id_number_format",
        f"身份证号应为 18 位（最后一位可为 X），这里是 {len(value)} 位或含有其他字符。请核对后改正。",
        field="id_number",
    )


@dataclass
class RowRules:
    """The cross-field rules, with what they need from the database loaded lazily, once."""

    session: Session
    today: date
    district_ids: set[int]
    _extent: tuple[float, float, float, float] | None | bool = False
    _register: Register | None = None
    heat_source_rule: str = "strict"

    # ------------------------------------------------------------------
    def extent(self) -> tuple[float, float, float, float] | None:
        """Union of the district's village boundary bounds; None when no boundaries."""
        if self._extent is False:
            self._extent = district_extent(self.session, self.district_ids)
        return self._extent  # type: ignore[return-value]

    def register(self) -> Register:
        if self._register is None:
            self._register = load_register(self.session)
        return self._register

    # ------------------------------------------------------------------
    def check(self, v: dict[str, Any]) -> list[Problem]:
        """Every rule over one row's cleaned values, in the order a clerk reads them."""
        out = status_problems(v)
        out += date_problems(
            v.get("completed_on"), v.get("accepted_on"), v.get("status"), self.today
        )
        out += range_problems(v)
        out += coordinate_problems(v.get("lon"), v.get("lat"), self.extent)
        source = v.get("heat_source")
        if source is not None and v.get("route") == "district":
            out += self.heat_source_problems(source)
        return out

    def heat_source_problems(self, source: str) -> list[Problem]:
        """A district-heating household's source: registered, and compliant."""
        register = self.register()
        facts = register.match(source)
        if facts is None and register.sources:
            return [
                Problem(
                    "warning",
                    "heat_source_unknown",
                    f"热源“{source[:40]}”不在已登记的热源名单中。请核对名称，或请管理员登记该热源。",
                    field="heat_source",
                )
            ]
        if facts is not None and facts.noncompliant:
            counted = (
                f"按当前{rule_label(self.heat_source_rule)}该户不计为已改造"
                if self.heat_source_rule == "strict"
                else f"按当前{rule_label(self.heat_source_rule)}该户仍计为已改造，但会列出"
            )
            return [
                Problem(
                    "warning",
                    NONCOMPLIANT,
                    f"热源“{facts.name}”不合规：{facts.reason}。{counted}。",
                    field="heat_source",
                )
            ]
        return []


def status_problems(v: dict[str, Any]) -> list[Problem]:
    """Head of household and status filled; what an exempt or started status needs."""
    out = []
    status = v.get("status")
    if v.get("head_name") is None:
        out.append(Problem("error", "required", "户主姓名为空，请填写。", field="head_name"))
    if status is None:
        out.append(
            Problem(
                "error",
                "required",
                "改造状态为空，请填写：" + "、".join(STATUS_LABELS.values()) + "。",
                field="status",
            )
        )
    elif status == "exempt":
        if v.get("exempt_reason") is None:
            out.append(
                Problem(
                    "error",
                    "exempt_reason_required",
                    "状态为无需改造时必须填写原因：空置、拆迁、已有清洁取暖或其他。",
                    field="exempt_reason",
                )
            )
    elif status in ROUTE_REQUIRED_STATUSES and v.get("route") is None:
        out.append(
            Problem(
                "error",
                "route_required",
                f"状态为{STATUS_LABELS[status]}时必须填写改造方式（如煤改电、煤改气、集中供热）。",
                field="route",
            )
        )
    return out


def date_problems(
    completed: date | None, accepted: date | None, status: str | None, today: date
) -> list[Problem]:
    """Completion and acceptance dates: present when done, not in the future, in order."""
    out = []
    if completed is None:
        if status == "completed" or status == "accepted":
            out.append(
                Problem(
                    "warning",
                    "completed_on_missing",
                    "状态为已完工/已验收，但完工日期为空。请补填完工日期。",
                    field="completed_on",
                )
            )
    elif completed > today:
        out.append(
            Problem(
                "error",
                "date_in_future",
                f"完工日期 {completed.isoformat()} 晚于今天，请核对。",
                field="completed_on",
            )
        )
    if accepted is not None:
        if accepted > today:
            out.append(
                Problem(
                    "error",
                    "date_in_future",
                    f"验收日期 {accepted.isoformat()} 晚于今天，请核对。",
                    field="accepted_on",
                )
            )
        if completed is not None and accepted < completed:
            out.append(
                Problem(
                    "error",
                    "accepted_before_completed",
                    f"验收日期 {accepted.isoformat()} 早于完工日期 {completed.isoformat()}，请核对。",
                    field="accepted_on",
                )
            )
    return out


def range_problems(v: dict[str, Any]) -> list[Problem]:
    """Residents and subsidies not negative; the plan year and heated area within range."""
    out = []
    residents = v.get("residents")
    if residents is not None and residents < 0:
        out.append(Problem("error", "negative", "常住人口不能为负数。", field="residents"))
    year = v.get("plan_year")
    if year is not None and not (PLAN_YEAR_RANGE[0] <= year <= PLAN_YEAR_RANGE[1]):
        out.append(
            Problem(
                "error",
                "out_of_range",
                f"计划年度应在 {PLAN_YEAR_RANGE[0]}–{PLAN_YEAR_RANGE[1]} 之间，得到 {year}。",
                field="plan_year",
            )
        )
    for name, label in (
        ("device_subsidy", "设备补贴"),
        ("operating_subsidy", "运行补贴"),
        ("coal_subsidy", "洁净煤补贴"),
    ):
        amount = v.get(name)
        if amount is not None and amount < Decimal(0):
            out.append(Problem("error", "negative", f"{label}不能为负数。", field=name))
    area = v.get("heated_area_m2")
    if area is not None and not (0 < area <= MAX_HEATED_AREA_M2):
        out.append(
            Problem(
                "error",
                "out_of_range",
                f"采暖面积应大于 0 且不超过 {MAX_HEATED_AREA_M2} 平方米，得到 {area}。"
                "请核对单位（平方米）；不知道时留空。",
                field="heated_area_m2",
            )
        )
    return out


def district_extent(
    session: Session, district_ids: set[int]
) -> tuple[float, float, float, float] | None:
    """Bounds (min lon, min lat, max lon, max lat) of the districts' village boundaries.

    None when no village has a boundary (then coordinates cannot be checked).
    """
    q = select(Village.geometry).join(Township).where(Village.geometry.is_not(None))
    if district_ids:
        q = q.where(Township.district_id.in_(district_ids))
    blobs = list(session.scalars(q))
    if not blobs:
        return None  # (before importing shapely and numpy: ≈ 0.3 s of a CLI command's CPU)
    # Imported here, not with the module: imports.pipeline is preloaded by the fork server
    # of imports.isolation, and a parsing child should not carry numpy's address space
    # (and OpenBLAS threads) inside its memory limit.  This runs in the server process.
    import shapely

    bounds = shapely.bounds(shapely.from_wkb(blobs))
    return (
        float(bounds[:, 0].min()),
        float(bounds[:, 1].min()),
        float(bounds[:, 2].max()),
        float(bounds[:, 3].max()),
    )


def coordinate_problems(
    lon: float | None,
    lat: float | None,
    extent: Callable[[], tuple[float, float, float, float] | None],
) -> list[Problem]:
    """Both or neither of lon/lat, and inside the district's extent (read only when needed)."""
    if (lon is None) != (lat is None):
        missing = "lat" if lat is None else "lon"
        return [
            Problem(
                "error", "coordinates_incomplete", "经度和纬度应同时填写或同时留空。", field=missing
            )
        ]
    if lon is None or lat is None:
        return []
    box = extent()
    if box is None or (box[0] <= lon <= box[2] and box[1] <= lat <= box[3]):
        return []
    swapped = box[0] <= lat <= box[2] and box[1] <= lon <= box[3]
    hint = "经度和纬度是否填反了？" if swapped else ""
    return [
        Problem(
            "error",
            "coordinates_outside",
            f"坐标（经度 {lon}，纬度 {lat}）不在本区范围内。{hint}"
            "请填写十进制度数（CGCS2000/WGS84），或留空。",
            field="lon",
        )
    ]


def status_word_reason(raw: Any) -> str | None:
    """空置/拆迁 given as the status also say the reason."""
    return STATUS_REASONS.get(normalise_word(raw)) if isinstance(raw, str) else None
