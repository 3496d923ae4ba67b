"""Resolve a place (township, village name, village code) against the registry.

The one village resolver: ledger rows, boiler rows and boundary features
(``geo.boundary_matching``) are all placed by ``VillageIndex``, never
creating a township or village.  The index is built once from two queries;
every lookup is then a few dict lookups (memoised per distinct
township/village/code triple), so a 100k-row ledger costs no per-row
database work.  Names match by ``heating.names`` (full name first, then
without office suffixes: 南街村委会 = 南街村 = 南街).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from heating.formulas import neutralise
from heating.models import District, Township, Village
from heating.names import normalise_text, township_keys, village_base, village_keys
from imports.issues import Problem


@dataclass(frozen=True)
class Resolution:
    """Where a row or feature belongs, or the problems that say why it belongs nowhere."""

    village_id: int | None
    township_code: str | None
    problems: tuple[Problem, ...] = ()
    village_code: str | None = None


@dataclass
class VillageIndex:
    """Townships and villages of the registry, indexed for name and code lookups."""

    upload_township: str | None  # the uploader's township code, if any
    townships: dict[str, str] = field(default_factory=dict)  # code → name
    township_by_name: dict[str, str | None] = field(default_factory=dict)  # base/full → code
    villages: dict[str, tuple[int, str, str]] = field(
        default_factory=dict
    )  # code → id, name, tcode
    # (township code, key) → village code, None when ambiguous; keys are full and base names.
    by_name: dict[tuple[str, str], str | None] = field(default_factory=dict)
    names_in: dict[str, list[str]] = field(default_factory=dict)  # tcode → registry names
    village_names: set[str] = field(default_factory=set)  # every key of every village name
    district_ids: set[int] = field(default_factory=set)
    _cache: dict[tuple[object, object, object], Resolution] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session, township_code: str | None) -> VillageIndex:
        """Read the registry (the uploader's district when a township is given)."""
        index = cls(township_code)
        tq = select(Township.code, Township.name, Township.district_id)
        vq = select(Village.id, Village.code, Village.name, Township.code).join(Township)
        if township_code:
            district_id = session.scalar(
                select(Township.district_id).where(Township.code == township_code)
            )
            if district_id is not None:
                tq = tq.where(Township.district_id == district_id)
                vq = vq.where(Township.district_id == district_id)
                index.district_ids.add(district_id)
        else:
            index.district_ids.update(session.scalars(select(District.id)))
        for code, name, _district in session.execute(tq):
            index.townships[code] = name
            for key in (*township_keys(name), code):
                prev = index.township_by_name.get(key, code)
                index.township_by_name[key] = code if prev == code else None
        for vid, code, name, tcode in session.execute(vq):
            index.villages[code] = (vid, name, tcode)
            index.names_in.setdefault(tcode, []).append(name)
            # The template's dropdown offers a name as neutralised by heating.formulas
            # ("'=…" for a name a spreadsheet would run), so that spelling matches too.
            for key in dict.fromkeys((*village_keys(name), normalise_text(neutralise(name)))):
                prev = index.by_name.get((tcode, key), code)
                index.by_name[(tcode, key)] = code if prev == code else None
                index.village_names.add(key)
        return index

    def township_code(self, township: str) -> str | None:
        """The code of a township name or 9-digit code; None when unknown or ambiguous."""
        for key in (*township_keys(township), township):
            code = self.township_by_name.get(key)
            if code is not None:
                return code
        return None

    def knows_village_name(self, name: str) -> bool:
        """True when some registry village has this name (full or without suffixes)."""
        return any(key in self.village_names for key in village_keys(name))

    # ------------------------------------------------------------------
    def resolve(
        self, township: str | None, village: str | None, village_code: str | None
    ) -> Resolution:
        """Resolve one row's place; memoised on the raw triple."""
        key = (township, village, village_code)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._resolve(township, village, village_code)
            self._cache[key] = hit
        return hit

    def township(self, township: str) -> tuple[str | None, list[Problem]]:
        """Resolve a township name or 9-digit code alone (a boiler's 乡镇)."""
        return self._township(township)

    def _township(self, township: str | None) -> tuple[str | None, list[Problem]]:
        if township is None:
            if self.upload_township:
                return self.upload_township, []
            return None, []
        code = self.township_code(township)
        if code is None:
            near = self._suggest(township, list(self.townships.values()))
            return None, [
                Problem(
                    "error",
                    "township_not_found",
                    f"乡镇“{township}”不在村庄名录中{near}。请填写名录中的乡镇名称或 9 位代码。",
                    field="township",
                )
            ]
        if self.upload_township and code != self.upload_township:
            mine = self.townships.get(self.upload_township, self.upload_township)
            return None, [
                Problem(
                    "error",
                    "township_mismatch",
                    f"该行属于{self.townships[code]}，不是本次上传的{mine}。"
                    "请只上传本乡镇的农户，或删除这一行。",
                    field="township",
                )
            ]
        return code, []

    def _resolve(
        self, township: str | None, village: str | None, village_code: str | None
    ) -> Resolution:
        tcode, problems = self._township(township)
        if problems:
            return Resolution(None, None, tuple(problems))
        if village_code:
            return self._by_code(tcode, village, village_code)
        if not village:
            return Resolution(
                None,
                tcode,
                (
                    Problem(
                        "error",
                        "village_required",
                        "村名和村代码都为空，请填写村名。",
                        field="village",
                    ),
                ),
            )
        if tcode is None:
            return self._by_name_anywhere(village)
        code: str | None = ""
        for key in village_keys(village):
            code = self.by_name.get((tcode, key), "")
            if code != "":
                break
        if code is None:
            return Resolution(
                None,
                tcode,
                (
                    Problem(
                        "error",
                        "village_ambiguous",
                        f"村名“{village}”对应名录中的多个村，请填写完整村名或 12 位村代码。",
                        field="village",
                    ),
                ),
            )
        if code == "":
            near = self._suggest(village, self.names_in.get(tcode, []))
            tname = self.townships.get(tcode, tcode)
            return Resolution(
                None,
                tcode,
                (
                    Problem(
                        "error",
                        "village_unknown",
                        f"{tname}的村庄名录中没有“{village}”{near}。"
                        "请按名录填写村名；如确为新设村，请联系管理员先更新村庄名录。",
                        field="village",
                    ),
                ),
            )
        return Resolution(self.villages[code][0], tcode, (), code)

    def _by_code(self, tcode: str | None, village: str | None, vcode: str) -> Resolution:
        if not (len(vcode) == 12 and vcode.isdigit()):
            return Resolution(
                None,
                tcode,
                (
                    Problem(
                        "error",
                        "village_code_format",
                        f"村代码“{vcode[:20]}”应为 12 位数字。请把该列设为文本格式后填写完整代码。",
                        field="village_code",
                    ),
                ),
            )
        found = self.villages.get(vcode)
        if found is None:
            return Resolution(
                None,
                tcode,
                (
                    Problem(
                        "error",
                        "village_code_unknown",
                        f"村代码 {vcode} 不在村庄名录中。请核对代码，或留空并填写村名。",
                        field="village_code",
                    ),
                ),
            )
        vid, name, vt = found
        if tcode is not None and vt != tcode:
            return Resolution(
                None,
                tcode,
                (
                    Problem(
                        "error",
                        "village_code_mismatch",
                        f"村代码 {vcode}（{name}）属于{self.townships.get(vt, vt)}，"
                        f"不属于{self.townships.get(tcode, tcode)}。请核对村代码。",
                        field="village_code",
                    ),
                ),
            )
        problems: tuple[Problem, ...] = ()
        if village and village_base(village) != village_base(name):
            problems = (
                Problem(
                    "warning",
                    "village_name_mismatch",
                    f"村名“{village}”与村代码 {vcode} 对应的“{name}”不一致，已按村代码导入。请核对。",
                    field="village",
                ),
            )
        return Resolution(vid, vt, problems, vcode)

    def _by_name_anywhere(self, village: str) -> Resolution:
        keys = village_keys(village)
        matches = {code for (_t, k), code in self.by_name.items() if k in keys and code is not None}
        if len(matches) == 1:
            code = matches.pop()
            vid, _name, vt = self.villages[code]
            return Resolution(vid, vt, (), code)
        if not matches:
            near = self._suggest(village, [name for _id, name, _t in self.villages.values()])
            return Resolution(
                None,
                None,
                (
                    Problem(
                        "error",
                        "village_unknown",
                        f"村庄名录中没有“{village}”{near}。请按名录填写村名，或填写 12 位村代码。",
                        field="village",
                    ),
                ),
            )
        return Resolution(
            None,
            None,
            (
                Problem(
                    "error",
                    "township_required",
                    f"无法确定“{village}”属于哪个乡镇。请增加“乡镇”列，或在上传时选择乡镇，或填写 12 位村代码。",
                    field="township",
                ),
            ),
        )

    @staticmethod
    def _suggest(name: str, names: list[str]) -> str:
        if not names:
            return ""
        by_base: dict[str, str] = {}
        for n in names:
            by_base.setdefault(village_base(n), n)
        close = difflib.get_close_matches(village_base(name), list(by_base), n=3, cutoff=0.3)
        if not close:
            return ""
        return "，最接近的是：" + "、".join(by_base[c] for c in close)
