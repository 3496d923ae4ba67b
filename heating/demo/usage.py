"""Demo evidence: heated areas, utility accounts, subsidy rules and last winter's utility use.

Everything here draws from its own random streams (``{seed}:evidence:…``),
so the households, statuses and histories of ``heating.demo.rollout`` stay
exactly as they were.  The story it makes visible:

- heated areas for about 97% of the households (so the clean-heating rate
  by floor area can be computed nearly everywhere, and not in a few villages);
- 电力户号 for 煤改电 households and 燃气户号 for 煤改气 households, some
  with leading zeros that the utility's export drops;
- device subsidies as the demo rules (``subsidy.toml``: 长治's published
  2018–2020 煤改电 scheme plus assumed 2021 and 煤改气 lines) say, about one
  in twenty different;
- season 2021 (2021-11 … 2022-03): monthly electricity for 煤改电 and meter
  readings for 煤改气 — most lapsed households (散煤复烧/弃用) use little,
  a few normal households too, and a few accounts have too few months.

The use is imported through the real usage import (a file per utility), so
the demo's usage batches look like any other; ``heating demo --ledgers``
writes out the very files imported (``imported_files``).  The electricity
file (≈ 140,000 rows) is written with XlsxWriter: openpyxl took 14 s of CPU
for it, XlsxWriter 5.5 s (the largest single step of ``heating demo``).
"""

from __future__ import annotations

import csv
import io
import random
import tomllib
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import xlsxwriter
from sqlalchemy import select
from sqlalchemy.orm import Session

from heating.config import Config
from heating.demo.rollout import VillagePlan, yuan
from heating.models import (
    CLEAN_STATUSES,
    LAPSED_OPERATIONS,
    Household,
    ImportBatch,
    StoredFile,
    Village,
)
from heating.subsidy import SubsidyRule, parse_subsidy

RULES_FILE = Path(__file__).with_name("subsidy.toml")
# (file name, usage kind) of the two utilities' files, as imported.
ELECTRIC_FILE = ("屯留供电公司2021采暖季用电量【演示】.xlsx", "electric")
GAS_FILE = ("屯留燃气公司2021采暖季抄表【演示】.csv", "gas")
MONTHS = ((2021, 11), (2021, 12), (2022, 1), (2022, 2), (2022, 3))
READING_DAYS = (
    date(2021, 10, 25),
    date(2021, 12, 1),
    date(2022, 1, 5),
    date(2022, 2, 10),
    date(2022, 3, 5),
    date(2022, 4, 5),
)
# Season use per 100 m² of a household that heats with it.
TYPICAL = {"electric": 2600.0, "gas": 950.0}


@cache
def demo_rules() -> tuple[SubsidyRule, ...]:
    """The demo's subsidy rules, from the shipped ``subsidy.toml`` (read once: frozen rules)."""
    with RULES_FILE.open("rb") as fh:
        return parse_subsidy(tomllib.load(fh)["subsidy"])


def decorate(plan: VillagePlan, seed: str) -> None:
    """Give a village's households areas, accounts and rule-following device subsidies."""
    rng = random.Random(f"{seed}:evidence:{plan.code}")
    rules = {(r.route, r.year): r for r in demo_rules()}
    for index, household in enumerate(plan.households, start=1):
        final = household.final()
        facts = household.facts
        area = rng.randint(55, 180)
        if rng.random() < 0.97:
            facts["heated_area_m2"] = yuan(area)
        number = f"{plan.code[6:]}{index:04d}"
        if final.get("route") == "electric":
            facts["power_account"] = ("00" if rng.random() < 0.3 else "") + number
        elif final.get("route") == "gas":
            facts["gas_account"] = "0" + number
        mismatch = rng.random() < 0.05
        for step in household.steps:
            done = step.changes.get("completed_on")
            if done is None or "device_subsidy" not in step.changes:
                continue
            rule = rules.get((final.get("route"), done.year))
            if rule is not None and not mismatch:
                step.changes["device_subsidy"] = rule.device


