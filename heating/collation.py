"""Ordering Chinese names as people look them up: by 拼音, not by code point.

Python sorts strings by Unicode code point, which for Chinese is the order
of the CJK block — 东 (U+4E1C) before 长 (U+957F) before 阿 (U+963F) — and
means nothing to a reader.  Names are sorted by their 拼音 instead, syllable
by syllable and then by tone (the order of 《新华字典》 and of Excel's
Chinese sort), with pypinyin (MIT, offline, pure Python; its phrase data
read heteronyms in place names right: 长治 zhang, 重庆 chong).  Digits and
Latin letters come before Chinese; ties keep the name's own code-point order
so the sort is total.  GBK byte order was the dependency-free alternative:
it is 拼音 order for the 3,755 common characters only and arbitrary (by
radical) for the rest, which village names use often enough.
"""

from __future__ import annotations

from functools import lru_cache

Key = tuple[tuple[tuple[int, str, int], ...], str]


@lru_cache(maxsize=65536)
def pinyin_key(name: str) -> Key:
    """A sort key of ``name``: each 拼音 syllable with its tone, Latin and digits first."""
    # Imported here: its data load costs ~0.15 s CPU, paid only when names are sorted.
    from pypinyin import Style, lazy_pinyin

    parts: list[tuple[int, str, int]] = []
    for syllable in lazy_pinyin(name, style=Style.TONE3, neutral_tone_with_five=True):
        tone = syllable[-1]
        if syllable[:-1].isascii() and syllable[:-1].isalpha() and tone in "12345":
            parts.append((1, syllable[:-1], int(tone)))
        else:  # not Chinese: lazy_pinyin returns it as it was
            parts.append((0, syllable.lower(), 0))
    return tuple(parts), name
