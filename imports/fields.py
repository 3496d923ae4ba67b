"""The one declared schema of a household ledger: columns, synonyms, types and value words.

Headers and choice values are matched after ``normalise_header`` /
``normalise_word`` (full-width → half-width, no spaces or line breaks, text
in brackets such as units dropped), so ``设备补贴（元）`` and ``设备补贴``
are the same column.  The registry loader declares its own ``Schema`` with
the same machinery.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from heating.models import EXEMPT_REASONS

# Kinds of cell a field holds; clean.py has one cleaner per kind.
KINDS = (
    "text",
    "code",
    "id_number",
    "phone",
    "int",
    "decimal",
    "float",
    "quantity",
    "date",
    "choice",
)

_BRACKETS = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|【[^【】]*】|〔[^〔〕]*〕|<[^<>]*>|《[^《》]*》")
_NOISE = str.maketrans("", "", " \t\r\n\u3000\u00a0*:：_-—·.、")


def normalise_header(text: object) -> str:
    """Header text as compared: NFKC, bracketed text (units) dropped, no spaces or marks."""
    s = unicodedata.normalize("NFKC", str(text))
    stripped = _BRACKETS.sub("", s)
    # "（元）" alone would vanish entirely; keep the inside then.
    if stripped.strip():
        s = stripped
    return s.translate(_NOISE).lower()


def normalise_word(text: object) -> str:
    """A choice value as compared (status, route…): like a header, brackets dropped."""
    return normalise_header(text)


@dataclass(frozen=True)
class Field:
    """One column of a schema."""

    name: str
    label: str  # the header we write in templates
    synonyms: tuple[str, ...] = ()
    kind: str = "text"
    required: bool = False
    # For kind "choice": normalised word → stored value.
    values: Mapping[str, str] = field(default_factory=dict)
    max_length: int | None = None
    # For kind "choice": stored value → the Chinese word shown when a value is refused.
    labels: Mapping[str, str] = field(default_factory=dict)

    def headers(self) -> tuple[str, ...]:
        return (self.label, *self.synonyms)


class Schema:
    """A declared set of fields with a header lookup built once."""

    def __init__(self, name: str, fields: Iterable[Field]) -> None:
        self.name = name
        self.fields: tuple[Field, ...] = tuple(fields)
        self.by_name: dict[str, Field] = {f.name: f for f in self.fields}
        self.lookup: dict[str, str] = {}
        for f in self.fields:
            for h in f.headers():
                key = normalise_header(h)
                if key in self.lookup and self.lookup[key] != f.name:
                    raise ValueError(f"header {h!r} declared for two fields")
                self.lookup[key] = f.name

    def match(self, header: object) -> str | None:
        """Return the field a header names, or None."""
        if header is None or header == "":
            return None
        return self.lookup.get(normalise_header(header))


def choice_words(mapping: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """Normalised word → stored value, for a choice field (each value also names itself)."""
    out: dict[str, str] = {}
    for value, words in mapping.items():
        out[normalise_word(value)] = value
        for w in words:
            out[normalise_word(w)] = value
    return out


STATUS_WORDS = choice_words(
    {
        "pending": ("未改造", "未完成", "否", "待改造", "未开工"),
        "planned": ("已列入计划", "计划", "拟改造", "列入计划", "计划改造"),
        "in_progress": ("施工中", "在建", "正在改造", "改造中"),
        "completed": ("已完工", "已完成", "完成", "是", "完工", "已改造"),
        "accepted": ("已验收", "验收合格", "验收"),
        "exempt": ("无需改造", "不需改造", "空置", "拆迁", "不改造"),
    }
)
# Status words that also say why the household needs no retrofit.
STATUS_REASONS = {normalise_word("空置"): "空置", normalise_word("拆迁"): "拆迁"}

ROUTE_WORDS = choice_words(
    {
        "electric": ("煤改电", "电代煤", "空气源热泵", "电采暖", "蓄热式电暖器", "电"),
        "gas": ("煤改气", "气代煤", "燃气壁挂炉", "气"),
        "district": ("集中供热", "热电联产", "工业余热", "集中供暖"),
        "biomass": ("生物质", "生物质炉具"),
        "geothermal": ("地热", "地热能"),
        "solar": ("太阳能", "光热"),
        "other": ("其他", "其他清洁能源", "其它"),
    }
)
# Route words that name a device: given as the route, they also fill ``device``.
ROUTE_DEVICES = {
    normalise_word(w): w
    for w in ("空气源热泵", "电采暖", "蓄热式电暖器", "燃气壁挂炉", "生物质炉具")
}

OPERATION_WORDS = choice_words(
    {
        "normal": ("正常", "运行正常", "正常使用"),
        "unstable": ("运行不稳定", "不稳定"),
        "coal_again": ("散煤复烧", "复烧", "烧煤"),
        "abandoned": ("设备弃用", "弃用", "拆除", "设备拆除", "已拆除"),
    }
)

EXEMPT_REASON_WORDS = choice_words(
    {
        "空置": ("房屋空置", "无人居住"),
        "拆迁": ("已拆迁", "拆除"),
        "已有清洁取暖": ("已清洁取暖", "已有"),
        "其他": ("其它",),
    }
)
assert set(EXEMPT_REASON_WORDS.values()) == set(EXEMPT_REASONS)

LEDGER_FIELDS: tuple[Field, ...] = (
    Field("township", "乡镇", ("乡镇名称", "乡镇(街道)", "街道", "所属乡镇", "乡镇街道")),
    Field("village", "村", ("村名", "行政村", "村(社区)", "村委会", "社区", "所属村", "村名称")),
    Field("village_code", "村代码", ("行政区划代码", "村级代码", "区划代码", "村编码"), "code"),
    Field("household_no", "户号", ("户编号", "农户编号"), "code", max_length=64),
    Field("head_name", "户主姓名", ("户主", "姓名", "户主名"), required=True, max_length=64),
    Field(
        "id_number",
        "身份证号",
        ("身份证号码", "户主身份证号", "证件号码", "户主身份证号码"),
        "id_number",
    ),
    Field("phone", "联系电话", ("电话", "手机号", "联系方式", "手机号码"), "phone", max_length=32),
    Field("address", "住址", ("门牌号", "地址", "家庭住址"), max_length=255),
    Field("residents", "常住人口", ("人口", "常住人数"), "int"),
    Field("status", "改造状态", ("状态", "完成情况", "是否完成"), "choice", True, STATUS_WORDS),
    Field(
        "route",
        "改造方式",
        ("改造类型", "取暖方式", "清洁取暖方式", "技术路线"),
        "choice",
        values=ROUTE_WORDS,
    ),
    Field("device", "设备类型", ("设备型号", "设备名称", "设备"), max_length=128),
    Field("heat_source", "热源", ("热源单位", "供热热源"), max_length=128),
    Field("plan_year", "计划年度", ("计划年份", "改造年度", "年度"), "int"),
    Field("completed_on", "完工日期", ("完成时间", "竣工日期", "改造完成时间"), "date"),
    Field("accepted_on", "验收日期", ("验收时间",), "date"),
    Field("device_subsidy", "设备补贴", ("设备补贴(元)", "设备补贴金额"), "decimal"),
    Field("operating_subsidy", "运行补贴", ("运行补贴(元)", "运行补贴金额"), "decimal"),
    Field(
        "operation",
        "运行情况",
        ("使用情况", "回头看情况"),
        "choice",
        values=OPERATION_WORDS,
    ),
    Field(
        "exempt_reason",
        "无需改造原因",
        ("不改造原因", "原因"),
        "choice",
        values=EXEMPT_REASON_WORDS,
    ),
    Field("lon", "经度", (), "float"),
    Field("lat", "纬度", (), "float"),
    Field("note", "备注", (), max_length=2000),
)

LEDGER_SCHEMA = Schema("ledger", LEDGER_FIELDS)

PLAN_YEAR_RANGE = (2016, 2035)
# Statuses that need a route (import.md).
ROUTE_REQUIRED_STATUSES = frozenset({"planned", "in_progress", "completed", "accepted"})
