"""Fictitious people for the demo ledgers: names, ID numbers, phones, addresses.

Everything here is made up from a seeded random generator; any likeness to
a real person is chance.  ID numbers follow GB 11643-1999 (region, birth
date, sequence with the sex in its parity, ISO 7064 MOD 11-2 check digit) so
that the import's validation accepts them.
"""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Hashable
from datetime import date, timedelta
from functools import cache
from itertools import accumulate
from operator import mul
from typing import Any

# Common surnames, weighted roughly as in southern Shanxi (王、李、张 … 申、郭、牛 are frequent there).
SURNAMES = (
    ("王", 90), ("李", 80), ("张", 75), ("刘", 50), ("郭", 45), ("赵", 40), ("杨", 35),
    ("申", 30), ("牛", 25), ("陈", 25), ("常", 20), ("宋", 20), ("武", 20), ("马", 18),
    ("韩", 16), ("田", 16), ("冯", 15), ("崔", 14), ("秦", 12), ("连", 10), ("路", 10),
    ("苗", 10), ("史", 10), ("程", 10), ("魏", 9), ("周", 9), ("吴", 8), ("许", 8),
    ("孙", 8), ("高", 8), ("贾", 7), ("段", 7), ("靳", 6), ("郝", 6), ("侯", 6),
    ("暴", 4), ("桑", 4), ("平", 4), ("鲍", 3), ("司马", 1),
)  # fmt: skip
MALE_CHARS = "国建文明志军保平红伟海金德成永学忠林兵庆春福生俊富喜晓鹏强东龙斌卫江新宝全胜利"
FEMALE_CHARS = "秀英兰芳玉凤桂珍丽华红梅霞艳翠琴爱花娟敏燕莲萍巧荣丹"
SECOND_CHARS = "明华平军林生山亮辉斌忠勇刚峰龙杰涛波宏伟民强祥旺元贵喜顺云霞芳英"

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
# People born before the 2018 renaming carry the old county code on their ID card.
REGION_PREFIXES = (("140424", 85), ("140405", 15))
MOBILE_PREFIXES = ("134", "135", "136", "137", "138", "139", "150", "151", "152", "157",
                   "158", "159", "182", "183", "187", "188", "130", "131", "132", "155",
                   "156", "185", "186", "133", "153", "180", "189")  # fmt: skip


def check_digit(first17: str) -> str:
    """GB 11643 check character for the first 17 digits."""
    total = sum(map(mul, map(int, first17), ID_WEIGHTS))
    return ID_CHECK[total % 11]


def is_valid_id(number: str) -> bool:
    """True for an 18-character ID number with digits and a correct check character."""
    return (
        len(number) == 18
        and number[:17].isdigit()
        and check_digit(number[:17]) == number[17].upper()
    )


def below(rng: random.Random, n: int) -> int:
    """A uniform integer in [0, n): cheaper than ``randrange`` (this runs a million times)."""
    return int(rng.random() * n)


def between(rng: random.Random, low: int, high: int) -> int:
    """A uniform integer in [low, high)."""
    return low + int(rng.random() * (high - low))


def choose(rng: random.Random, values: str | tuple) -> Any:
    return values[int(rng.random() * len(values))]


@cache
def _cumulative(pairs: tuple[tuple[Hashable, float], ...]) -> tuple[tuple, list[float], float]:
    values, weights = zip(*pairs, strict=True)
    cum = list(accumulate(weights))
    return values, cum, cum[-1]


def pick(rng: random.Random, pairs: tuple[tuple[Any, float], ...]) -> Any:
    """Draw one value from (value, weight) pairs; the table is prepared once per tuple."""
    values, cum, total = _cumulative(pairs)
    return values[bisect(cum, rng.random() * total)]


def person_name(rng: random.Random, *, male: bool) -> str:
    """A plausible name of someone born 1940–2000: surname plus one or two characters."""
    surname = pick(rng, SURNAMES)
    first = choose(rng, MALE_CHARS if male else FEMALE_CHARS)
    if rng.random() < 0.22:
        return surname + first
    return surname + first + choose(rng, SECOND_CHARS)


def id_number(rng: random.Random, *, male: bool, born: date, used: set[str] | None = None) -> str:
    """An 18-digit ID number with a valid check digit (sex in the sequence's parity).

    ``used`` holds numbers already given out: a clash draws another sequence
    number, because one person in two villages is a data inconsistency.
    """
    region = pick(rng, REGION_PREFIXES)
    while True:
        seq = between(rng, 0, 500) * 2 + (1 if male else 0)
        first17 = f"{region}{born:%Y%m%d}{seq:03d}"
        if used is None or first17 not in used:
            break
    if used is not None:
        used.add(first17)
    return first17 + check_digit(first17)


def birth_date(rng: random.Random) -> date:
    """A household head's birth date between 1940 and 2000 (older heads more likely)."""
    year = 1940 + int(61 * (rng.random() + rng.random()) / 2)  # peaks around 1970
    start = date(year, 1, 1)
    return start + timedelta(days=below(rng, 365))


def phone(rng: random.Random) -> str | None:
    """A mobile number, sometimes a Changzhi landline, sometimes nothing."""
    roll = rng.random()
    if roll < 0.15:
        return None
    if roll < 0.22:
        return f"0355-{between(rng, 5_000_000, 8_000_000)}"
    return choose(rng, MOBILE_PREFIXES) + f"{between(rng, 0, 100_000_000):08d}"


def place_name(village_name: str) -> str:
    """The everyday name of a village: 南街村委会 → 南街村, 常村社区居委会 → 常村社区."""
    for suffix in ("社区居委会", "村民委员会", "村委会", "居委会"):
        if village_name.endswith(suffix):
            stem = village_name[: -len(suffix)]
            if suffix == "社区居委会":
                return stem + "社区"
            if suffix == "居委会":
                return stem if stem.endswith(("社区", "区")) else stem + "社区"
            return stem if stem.endswith("村") else stem + "村"
    return village_name


def address(village_name: str, group: int, number: int) -> str:
    """An address as clerks write it: 村名 + 组 + 号."""
    return f"{place_name(village_name)}{group}组{number}号"
