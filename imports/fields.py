"""The one declared schema of a household ledger: columns, synonyms, types, words, help.

Each ``Field`` of ``LEDGER_FIELDS`` is everything the tracker knows about one
ledger column: its header and synonyms (the import matches headers by them),
its kind (``imports.clean`` has one cleaner per kind), whether it is required,
its choice words, its length limit, and how the blank template shows it
(header with unit, width, text format, dropdown, 填写说明 line).  Derived from
it, never written again: the template's columns and help sheet
(``imports.template``), the required columns a sheet must have
(``REQUIRED_COLUMNS``), the labels of the issue lists and of the village
history (``LEDGER_LABELS``).

**Adding a ledger column** is one ``Field`` here (give it ``help`` and a
``width`` to put it in the template) plus, because it is stored, the
household column in ``heating.models`` (``Household`` and
``HOUSEHOLD_FIELDS``) with its migration; ``tests/test_schema.py`` fails
until the two agree.  Rules that span several fields (a status that needs a
route…) live in ``imports.validate``.

Headers and choice values are matched after ``normalise_header`` /
``normalise_word`` (full-width → half-width, no spaces or line breaks, text
in brackets such as units dropped), so ``设备补贴（元）`` and ``设备补贴``
are the same column.  The registry, heat-source and boiler loaders declare
their own ``Schema`` with the same machinery.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from heating.models import EXEMPT_REASONS, ROUTE_LABELS, STATUS_LABELS

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
    "area",
    "date",
    "choice",
)

# Kinds whose template column is formatted as text ("@"): Excel must not turn
# an ID number into 1.40405E+17 or drop a code's leading zeros.
TEXT_FORMAT_KINDS = frozenset({"code", "id_number", "phone"})
DATE_FORMAT = "yyyy-mm-dd"

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
    """One column of a schema (the module docstring says what derives from it)."""

    name: str
    label: str  # the header we write in templates and show in issue lists
    synonyms: tuple[str, ...] = ()
    kind: str = "text"
    # The column must be present and a blank cell is an error.
    required: bool = False
    # For kind "choice": normalised word → stored value.
    values: Mapping[str, str] = field(default_factory=dict)
    max_length: int | None = None
    # For kind "choice": stored value → the word offered (template dropdown,
    # the list in a refusal).
    labels: Mapping[str, str] = field(default_factory=dict)
    # The blank template: a ledger field with ``help`` is one of its columns.
    help: str = ""  # the 填写说明 line: how to fill the cell in
    width: int = 12  # column width in characters
    unit: str = ""  # shown after the header: 设备补贴（元）
    need: str = ""  # 必填 / 条件必填 / 选填 as the help sheet says; "" → from ``required``

    def headers(self) -> tuple[str, ...]:
        return (self.label, *self.synonyms)

    @property
    def template_header(self) -> str:
        """The header the template writes (the unit in brackets is ignored when read)."""
        return f"{self.label}（{self.unit}）" if self.unit else self.label

    @property
    def requirement(self) -> str:
        """必填 / 条件必填 / 选填, as the template's help sheet states it."""
        return self.need or ("必填" if self.required else "选填")

    @property
    def text_format(self) -> bool:
        """True when the template formats the column as text."""
        return self.kind in TEXT_FORMAT_KINDS

    @property
    def number_format(self) -> str | None:
        """The template column's number format (dates), None for the default."""
        return DATE_FORMAT if self.kind == "date" else None


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

# The words the template offers for each choice (stored value → word).
ROUTE_CHOICES = ROUTE_LABELS | {"other": "其他"}  # the short word a clerk picks
OPERATION_CHOICES = {
    "normal": "正常",
    "unstable": "运行不稳定",
    "coal_again": "散煤复烧",
    "abandoned": "设备弃用",
}

