"""Masking of personal data (names, ID numbers, phones) for roles that do not need it."""

from __future__ import annotations


def mask_id(value: str | None) -> str | None:
    """Keep the first 6 and last 4 characters: ``140405********123X``."""
    if not value:
        return value
    text = str(value)
    if len(text) <= 10:
        return text[:2] + "*" * max(0, len(text) - 2)
    return text[:6] + "*" * (len(text) - 10) + text[-4:]


def mask_phone(value: str | None) -> str | None:
    """Keep the first 3 and last 4 digits: ``138****5678``."""
    if not value:
        return value
    text = str(value)
    if len(text) <= 7:
        return "*" * len(text)
    return text[:3] + "*" * (len(text) - 7) + text[-4:]


def mask_name(name: str | None) -> str | None:
    """Keep the family name's first character: 张三 → 张*."""
    if not name:
        return name
    return name[0] + "*" * max(1, len(name) - 1)


PERSONAL_FIELDS = ("id_number", "phone")  # household fields masked for roles that do not need them


def mask_field(field: str | None, value: str | None) -> str | None:
    """``value`` masked when ``field`` is an ID number or phone; any other field as it is."""
    if field == "id_number":
        return mask_id(value)
    if field == "phone":
        return mask_phone(value)
    return value


def can_see_personal_data(
    role: str, user_township_id: int | None, household_township_id: int | None
) -> bool:
    """Admins see everything; a clerk sees its own township's households; no one else."""
    if role == "admin":
        return True
    return (
        role == "clerk"
        and user_township_id is not None
        and (user_township_id == household_township_id)
    )
