"""What a sign-off looks at: a submission's figures and open problems; what an approval saw.

**Submission review** (``review``): the township's figures as of the cut-off
(total and by category) and its open problems, each a ``Problem``:

- ``rejected_rows`` — committed "only valid rows" batches dated on or before
  the cut-off that kept rows with errors (those households were not written);
- ``inconsistency`` — ``heating.inconsistencies`` as of the cut-off;
- ``no_boundary`` — villages without a boundary (no zone can include them);
- ``status_regressed`` — households an earlier ledger had clean that are not
  clean as of the cut-off (``heating.history.regressed_as_of``).

**Approval record** (``approval_record``): what was approved (the figures)
and the facts the report reads at generation time rather than as of a date —
the registry's totals and categories of the township's villages, their
boundaries, the requirement profile.  ``changes_since`` compares them with
today's, and lists the heat-source register and boiler ledger entries
recorded after the approval (those are versioned by recorded time) and the
utility usage records (issue 13) of the township's households' accounts,
dated on or before the cut-off, whose batch was committed or rolled back
after it, so the report's cover can say what changed under an approved period.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from heating.config import Config
from heating.history import regressed_as_of
from heating.inconsistencies import CODES as INCONSISTENCY_LABELS
from heating.inconsistencies import inconsistencies
from heating.measures import MeasureRow, coverage
from heating.models import (
    STATUS_LABELS,
    Boiler,
    BoilerInspection,
    BoilerState,
    HeatSourceVersion,
    Household,
    ImportBatch,
    Township,
    UsageRecord,
    Village,
)
from heating.profile import Profile
from heating.targets import percent

LISTED = 5  # examples named in one problem or change
FIGURE_KEYS = ("registry_households", "ledger_rows", "exempt", "required", "clean", "lapsed")
FIGURE_LABELS = {
    "registry_households": "名录总户数",
    "ledger_rows": "台账户数",
    "exempt": "无需改造",
    "required": "应改造",
    "clean": "已完成",
    "lapsed": "散煤复烧/弃用",
}
PROBLEM_LABELS = {
    "rejected_rows": "错误行未导入",
    "inconsistency": "数据不一致",
    "no_boundary": "缺少村界",
    "status_regressed": "状态倒退",
}


def _listed(names: list[str]) -> str:
    shown = "、".join(names[:LISTED])
    return shown + (f" 等 {len(names)} 个" if len(names) > LISTED else "")


# --------------------------------------------------------------------------
# Submission review
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One kind of open problem of a township's period, said in Chinese."""

    kind: str  # PROBLEM_LABELS
    message: str
    count: int

    @property
    def label(self) -> str:
        return PROBLEM_LABELS[self.kind]

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "count": self.count}


@dataclass(frozen=True)
class Review:
    """A township's figures as of the cut-off and its open problems."""

    township_code: str
    township_name: str
    period: date
    figures: MeasureRow
    categories: list[MeasureRow]  # the township's villages by category, then "total"
    ledger: ImportBatch | None  # the newest ledger on or before the cut-off
    problems: list[Problem]

    def figures_json(self) -> dict[str, Any]:
        return figures_json(self.figures)


def figures_json(row: MeasureRow) -> dict[str, Any]:
    """The counts of a township row that an approval fixes (coverage follows from them)."""
    return {k: getattr(row, k) for k in FIGURE_KEYS}


def review(session: Session, config: Config, township: Township, period: date) -> Review:
    """The figures as of ``period`` and the open problems a clerk confirms before submitting."""
    from heating.history import newest_ledger

    profile = config.profile
    (figures,) = coverage(session, profile, "township", as_of=period, township_code=township.code)
    categories = [
        r
        for r in coverage(session, profile, "category", as_of=period, township_code=township.code)
        if r.villages or r.key == "total"
    ]
    villages = list(
        session.execute(
            select(Village.id, Village.code, Village.name, Village.geometry.is_(None))
            .where(Village.township_id == township.id)
            .order_by(Village.code)
        )
    )
    problems = [
        *_rejected_rows(session, township, period),
        *_inconsistencies(session, profile, township, period),
        *_no_boundary(villages),
        *_regressed(session, villages, period),
    ]
    return Review(
        township.code,
        township.name,
        period,
        figures,
        categories,
        newest_ledger(session, township.id, on_or_before=period),
        problems,
    )


