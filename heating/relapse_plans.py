"""Recorded 系统化解决方案 for the places ``heating.relapse`` lists (issue 13 item 7b).

A reviewer or an administrator records, for a village or a township whose
relapse share exceeds ``relapse_share``, the plan: its text, the responsible
unit (责任单位), the due date (完成时限) and its state — 未制定 (``none``),
已制定 (``made``), 已完成 (``done``).  Every recording is a new
``RelapsePlan`` row and an audit entry; the plan in force is the newest row
recorded by the time asked (so a report known at a time shows the plan as it
stood).  A place with no row reads 未制定.

A plan is **overdue** when its due date has passed (before ``today``) and it
is not 已完成 — also when it was never made.  This module is the only writer
of ``RelapsePlan`` and the one place that judges overdue; the CLI, the web
pages and the report call it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from heating.errors import Forbidden, NotFound, Refused
from heating.models import (
    PLAN_STATE_LABELS,
    PLAN_STATES,
    District,
    RelapsePlan,
    Township,
    User,
    Village,
    audit,
    utcnow,
)

# Roles that record plans (区级审核 and 管理员); everyone who reads the list sees them.
RECORDERS = ("admin", "reviewer")
TEXT_MAX = 2000
UNIT_MAX = 255
PLACE_LABELS = {"village": "村", "township": "乡镇"}


def parse_state(value: str | None) -> str:
    """A state from its machine word or its Chinese label (未制定/已制定/已完成)."""
    text = (value or "").strip()
    if text in PLAN_STATES:
        return text
    for key, label in PLAN_STATE_LABELS.items():
        if text == label:
            return key
    raise Refused(f"方案状态应为 未制定、已制定 或 已完成，得到 {text!r}。")


def place_name(session: Session, kind: str, code: str) -> str:
    """The village's or township's name; refused when the code is not in the registry."""
    code = (code or "").strip()
    if kind == "village":
        name = session.scalar(select(Village.name).where(Village.code == code))
        if name is None:
            raise NotFound(f"村代码 {code!r} 不在村庄名录中：请检查 12 位村代码。")
        return name
    if kind == "township":
        name = session.scalar(select(Township.name).where(Township.code == code))
        if name is None:
            raise NotFound(f"乡镇代码 {code!r} 不在村庄名录中：请检查 9 位乡镇代码。")
        return name
    raise Refused(f"方案对象应为村或乡镇，得到 {kind!r}。")


def record_plan(
    session: Session,
    kind: str,
    code: str,
    *,
    state: str,
    text: str | None,
    unit: str | None,
    due_on: date | None,
    user: User | None = None,
) -> RelapsePlan:
    """Record a place's plan (a new row in force from now) and audit it.

    A plan that is 已制定 or 已完成 needs its text, responsible unit and due
    date; 未制定 may carry a unit and a due date (who must make it by when).
    ``user`` is the acting user (None from the command line without --user);
    only reviewers and administrators record plans, a district-bound one only
    for its own district's places.
    """
    if user is not None and user.role not in RECORDERS:
        raise Forbidden("只有区级审核和管理员可以记录系统化解决方案。")
    code = (code or "").strip()
    name = place_name(session, kind, code)
    if user is not None and user.district_id is not None:
        district = session.get(District, user.district_id)
        if district is not None and not code.startswith(district.code):
            raise Forbidden(
                f"{user.username} 只能为所属区县（{district.name}）的村和乡镇记录方案，"
                f"{name}（{code}）不在其中：请由该区县的审核人员或全市账号办理。"
            )
    state = parse_state(state)
    text = (text or "").strip() or None
    unit = (unit or "").strip() or None
    where = f"{PLACE_LABELS[kind]} {name}（{code}）"
    missing = []
    if state != "none":
        if text is None:
            missing.append("方案内容")
        if unit is None:
            missing.append("责任单位")
        if due_on is None:
            missing.append("完成时限")
    if missing:
        raise Refused(
            f"{where}的方案状态为{PLAN_STATE_LABELS[state]}，请填写{'、'.join(missing)}后再保存。"
        )
    if text is not None and len(text) > TEXT_MAX:
        raise Refused(f"方案内容超过 {TEXT_MAX} 字，请精简或写明文件名称和文号。")
    if unit is not None and len(unit) > UNIT_MAX:
        raise Refused(f"责任单位超过 {UNIT_MAX} 字。")
    plan = RelapsePlan(
        place_kind=kind,
        place_code=code,
        state=state,
        text=text,
        responsible_unit=unit,
        due_on=due_on,
        user_id=user.id if user is not None else None,
        username=user.username if user is not None else None,
        recorded_at=utcnow(),
    )
    session.add(plan)
    session.flush()
    audit(
        session,
        "relapse_plan",
        user=user,
        target=f"{kind}:{code}",
        detail={
            "plan": plan.id,
            "state": PLAN_STATE_LABELS[state],
            "unit": unit,
            "due_on": due_on.isoformat() if due_on else None,
        },
    )
    return plan


def plans_in_force(
    session: Session, known_at: datetime | None = None
) -> dict[tuple[str, str], RelapsePlan]:
    """(kind, code) → the newest plan recorded by ``known_at`` (naive UTC; None: now)."""
    query = select(RelapsePlan).order_by(RelapsePlan.recorded_at, RelapsePlan.id)
    if known_at is not None:
        query = query.where(RelapsePlan.recorded_at <= known_at)
    return {(p.place_kind, p.place_code): p for p in session.scalars(query)}


def plan_view(plan: RelapsePlan | None, today: date) -> dict[str, Any]:
    """A plan as every face shows it ("未制定" when none); ``overdue`` judged against today."""
    if plan is None:
        return {
            "state": "none",
            "state_label": PLAN_STATE_LABELS["none"],
            "text": None,
            "unit": None,
            "due_on": None,
            "overdue": False,
            "recorded_at": None,
            "by": None,
        }
    return {
        "state": plan.state,
        "state_label": PLAN_STATE_LABELS.get(plan.state, plan.state),
        "text": plan.text,
        "unit": plan.responsible_unit,
        "due_on": plan.due_on,
        "overdue": plan.due_on is not None and plan.due_on < today and plan.state != "done",
        "recorded_at": plan.recorded_at,
        "by": plan.username,
    }


def with_plans(
    places: list[dict[str, Any]],
    kind: str,
    plans: dict[tuple[str, str], RelapsePlan],
    today: date,
) -> list[dict[str, Any]]:
    """The places of ``heating.relapse.needing_plan`` each with its ``plan`` (plan_view)."""
    return [p | {"plan": plan_view(plans.get((kind, p["key"])), today)} for p in places]
