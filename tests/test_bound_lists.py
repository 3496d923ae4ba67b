"""``heating.bound_lists.one_of``: a list bound as one parameter selects exactly its members.

The as-of readers and the usage import ask for tens of thousands of ids or
accounts this way (an array on PostgreSQL, ``json_each`` on SQLite); a member
left out would drop a household's state or a utility record from a figure.
"""

from __future__ import annotations

from sqlalchemy import select

from heating.bound_lists import one_of
from heating.models import Village


def chosen(runtime, column, values, **kw) -> set:
    with runtime.session() as s:
        return set(s.scalars(select(column).where(one_of(s, column, values, **kw))))


def test_ids_and_texts_select_exactly_their_members(runtime, tiny_district) -> None:
    ids = sorted(tiny_district.values())
    codes = sorted(tiny_district)
    assert chosen(runtime, Village.id, ids[:2]) == set(ids[:2])
    assert chosen(runtime, Village.id, [*ids, 10**9]) == set(ids)  # unknown ids: no rows
    assert chosen(runtime, Village.id, []) == set()
    assert chosen(runtime, Village.code, codes[1:], text=True) == set(codes[1:])
    # Text compares as text: a code with its leading digit dropped is another value.
    assert chosen(runtime, Village.code, [codes[0][1:]], text=True) == set()
    many = list(range(10**6, 10**6 + 40_000)) + [ids[0]]  # beyond SQLite's 32,766 parameters
    assert chosen(runtime, Village.id, many) == {ids[0]}


def test_two_lists_in_one_statement_keep_their_own_values(runtime, tiny_district) -> None:
    ids = sorted(tiny_district.values())
    with runtime.session() as s:
        both = one_of(s, Village.id, ids[:3]) & one_of(s, Village.id, ids[1:])
        assert set(s.scalars(select(Village.id).where(both))) == set(ids[1:3])
