"""The requirement profile ("3个100%，1个80%"): area categories, their targets, the mapping.

Which share of a category's households must heat cleanly, and which
category a village proposes from its statistical urban–rural code.  The
``profile`` setting (``heating.config``) is parsed here; a bad profile stops
start-up with a ``ConfigError`` naming what is wrong.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from heating.errors import ConfigError


@dataclass(frozen=True)
class Category:
    """One area category of the requirement profile with its target share."""

    key: str
    name: str
    target: float


@dataclass(frozen=True)
class Profile:
    """The requirement profile: categories, targets and the urban–rural mapping.

    ``urban_rural`` maps a statistical urban–rural code (城乡分类代码) to a
    category key; the special value ``"seat:<a>|<b>"`` means category ``a``
    when the village's township is the district seat, else ``b``.
    """

    name: str
    categories: tuple[Category, ...]
    urban_rural: Mapping[str, str] = field(default_factory=dict)

    def category(self, key: str) -> Category | None:
        """Return the category with this key, or None when the profile lacks it."""
        for cat in self.categories:
            if cat.key == key:
                return cat
        return None

    def keys(self) -> list[str]:
        return [c.key for c in self.categories]

    def target(self, key: str | None) -> float | None:
        cat = self.category(key) if key else None
        return cat.target if cat else None

    def label(self, key: str | None) -> str:
        """A category as every page, export and table names it.

        Its Chinese name, 未分类 when unset, or 未知类别（key） for a key this
        profile does not know (a registry written for another profile, a typo):
        the bare key would read as a name, and the key lets it be found and fixed.
        """
        if not key:
            return "未分类"
        cat = self.category(key)
        return cat.name if cat else f"未知类别（{key}）"

    def propose_category(self, urban_rural_code: str | None, *, is_seat: bool) -> str | None:
        """Propose a category from the urban–rural code; None when unknown."""
        if not urban_rural_code:
            return None
        rule = self.urban_rural.get(str(urban_rural_code).strip())
        if rule is None:
            return None
        if rule.startswith("seat:"):
            seat, _, other = rule[len("seat:") :].partition("|")
            return seat if is_seat else other
        return rule


DEFAULT_PROFILE = Profile(
    name="3个100%，1个80%",
    categories=(
        Category("city_core", "城市建成区", 1.0),
        Category("county_core", "县城建成区", 1.0),
        Category("fringe", "城乡结合部", 1.0),
        Category("rural", "农村地区", 0.8),
    ),
    urban_rural={
        "111": "city_core",
        "112": "fringe",
        "121": "seat:county_core|rural",
        "122": "fringe",
        "123": "rural",
        "210": "rural",
        "220": "rural",
    },
)


def parse_profile(raw: Any) -> Profile:
    """Build a Profile from TOML/JSON data; raise ConfigError naming what is wrong."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"设置 profile 不是有效的 JSON：{exc}") from exc
    if not isinstance(raw, Mapping):
        raise ConfigError("设置 profile 应为表（包含 categories 列表）")
    cats_raw = raw.get("categories")
    if not isinstance(cats_raw, list) or not cats_raw:
        raise ConfigError("设置 profile.categories 应为非空列表，每项含 key、name、target")
    categories: list[Category] = []
    seen: set[str] = set()
    for i, item in enumerate(cats_raw, start=1):
        if not isinstance(item, Mapping):
            raise ConfigError(f"设置 profile.categories 第 {i} 项应为表")
        key = str(item.get("key", "")).strip()
        name = str(item.get("name", "")).strip()
        if not key or not name:
            raise ConfigError(f"设置 profile.categories 第 {i} 项缺少 key 或 name")
        if key in seen or key == "total":
            raise ConfigError(f"设置 profile.categories 中类别 {key!r} 重复或使用了保留字")
        seen.add(key)
        target = _parse_target(item.get("target"), f"profile.categories[{key}].target")
        categories.append(Category(key, name, target))
    mapping_raw = raw.get("urban_rural", DEFAULT_PROFILE.urban_rural)
    if not isinstance(mapping_raw, Mapping):
        raise ConfigError("设置 profile.urban_rural 应为表（城乡分类代码 = 类别）")
    mapping: dict[str, str] = {}
    for code, rule in mapping_raw.items():
        rule = str(rule)
        targets = rule[len("seat:") :].split("|") if rule.startswith("seat:") else [rule]
        for t in targets:
            if t not in seen:
                raise ConfigError(f"设置 profile.urban_rural 中代码 {code} 指向未定义的类别 {t!r}")
        mapping[str(code)] = rule
    return Profile(
        name=str(raw.get("name", "自定义要求")), categories=tuple(categories), urban_rural=mapping
    )


def _parse_target(value: Any, name: str) -> float:
    try:
        target = float(str(value).rstrip("%")) / (100 if str(value).endswith("%") else 1)
    except (TypeError, ValueError):
        raise ConfigError(
            f'设置 {name} 应为 0 到 1 之间的数（如 0.8 或 "80%"），得到 {value!r}'
        ) from None
    if not (0 < target <= 1) or math.isnan(target):
        raise ConfigError(f"设置 {name} 应在 0 到 1 之间（如 0.8），得到 {value!r}")
    return target