LEDGER_FIELDS: tuple[Field, ...] = (
    Field("township", "乡镇", ("乡镇名称", "乡镇(街道)", "街道", "所属乡镇", "乡镇街道")),
    Field(
        "village",
        "村",
        ("村名", "行政村", "村(社区)", "村委会", "社区", "所属村", "村名称"),
        # A row names its village by name or code; the template has the name only.
        need="必填",
        help="从下拉列表选择本乡镇的行政村/社区。",
        width=16,
    ),
    Field("village_code", "村代码", ("行政区划代码", "村级代码", "区划代码", "村编码"), "code"),
    Field(
        "household_no",
        "户号",
        ("户编号", "农户编号"),
        "code",
        max_length=64,
        help="本村农户编号；填写后作为该户的唯一标识，以后每次上传请保持不变。",
        width=14,
    ),
    Field(
        "head_name",
        "户主姓名",
        ("户主", "姓名", "户主名"),
        required=True,
        max_length=64,
        help="户主姓名。",
    ),
    Field(
        "id_number",
        "身份证号",
        ("身份证号码", "户主身份证号", "证件号码", "户主身份证号码"),
        "id_number",
        help="18 位身份证号（末位可为 X）；本列已设为文本格式，请勿改为数字格式。"
        "无户号时用于识别农户。",
        width=22,
    ),
    Field(
        "phone",
        "联系电话",
        ("电话", "手机号", "联系方式", "手机号码"),
        "phone",
        max_length=32,
        help="手机或固定电话。",
        width=15,
    ),
    Field(
        "address",
        "住址",
        ("门牌号", "地址", "家庭住址"),
        max_length=255,
        help="门牌号或家庭住址；既无户号也无身份证号时与姓名一起识别农户。",
        width=24,
    ),
    Field("residents", "常住人口", ("人口", "常住人数"), "int", help="整数，不小于 0。", width=10),
    Field(
        "status",
        "改造状态",
        ("状态", "完成情况", "是否完成"),
        "choice",
        True,
        STATUS_WORDS,
        labels=STATUS_LABELS,
        help="从下拉列表选择：未改造、已列入计划、施工中、已完工、已验收、无需改造。",
    ),
    Field(
        "route",
        "改造方式",
        ("改造类型", "取暖方式", "清洁取暖方式", "技术路线"),
        "choice",
        values=ROUTE_WORDS,
        labels=ROUTE_CHOICES,
        need="条件必填",
        help="已列入计划、施工中、已完工、已验收时必填："
        "煤改电、煤改气、集中供热、生物质、地热能、太阳能、其他。",
    ),
    Field(
        "device",
        "设备类型",
        ("设备型号", "设备名称", "设备"),
        max_length=128,
        help="如 空气源热泵、蓄热式电暖器、燃气壁挂炉。",
        width=16,
    ),
    Field(
        "heat_source",
        "热源",
        ("热源单位", "供热热源"),
        max_length=128,
        help="集中供热时填写热源单位名称。",
        width=16,
    ),
    Field(
        "plan_year",
        "计划年度",
        ("计划年份", "改造年度", "年度"),
        "int",
        help="改造计划年度，如 2021（2016–2035）。",
        width=10,
    ),
    Field(
        "completed_on",
        "完工日期",
        ("完成时间", "竣工日期", "改造完成时间"),
        "date",
        need="条件必填",
        help="已完工、已验收时应填写，如 2021-06-30；只知道月份可填 2021.06。",
    ),
    Field(
        "accepted_on",
        "验收日期",
        ("验收时间",),
        "date",
        help="不早于完工日期，如 2021-09-30。",
    ),
    Field(
        "device_subsidy",
        "设备补贴",
        ("设备补贴(元)", "设备补贴金额"),
        "decimal",
        unit="元",
        help="设备购置补贴金额，单位元，不小于 0。",
        width=14,
    ),
    Field(
        "operating_subsidy",
        "运行补贴",
        ("运行补贴(元)", "运行补贴金额"),
        "decimal",
        unit="元/年",
        help="每年运行补贴金额，单位元，不小于 0。",
        width=16,
    ),
    Field(
        "coal_subsidy",
        "洁净煤补贴",
        ("洁净煤补贴(元)", "洁净煤补贴金额", "燃煤补贴"),
        "decimal",
        unit="元",
        help="本户领取的洁净煤（燃煤）补贴金额，单位元；已完成清洁取暖的村和禁煤区内不应再有。",
        width=14,
    ),
    Field(
        "heated_area_m2",
        "采暖面积",
        ("取暖面积", "供暖面积", "采暖建筑面积"),
        "area",
        unit="平方米",
        help="实际采暖的建筑面积，单位平方米，大于 0 且不超过 2000；按面积计算清洁取暖率。",
        width=14,
    ),
    Field(
        "power_account",
        "电力户号",
        ("用电户号", "电表户号", "供电户号", "电力用户编号"),
        "code",
        max_length=64,
        help="供电公司的用电户号；本列已设为文本格式（保留开头的 0），用于匹配用电量。",
        width=18,
    ),
    Field(
        "gas_account",
        "燃气户号",
        ("燃气用户号", "燃气卡号", "燃气用户编号"),
        "code",
        max_length=64,
        help="燃气公司的用户号或卡号；本列已设为文本格式（保留开头的 0），用于匹配用气量。",
        width=18,
    ),
    Field(
        "operation",
        "运行情况",
        ("使用情况", "回头看情况"),
        "choice",
        values=OPERATION_WORDS,
        labels=OPERATION_CHOICES,
        help="回头看结果：正常、运行不稳定、散煤复烧、设备弃用；未检查时留空。",
    ),
    Field(
        "exempt_reason",
        "无需改造原因",
        ("不改造原因", "原因"),
        "choice",
        values=EXEMPT_REASON_WORDS,
        labels={reason: reason for reason in EXEMPT_REASONS},
        need="条件必填",
        help="改造状态为“无需改造”时必填：空置、拆迁、已有清洁取暖、其他。",
        width=14,
    ),
    Field("lon", "经度", (), "float", help="十进制度，如 112.8861；与纬度同时填写或同时留空。"),
    Field("lat", "纬度", (), "float", help="十进制度，如 36.3116；须在本区范围内。"),
    Field("note", "备注", (), max_length=2000, help="其他说明。", width=24),
)

LEDGER_SCHEMA = Schema("ledger", LEDGER_FIELDS)
# Field name → the header a clerk knows (issue lists, the village history).
LEDGER_LABELS: dict[str, str] = {f.name: f.label for f in LEDGER_FIELDS}
# Columns every ledger sheet must have, by field; a row's village is named by
# ``village`` or ``village_code``, so a sheet needs one of the two.
REQUIRED_COLUMNS: tuple[Field, ...] = tuple(f for f in LEDGER_FIELDS if f.required)
VILLAGE_COLUMNS = ("village", "village_code")
# The blank template's columns, in schema order.
TEMPLATE_FIELDS: tuple[Field, ...] = tuple(f for f in LEDGER_FIELDS if f.help)
# The template's own sheets besides 台账 (imports.template writes them; the ledger
# reader skips them without a note: they are ours, not a clerk's forgotten data).
HELP_SHEET = "填写说明"
LISTS_SHEET = "选项"
TEMPLATE_EXTRA_SHEETS = (HELP_SHEET, LISTS_SHEET)

PLAN_YEAR_RANGE = (2016, 2035)
# Heated floor area of one household, m² (issue 13): above this is a typo (cm²? a village total?).
MAX_HEATED_AREA_M2 = 2000
# Statuses that need a route (import.md).
ROUTE_REQUIRED_STATUSES = frozenset({"planned", "in_progress", "completed", "accepted"})