def _season_use(rng: random.Random, route: str, area: float, operation: str | None) -> float:
    """Last winter's use: low for most lapsed households and a few others."""
    normal = TYPICAL[route] * area / 100 * rng.uniform(0.7, 1.3)
    if operation in LAPSED_OPERATIONS:
        return (
            0.0
            if rng.random() < 0.3
            else normal * rng.uniform(0.02, 0.2)
            if rng.random() < 0.85
            else normal
        )
    if rng.random() < 0.03:
        return normal * rng.uniform(0.0, 0.2)
    return normal


def usage_files(session: Session, seed: str) -> list[tuple[str, str, bytes]]:
    """(file name, kind, bytes): 煤改电 monthly use as .xlsx, 煤改气 readings as GBK .csv."""
    rng = random.Random(f"{seed}:evidence:use")
    h = Household
    query = (
        select(
            Village.code,
            h.household_no,
            h.route,
            h.status,
            h.operation,
            h.heated_area_m2,
            h.power_account,
            h.gas_account,
        )
        .join(Village, Village.id == h.village_id)
        .where(h.active.is_(True), h.status.in_(CLEAN_STATUSES), h.route.in_(("electric", "gas")))
        .order_by(Village.code, h.id)
    )
    electric = io.BytesIO()
    wb = xlsxwriter.Workbook(electric, {"in_memory": True})
    ws = wb.add_worksheet("居民用电量")
    ws.write_row(0, 0, ["国网屯留供电公司 居民用户月度用电量明细（2021—2022 采暖季）【演示数据】"])
    ws.write_row(1, 0, ["用电户号", "户名", "月份", "用电量（kWh）"])
    row = 2
    gas = io.StringIO()
    writer = csv.writer(gas)
    writer.writerow(["燃气用户号", "抄表日期", "表示数（立方米）"])
    for _, _, route, _, operation, area, power, gas_account in session.execute(query):
        use = _season_use(rng, route, float(area or 100), operation)
        if route == "electric" and power:
            months = MONTHS[:2] if rng.random() < 0.02 else MONTHS  # a few: too little data
            weights = [rng.uniform(0.8, 1.2) for _ in months]
            account = power.lstrip("0")  # the utility's export drops leading zeros
            for (year, month), weight in zip(months, weights, strict=True):
                amount = round(use * weight / sum(weights), 1)
                ws.write_row(row, 0, [account, "用户", f"{year}-{month:02d}", amount])
                row += 1
            continue
        if route == "gas" and gas_account:
            meter = round(rng.uniform(100, 5000), 1)
            per_day = use / 151
            previous = date(2021, 11, 1)
            meter -= per_day * 7  # the reading before the season starts
            previous = READING_DAYS[0]
            for day in READING_DAYS:
                meter += per_day * (day - previous).days * rng.uniform(0.9, 1.1)
                previous = day
                writer.writerow([gas_account, day.isoformat(), round(meter, 1)])
    wb.close()
    return [
        (*ELECTRIC_FILE, electric.getvalue()),
        (*GAS_FILE, gas.getvalue().encode("gbk")),
    ]


def imported_files(session: Session, seed: str) -> list[tuple[str, str, bytes]]:
    """The demo's usage files as imported (their stored bytes); generated again if not kept."""
    out = []
    for name, kind in (ELECTRIC_FILE, GAS_FILE):
        content = session.scalar(
            select(StoredFile.content)
            .join(ImportBatch, ImportBatch.sha256 == StoredFile.sha256)
            .where(ImportBatch.kind == "usage", ImportBatch.file_name == name)
            .where(StoredFile.purged_at.is_(None))
            .order_by(ImportBatch.id.desc())
            .limit(1)
        )
        if content is None:
            return usage_files(session, seed)
        out.append((name, kind, content))
    return out


def load_usage(session: Session, config: Config, seed: str, today: date) -> list[dict[str, Any]]:
    """Import the demo's usage files through the usage import; return their outcomes."""
    from imports.usage_batches import commit_usage, preview_usage

    outcomes = []
    for name, kind, data in usage_files(session, seed):
        batch, parsed = preview_usage(
            session, data, name, kind, config=config, today=today, user_id=None
        )
        commit_usage(session, batch.id, parsed, accept_valid=True, user_id=None)
        outcomes.append(parsed.outcome(batch))
    return outcomes
