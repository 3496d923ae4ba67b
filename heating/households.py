"""Who a household is: its key within the village and how names are compared.

The key rules (domain.md) are used by the ledger parser, the demo and the
history writer alike.  Writing a household's changes is
``heating.history``'s job.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable


def id_hash(id_number: str, salt: str) -> str:
    """Salted SHA-256 of an ID number: a stable key that does not reveal the number."""
    return hashlib.sha256(f"{salt}:{id_number.upper()}".encode()).hexdigest()


def normalise_text(value: str) -> str:
    """NFKC, no whitespace: how names and addresses are compared."""
    return "".join(unicodedata.normalize("NFKC", value).split())


def name_base(value: str, suffixes: Iterable[str]) -> str:
    """A normalised name without office or company suffixes (removed repeatedly), never emptied.

    One rule for every name matched across files: villages drop 村委会/社区…,
    heat sources drop 有限公司/分公司…; the longest suffix is tried first so
    社区居委会 goes before 居委会 and 有限责任公司 before 公司.
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


def household_key(
    *,
    household_no: str | None,
    id_number: str | None,
    head_name: str | None,
    address: str | None,
    salt: str,
) -> tuple[str, str]:
    """Return (key, key_kind) by domain.md's order: 户号, ID hash, name + address."""
    if household_no:
        return "no:" + normalise_text(household_no), "household_no"
    if id_number:
        return "id:" + id_hash(id_number, salt), "id_hash"
    return "name:" + normalise_text(head_name or "") + "|" + normalise_text(address or ""), (
        "name_address"
    )
