"""How names are compared: one rule for every name matched across files.

Villages, townships and heat sources are written differently in different
files (南街村委会 / 南街村 / 南街, 余吾镇 / 余吾, 某某热力有限公司 / 某某热力).
They are compared after ``normalise_text`` (NFKC: full-width → half-width,
no whitespace) and without their office or company suffixes.  The ledger
import, the boundary match, the registry and the heat-source register all
call these functions; nothing else strips a suffix.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

# Longest first is not needed here: ``name_base`` sorts them.
VILLAGE_SUFFIXES = (
    "村民委员会",
    "居民委员会",
    "社区居委会",
    "社区居民委员会",
    "村委会",
    "居委会",
    "委员会",
    "社区",
    "村",
)
TOWNSHIP_SUFFIXES = ("街道办事处", "办事处", "街道", "管理中心", "镇", "乡")


def normalise_text(value: str) -> str:
    """NFKC, no whitespace: how names and addresses are compared."""
    return "".join(unicodedata.normalize("NFKC", value).split())


def name_base(value: str, suffixes: Iterable[str]) -> str:
    """A normalised name without office or company suffixes (removed repeatedly), never emptied.

    Villages drop 村委会/社区…, heat sources drop 有限公司/分公司…; the
    longest suffix is tried first so 社区居委会 goes before 居委会 and
    有限责任公司 before 公司.
    """
    s = normalise_text(value)
    ordered = sorted((normalise_text(x) for x in suffixes), key=len, reverse=True)
    changed = True
    while changed:
        changed = False
        for suffix in ordered:
            if s.endswith(suffix) and len(s) > len(suffix):
                s = s[: -len(suffix)]
                changed = True
                break
    return s


def village_base(name: str) -> str:
    """A village name without office suffixes: 南街村委会, 南街村 and 南街 are all 南街."""
    return name_base(name, VILLAGE_SUFFIXES)


def township_base(name: str) -> str:
    """A township name without its one 镇/乡/街道… suffix: 余吾镇 → 余吾."""
    s = normalise_text(name)
    for suffix in TOWNSHIP_SUFFIXES:
        if s.endswith(suffix) and len(s) > len(suffix):
            return s[: -len(suffix)]
    return s


def village_keys(name: str | None) -> tuple[str, ...]:
    """The keys a village name is indexed and looked up by: full name, then base name.

    Looking the full name up first lets an exact name win over a base-name
    coincidence.
    """
    if not name:
        return ()
    full = normalise_text(name)
    return tuple(k for k in dict.fromkeys((full, village_base(full))) if k)


def township_keys(name: str | None) -> tuple[str, ...]:
    """The keys a township name is indexed and looked up by: full name, then base name."""
    if not name:
        return ()
    full = normalise_text(name)
    return tuple(k for k in dict.fromkeys((full, township_base(full))) if k)
