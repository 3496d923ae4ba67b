"""Usage batches: preview, commit and roll back a utility's usage file (kind ``usage``).

Like a ledger: a preview writes nothing but the batch record and the stored
file; a commit writes every new or changed amount in one transaction and,
by default, nothing at all when any row has an error (``accept_valid``
writes the valid rows and keeps the refused ones in the batch record); a
rollback makes the batch stop counting, so the amounts it replaced are in
force again (``heating.usage_records``).  Re-importing a file changes
nothing: amounts equal to those in force are ``unchanged`` and not written.

Checks that need what is stored run here, after the child's read
(``imports.usage``): periods of one account that overlap one another or a
stored period (the same period again is a replacement, not an overlap);
readings lower than an earlier one (stored or in the file); and the match
of accounts to households — unknown accounts are listed
(``unmatched_accounts``), never errors; an account found only once leading
zeros are stripped is a warning; an account two households share is a
warning and both households are ``no_data`` for the season.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from heating.config import Config
from heating.errors import Refused
from heating.models import USAGE_KINDS, ImportBatch, StoredFile, UsageRecord, audit, utcnow
from heating.usage_records import account_index, account_key, records_in_force
from imports.issues import Problem
from imports.records import LoadReport
from imports.storage import keep_bytes
from imports.usage import UsageRead, UsageRow, read_usage

INSERT_CHUNK = 20_000
ACCOUNTS_SHOWN = 3
# Unmatched accounts kept in the batch record for its page (the outcome lists them all).
UNMATCHED_KEPT = 200


@dataclass
class UsageParsed:
    """A usage file read and checked: valid rows by class, issues, accounts, outcome."""

    kind: str
    file_name: str
    read: UsageRead
    valid: list[tuple[UsageRow, str]] = field(default_factory=list)  # row, new/updated/unchanged
    issues: list[Problem] = field(default_factory=list)
    rejected_rows: set[tuple[str, int]] = field(default_factory=set)
    accounts: int = 0
    matched: int = 0
    unmatched: list[str] = field(default_factory=list)
    seasons: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(1 for i in self.issues if i.severity == "error")

    def counts(self) -> dict[str, int]:
        by_class = {"new": 0, "updated": 0, "unchanged": 0}
        for _, cls in self.valid:
            by_class[cls] += 1
        return {
            "rows": len(self.read.rows) + self.read.rejected,
            **by_class,
            "rejected": self.read.rejected + len(self.rejected_rows),
            "skipped": self.read.skipped,
            "warnings": sum(1 for i in self.issues if i.severity == "warning"),
        }

    def batch_counts(self) -> dict[str, Any]:
        """What the batch record keeps: the counts, the accounts, the first unmatched ones."""
        return {
            "kind": self.kind,
            **self.counts(),
            "accounts": self.accounts,
            "matched": self.matched,
            "unmatched": len(self.unmatched),
            "unmatched_accounts": self.unmatched[:UNMATCHED_KEPT],
            "seasons": self.seasons,
        }

    def outcome(self, batch: ImportBatch | None = None) -> dict[str, Any]:
        """The outcome JSON of issue 13 (kind, rows, accounts, matched, unmatched_accounts…)."""
        counts = self.counts()
        out: dict[str, Any] = {
            "kind": self.kind,
            "file": self.file_name,
            "rows": counts["rows"],
            "accounts": self.accounts,
            "matched": self.matched,
            "unmatched_accounts": self.unmatched,
            "seasons": self.seasons,
            "issues": [i.as_json() for i in self.issues],
            "sheets": [s.as_json() for s in self.read.sheets],
            "counts": counts,
        }
        if batch is not None:
            out |= {"batch": batch.id, "status": batch.status, "sha256": batch.sha256}
        return out


def parse_usage(
    session: Session, data: bytes, file_name: str, kind: str, config: Config, today: date
) -> UsageParsed:
    """Read the file in the child, then check it against what is stored."""
    if kind not in USAGE_KINDS:
        raise Refused(f"用量类型应为 electric（用电）或 gas（用气），得到 {kind!r}。")
    read = read_usage(data, file_name, config, today)
    parsed = UsageParsed(kind, file_name, read, issues=list(read.issues))
    columns = {s.name: s.columns for s in read.sheets}

    def error(row: UsageRow, code: str, message: str, name: str) -> None:
        if name == "period":  # the period's own column: the month, else its start
            name = "month" if "month" in columns[row[0]] else "start"
        parsed.rejected_rows.add((row[0], row[1]))
        parsed.issues.append(
            Problem("error", code, message, row[0], row[1], columns[row[0]].get(name), name, row[2])
        )

    by_account: dict[str, list[UsageRow]] = defaultdict(list)
    spelling: dict[str, str] = {}
    for row in read.rows:
        key = account_key(row[2])
        by_account[key].append(row)
        spelling.setdefault(key, row[2])
    stored = records_in_force(session, kind, accounts=set(by_account))
    stored_by_account: dict[str, list[tuple[str, date, date, float]]] = defaultdict(list)
    for (account, form, first, last), amount in stored.items():
        stored_by_account[account].append((form, first, last, amount))
    for account, rows in by_account.items():
        _check_periods(rows, stored_by_account.get(account, []), error)
        _check_readings(rows, stored_by_account.get(account, []), error)
    for row in read.rows:
        if (row[0], row[1]) in parsed.rejected_rows:
            continue
        before = stored.get((account_key(row[2]), row[3], row[4], row[5]))
        cls = "new" if before is None else "unchanged" if before == row[6] else "updated"
        parsed.valid.append((row, cls))
    _match(session, parsed, kind, by_account, spelling)
    usage = config.usage
    seasons: set[int] = set()
    for first, last in {(row[4], row[5]) for row, _ in parsed.valid}:
        seasons.update(usage.seasons_touching(first, last))
    parsed.seasons = [str(y) for y in sorted(seasons)]
    parsed.issues.sort(key=lambda i: (i.sheet or "", i.row or 0))
    return parsed


def _check_periods(
    rows: list[UsageRow], stored: list[tuple[str, date, date, float]], error: Any
) -> None:
    """Periods of one account must not overlap each other nor a stored period."""
    periods = sorted((r for r in rows if r[3] == "period"), key=lambda r: (r[4], r[5], r[1]))
    for prev, row in zip(periods, periods[1:], strict=False):
        if row[4] <= prev[5]:
            same = (row[4], row[5]) == (prev[4], prev[5])
            error(
                row,
                "period_overlap",
                f"户号 {row[2]} 的 {row[4].isoformat()}–{row[5].isoformat()} "
                + ("在文件中出现了两次" if same else "与文件中")
                + ("" if same else f"工作表“{prev[0]}”第 {prev[1]} 行的时段重叠")
                + "：同一户号的时段不能重叠，请核对。",
                "period",
            )
    for row in periods:
        for form, first, last, _ in stored:
            if form != "period" or (first, last) == (row[4], row[5]):
                continue
            if first <= row[5] and row[4] <= last:
                error(
                    row,
                    "period_overlap",
                    f"户号 {row[2]} 的 {row[4].isoformat()}–{row[5].isoformat()} 与已导入的 "
                    f"{first.isoformat()}–{last.isoformat()} 重叠：同一时段请按原起止日期重新导入以替换，"
                    "或先撤销原批次。",
                    "period",
                )
                break


def _check_readings(
    rows: list[UsageRow], stored: list[tuple[str, date, date, float]], error: Any
) -> None:
    """Readings of one meter never go down; one reading per day."""
    readings = [r for r in rows if r[3] == "reading"]
    if not readings:
        return
    seen: dict[date, UsageRow] = {}
    for row in sorted(readings, key=lambda r: (r[4], r[1])):
        if row[4] in seen:
            error(
                row,
                "duplicate_reading",
                f"户号 {row[2]} 在 {row[4].isoformat()} 有两个表示数（另见第 {seen[row[4]][1]} 行），请核对。",
                "read_on",
            )
        else:
            seen[row[4]] = row
    timeline: dict[date, tuple[float, UsageRow | None]] = {
        first: (amount, None) for form, first, _, amount in stored if form == "reading"
    }
    for day, row in seen.items():
        timeline[day] = (row[6], row)
    previous: tuple[date, float] | None = None
    for day in sorted(timeline):
        amount, row = timeline[day]
        if previous is not None and amount < previous[1]:
            culprit = row
            if culprit is not None:
                error(
                    culprit,
                    "reading_decreased",
                    f"表示数 {amount:g} 小于 {previous[0].isoformat()} 的 {previous[1]:g}："
                    "表示数只增不减（换表请另起户号或在备注中说明后联系管理员）。",
                    "reading",
                )
                continue
        previous = (day, amount)


def _match(
    session: Session,
    parsed: UsageParsed,
    kind: str,
    by_account: dict[str, list[UsageRow]],
    spelling: dict[str, str],
) -> None:
    index = account_index(session, kind)
    parsed.accounts = len(by_account)
    stripped: list[str] = []
    for key in sorted(by_account):
        holders = index.get(key)
        if not holders:
            parsed.unmatched.append(spelling[key])
            continue
        parsed.matched += 1
        if any(h.account != spelling[key] for h in holders):
            stripped.append(spelling[key])
        if len(holders) > 1:
            first = by_account[key][0]
            parsed.issues.append(
                Problem(
                    "warning",
                    "account_shared",
                    f"户号 {spelling[key]} 在台账中属于 {len(holders)} 户：无法分清各户用量，"
                    "这些户按“无数据”处理。请在台账中核对户号。",
                    first[0],
                    first[1],
                    None,
                    "account",
                    spelling[key],
                )
            )
    if stripped:
        shown = "、".join(stripped[:ACCOUNTS_SHOWN]) + (
            "等" if len(stripped) > ACCOUNTS_SHOWN else ""
        )
        parsed.issues.append(
            Problem(
                "warning",
                "account_leading_zeros",
                f"{len(stripped)} 个户号去掉开头的 0 后才与台账匹配（如 {shown}）："
                "请确认是同一户；台账和用量文件的户号列最好都设为文本格式。",
                field="account",
            )
        )


def preview_usage(
    session: Session,
    data: bytes,
    file_name: str,
    kind: str,
    *,
    config: Config,
    today: date,
    user_id: int | None,
) -> tuple[ImportBatch, UsageParsed]:
    """Read and check a file, keep it with a preview batch; nothing else is written."""
    parsed = parse_usage(session, data, file_name, kind, config, today)
    batch = ImportBatch(
        kind="usage",
        user_id=user_id,
        file_name=file_name,
        sha256=keep_bytes(session, data),
        size=len(data),
        status="preview",
        counts=parsed.batch_counts(),
        sheets=[s.as_json() for s in parsed.read.sheets],
        issues=[i.as_json() for i in parsed.issues],
    )
    session.add(batch)
    session.flush()
    return batch, parsed


def reparse(session: Session, batch: ImportBatch, config: Config, today: date) -> UsageParsed:
    """Read a preview batch's stored file again (the web's commit step)."""
    content = session.get(StoredFile, batch.sha256)
    if content is None or content.purged_at is not None:
        raise Refused(f"批次 {batch.id} 的上传文件已按保留期限删除，请重新上传。")
    kind = (batch.counts or {}).get("kind", "electric")
    return parse_usage(session, content.content, batch.file_name, kind, config, today)


def commit_usage(
    session: Session,
    batch_id: int,
    parsed: UsageParsed,
    *,
    accept_valid: bool,
    user_id: int | None,
) -> ImportBatch:
    """Write the new and changed amounts of a previewed file in the caller's transaction."""
    batch = session.get(ImportBatch, batch_id, with_for_update=True)
    if batch is None or batch.kind != "usage":
        raise Refused(f"没有编号为 {batch_id} 的用量批次。")
    if batch.status != "preview":
        raise Refused(f"批次 {batch_id} 的状态是 {batch.status}，只能写入预览中的批次。")
    if parsed.errors and not accept_valid:
        raise Refused(
            LoadReport(parsed.issues).refusal("用量文件", parsed.file_name)
            + "也可以只写入无误的行（命令行加 --accept-valid）。"
        )
    rows = [
        {
            "batch_id": batch.id,
            "kind": parsed.kind,
            "account": account_key(row[2]),
            "form": row[3],
            "start": row[4],
            "end": row[5],
            "amount": row[6],
        }
        for row, cls in parsed.valid
        if cls != "unchanged"
    ]
    # A Core insert of the table: the ORM's bulk insert built each row's command in Python
    # (benchmarks/usage.py, 100k rows: commit 1.75–1.92 → 0.95–1.18 s). The batch's own
    # changes below are flushed, so the session's readers forget what they remembered.
    for i in range(0, len(rows), INSERT_CHUNK):
        session.connection().execute(insert(UsageRecord.__table__), rows[i : i + INSERT_CHUNK])
    batch.status = "committed"
    batch.committed_at = utcnow()
    batch.accept_valid = accept_valid
    batch.counts = {**parsed.batch_counts(), "written": len(rows)}
    if parsed.rejected_rows or parsed.read.rejected:
        batch.rejected_rows = [
            i.as_json() for i in parsed.issues if i.severity == "error" and i.row is not None
        ]
    session.flush()
    audit(
        session,
        "usage_commit",
        user=user_id,
        target=f"batch:{batch.id}",
        detail={"kind": parsed.kind, "written": len(rows), "file": parsed.file_name},
    )
    return batch


def rollback_usage(session: Session, batch: ImportBatch, *, user_id: int | None) -> ImportBatch:
    """Make a committed usage batch stop counting: what it replaced is in force again."""
    if batch.status != "committed":
        raise Refused(f"批次 {batch.id} 的状态是 {batch.status}，只能撤销已提交的批次。")
    batch.status = "rolled_back"
    batch.rolled_back_at = utcnow()
    written = session.scalar(
        select(UsageRecord.id).where(UsageRecord.batch_id == batch.id).limit(1)
    )
    session.flush()
    audit(
        session,
        "usage_rollback",
        user=user_id,
        target=f"batch:{batch.id}",
        detail={"kind": (batch.counts or {}).get("kind"), "had_records": written is not None},
    )
    return batch
