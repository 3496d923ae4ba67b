"""The ledger schema is declared once: everything else derives from imports.fields."""

from __future__ import annotations

from heating.models import HOUSEHOLD_FIELDS, Household
from imports.fields import (
    LEDGER_FIELDS,
    LEDGER_SCHEMA,
    REQUIRED_COLUMNS,
    TEMPLATE_FIELDS,
    VILLAGE_COLUMNS,
    normalise_word,
)

# Ledger fields that place a row rather than describe the household.
PLACE_FIELDS = {"township", *VILLAGE_COLUMNS}
# Stored household fields no ledger column sets directly.
DERIVED_FIELDS = {"completed_on_precision"}


def test_every_ledger_field_is_a_stored_household_field_and_back() -> None:
    ledger = {f.name for f in LEDGER_FIELDS} - PLACE_FIELDS
    assert ledger == set(HOUSEHOLD_FIELDS) - DERIVED_FIELDS
    columns = set(Household.__table__.columns.keys())
    assert set(HOUSEHOLD_FIELDS) <= columns


def test_template_headers_read_back_as_their_fields() -> None:
    for f in TEMPLATE_FIELDS:
        assert LEDGER_SCHEMA.match(f.template_header) == f.name, f.template_header
        assert f.help and f.width > 0
        assert f.requirement in ("必填", "条件必填", "选填")


def test_offered_choice_words_are_accepted_as_the_value_they_label() -> None:
    for f in LEDGER_FIELDS:
        if f.kind != "choice":
            continue
        assert f.labels, f.name
        for value, word in f.labels.items():
            assert f.values[normalise_word(word)] == value, (f.name, word)


def test_required_columns_are_the_required_fields() -> None:
    assert [f.label for f in REQUIRED_COLUMNS] == ["户主姓名", "改造状态"]
    assert all(f.requirement == "必填" for f in REQUIRED_COLUMNS)