def _rejected_rows(session: Session, township: Township, period: date) -> list[Problem]:
    b = ImportBatch
    batches = session.scalars(
        select(b)
        .where(
            b.township_id == township.id,
            b.kind == "ledger",
            b.status == "committed",
            b.accept_valid.is_(True),
            b.ledger_date <= period,
        )
        .order_by(b.ledger_date, b.id)
    )
    out = []
    for batch in batches:
        rows = batch.rejected_rows or []
        if not rows:
            continue
        first = rows[0]
        reason = next((i.get("message") for i in first.get("issues") or []), "") or ""
        where = f"工作表“{first.get('sheet')}”第 {first.get('row')} 行" if first.get("row") else ""
        example = f"（如{where}：{reason.rstrip('。')}）" if where or reason else ""
        out.append(
            Problem(
                "rejected_rows",
                f"批次 {batch.id}（{batch.file_name}，台账日期 {batch.ledger_date}）只导入了无误的行，"
                f"{len(rows)} 行有错误未导入{example}：这些户的数据没有写入，请改正后重新上传。",
                len(rows),
            )
        )
    return out


def _inconsistencies(
    session: Session, profile: Profile, township: Township, period: date
) -> list[Problem]:
    found = inconsistencies(session, as_of=period, profile=profile, township_code=township.code)
    by_code: dict[str, list[str]] = defaultdict(list)
    for item in found:
        by_code[item.code].append(item.message)
    return [
        Problem(
            "inconsistency",
            f"数据不一致（{INCONSISTENCY_LABELS.get(code, code)}）{len(messages)} 处："
            + "；".join(m.rstrip("。") for m in messages[:LISTED])
            + ("……" if len(messages) > LISTED else "。"),
            len(messages),
        )
        for code, messages in by_code.items()
    ]


def _no_boundary(villages: list[Any]) -> list[Problem]:
    missing = [name for _, _, name, without in villages if without]
    if not missing:
        return []
    return [
        Problem(
            "no_boundary",
            f"{len(missing)} 个村没有村界（{_listed(missing)}）：这些村不能并入禁煤区，请管理员加载村界。",
            len(missing),
        )
    ]


def _regressed(session: Session, villages: list[Any], period: date) -> list[Problem]:
    names = {vid: name for vid, _, name, _ in villages}
    found = list(session.execute(regressed_as_of(period, list(names))))
    if not found:
        return []
    examples = [
        f"{names[r.village_id]} {r.household_no or r.head_name or r.household_id}"
        f"（{STATUS_LABELS.get(r.status, r.status)}）"
        for r in found
    ]
    return [
        Problem(
            "status_regressed",
            f"{len(found)} 户在之前的台账中已完工/已验收，截止日的台账中为未完成状态"
            f"（{_listed(examples)}）：请核实是否填错。",
            len(found),
        )
    ]


# --------------------------------------------------------------------------
# What an approval saw, and what changed since
# --------------------------------------------------------------------------


def _registry(session: Session, township: Township) -> dict[str, dict[str, Any]]:
    return {
        code: {"name": name, "total": total, "category": category, "boundary": has_boundary}
        for code, name, total, category, has_boundary in session.execute(
            select(
                Village.code,
                Village.name,
                Village.total_households,
                Village.category,
                Village.geometry.is_not(None),
            )
            .where(Village.township_id == township.id)
            .order_by(Village.code)
        )
    }


def _profile(profile: Profile) -> dict[str, Any]:
    return {"name": profile.name, "targets": {c.key: c.target for c in profile.categories}}


def approval_record(
    session: Session, config: Config, township: Township, period: date
) -> dict[str, Any]:
    """The figures approved and the facts read at report time, as JSON for ``Signoff.approval``."""
    (row,) = coverage(
        session, config.profile, "township", as_of=period, township_code=township.code
    )
    return {
        "figures": figures_json(row),
        "villages": _registry(session, township),
        "profile": _profile(config.profile),
    }


def changes_since(
    session: Session,
    config: Config,
    township: Township,
    record: dict[str, Any] | None,
    approved_at: datetime,
    figures: MeasureRow | None = None,
    period: date | None = None,
) -> list[str]:
    """What the report reads at generation time that differs from what the approval saw.

    ``figures`` is the township's row as the report computes it; without it
    the figures are not compared.  ``period`` (the cut-off) limits usage
    records to those dated on or before it; without it usage is not compared.
    """
    if not record:
        return []
    out = []
    if figures is not None:
        out += _figure_changes(record.get("figures") or {}, figures)
    out += _registry_changes(
        record.get("villages") or {}, _registry(session, township), config.profile
    )
    then_profile, now_profile = record.get("profile") or {}, _profile(config.profile)
    if then_profile and then_profile != now_profile:
        out.append(
            f"要求配置：审核时为“{then_profile.get('name')}”"
            f"（{_targets(then_profile)}），现为“{now_profile['name']}”（{_targets(now_profile)}）"
        )
    out += _register_changes(session, approved_at)
    out += _boiler_changes(session, township, approved_at)
    if period is not None:
        out += _usage_changes(session, township, approved_at, period)
    return out


def _targets(profile: dict[str, Any]) -> str:
    return "，".join(f"{k} {percent(v, 0)}" for k, v in (profile.get("targets") or {}).items())


