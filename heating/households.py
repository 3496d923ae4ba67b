"""Who a household is: its key within the village.

The key rules (domain.md) are used by the ledger parser, the demo and the
history writer alike.  Writing a household's changes is
``heating.history``'s job.
"""

from __future__ import annotations

import hashlib

from heating.names import normalise_text


def id_hash(id_number: str, salt: str) -> str:
    """Salted SHA-256 of an ID number: a stable key that does not reveal the number."""
    return hashlib.sha256(f"{salt}:{id_number.upper()}".encode()).hexdigest()


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