def _figure_changes(then: dict[str, Any], row: MeasureRow) -> list[str]:
    diffs = [
        f"{FIGURE_LABELS[k]} {then[k]:,} → {getattr(row, k):,}"
        for k in FIGURE_KEYS
        if k in then and then[k] != getattr(row, k)
    ]
    return [f"户数与审核时不同：{'，'.join(diffs)}"] if diffs else []


def _registry_changes(then: dict[str, Any], now: dict[str, Any], profile: Profile) -> list[str]:
    out = []
    added = [now[c]["name"] for c in sorted(set(now) - set(then))]
    removed = [then[c]["name"] for c in sorted(set(then) - set(now))]
    if added:
        out.append(f"村庄名录：审核后新增村 {_listed(added)}")
    if removed:
        out.append(f"村庄名录：审核后移出村 {_listed(removed)}")
    totals, categories, boundaries = [], [], []
    for code in sorted(set(then) & set(now)):
        a, b = then[code], now[code]
        if a.get("total") != b["total"]:
            totals.append(f"{b['name']} {_count(a.get('total'))} → {_count(b['total'])}")
        if a.get("category") != b["category"]:
            categories.append(
                f"{b['name']} {_category(profile, a.get('category'))} → "
                f"{_category(profile, b['category'])}"
            )
        if a.get("boundary") != b["boundary"]:
            boundaries.append(f"{b['name']}{'新增' if b['boundary'] else '删除'}村界")
    if totals:
        out.append(f"村庄名录总户数：{_listed(totals)}")
    if categories:
        out.append(f"村庄名录区域类别：{_listed(categories)}")
    if boundaries:
        out.append(f"村界：{_listed(boundaries)}")
    return out


def _category(profile: Profile, key: str | None) -> str:
    return profile.label(key) if key else "未设置"


def _count(value: int | None) -> str:
    return "未填" if value is None else f"{value:,}"


def _register_changes(session: Session, since: datetime) -> list[str]:
    names = list(
        dict.fromkeys(
            session.scalars(
                select(HeatSourceVersion.name)
                .where(HeatSourceVersion.recorded_at > since)
                .order_by(HeatSourceVersion.recorded_at, HeatSourceVersion.id)
            )
        )
    )
    if not names:
        return []
    return [f"热源名单：审核后有 {len(names)} 个热源的信息有变化（{_listed(names)}）"]


def _boiler_changes(session: Session, township: Township, since: datetime) -> list[str]:
    codes = list(
        dict.fromkeys(
            session.scalars(
                select(Boiler.code)
                .outerjoin(BoilerState, BoilerState.boiler_id == Boiler.id)
                .outerjoin(BoilerInspection, BoilerInspection.boiler_id == Boiler.id)
                .where(
                    Boiler.township_id == township.id,
                    or_(
                        Boiler.created_at > since,
                        BoilerState.recorded_at > since,
                        BoilerInspection.recorded_at > since,
                    ),
                )
                .order_by(Boiler.code)
            )
        )
    )
    if not codes:
        return []
    return [f"锅炉台账：审核后有 {len(codes)} 台锅炉的状态或检查记录有变化（{_listed(codes)}）"]


def _usage_changes(
    session: Session, township: Township, since: datetime, period: date
) -> list[str]:
    """Usage records of the township's accounts dated by ``period`` that a batch committed
    or rolled back after ``since`` brought or took away."""
    from heating.usage_records import ACCOUNT_COLUMNS, account_key

    accounts: dict[str, set[str]] = {kind: set() for kind in ACCOUNT_COLUMNS}
    columns = [getattr(Household, column) for column in ACCOUNT_COLUMNS.values()]
    for values in session.execute(
        select(*columns)
        .join(Village, Village.id == Household.village_id)
        .where(Village.township_id == township.id)
    ):
        for kind, value in zip(ACCOUNT_COLUMNS, values, strict=True):
            if value:
                accounts[kind].add(account_key(value))
    if not any(accounts.values()):
        return []
    b, r = ImportBatch, UsageRecord
    touched: dict[int, int] = defaultdict(int)
    for batch_id, kind, account in session.execute(
        select(b.id, r.kind, r.account)
        .join(r, r.batch_id == b.id)
        .where(
            b.kind == "usage",
            or_(b.committed_at > since, b.rolled_back_at > since),
            r.start <= period,
        )
        .order_by(b.id)
    ):
        if account in accounts.get(kind, set()):
            touched[batch_id] += 1
    if not touched:
        return []
    batches = "、".join(f"批次 {i}" for i in list(touched)[:LISTED])
    return [
        f"用电用气数据：审核后有 {sum(touched.values()):,} 条截止日以前的记录随{batches}"
        f"{' 等' if len(touched) > LISTED else ''} 写入或撤销"
    ]
