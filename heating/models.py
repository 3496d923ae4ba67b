"""The data model: places, households and their history, batches, zones, users.

Plain SQLAlchemy 2 declarative classes that run unchanged on SQLite and
PostgreSQL.  Geometry is stored as WKB bytes in EPSG:4490 (no PostGIS
needed); ``geo/`` turns it into shapely objects.  Every change to a household
is a ``HouseholdVersion`` row carrying two times, the ledger date it describes
and when it was recorded; ``heating.history`` writes them and answers every
"as of" question.

Schema changes go through Alembic (``heating/migrations``).

Why one long module (about 800 lines, over the house's ~500): it is the
schema and the stable vocabularies, nothing else — one declarative class per
table with its columns, keys and relationships, no behaviour beyond
``audit()``.  The tables refer to each other across areas (households →
villages → townships, batches → users, sign-offs → townships), and
``tests/test_migrations.py`` compares this metadata as a whole with the
Alembic chain, so one file is where a newcomer reads the whole database.
What the rows mean lives with their owners (``heating.history``,
``heating.signoff``, ``imports.commit``, …).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from heating.sealing import SealedBytes, SealedDocument, SealedSnapshot, SealedText

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Naive UTC now: both databases store it the same way."""
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# Stable vocabularies (keys used in code, JSON and the database).
ROLES = ("admin", "clerk", "planner", "city", "reviewer")
STATUSES = ("pending", "planned", "in_progress", "completed", "accepted", "exempt")
CLEAN_STATUSES = ("completed", "accepted")
# Required and not yet clean: a clean household said to be one of these has regressed.
NOT_CLEAN_YET = ("pending", "planned", "in_progress")
ROUTES = ("electric", "gas", "district", "biomass", "geothermal", "solar", "other")
OPERATIONS = ("normal", "unstable", "coal_again", "abandoned")
LAPSED_OPERATIONS = ("coal_again", "abandoned")
EXEMPT_REASONS = ("空置", "拆迁", "已有清洁取暖", "其他")
BATCH_STATUSES = ("preview", "committed", "rolled_back", "cancelled", "expired")
# Import batch statuses as people read them (web, CLI, refusals); an upload
# still being parsed shows as its job's state (parsing / failed).
BATCH_STATUS_LABELS = {
    "parsing": "正在解析",
    "failed": "解析失败",
    "preview": "待确认",
    "committed": "已写入",
    "rolled_back": "已撤销",
    "cancelled": "已取消",
    "expired": "已过期",
}

# Household statuses (改造状态) as people read them.
STATUS_LABELS = {
    "pending": "未改造",
    "planned": "已列入计划",
    "in_progress": "施工中",
    "completed": "已完工",
    "accepted": "已验收",
    "exempt": "无需改造",
}
ROUTE_LABELS = {
    "electric": "煤改电",
    "gas": "煤改气",
    "district": "集中供热",
    "biomass": "生物质",
    "geothermal": "地热能",
    "solar": "太阳能",
    "other": "其他清洁能源",
}
OPERATION_LABELS = {
    "normal": "正常",
    "unstable": "运行不稳定",
    "coal_again": "散煤复烧",
    "abandoned": "设备弃用/拆除",
}
ROLE_LABELS = {
    "admin": "管理员",
    "clerk": "乡镇填报员",
    "planner": "规划人员",
    "city": "市级用户",
    "reviewer": "区级审核",
}
# Sign-off of a township's period (heating.signoff); "unsubmitted" has no row.
SIGNOFF_STATE_LABELS = {
    "unsubmitted": "未报送",
    "submitted": "已报送",
    "approved": "已审核",
    "returned": "已退回",
}
SIGNOFF_STATES = tuple(SIGNOFF_STATE_LABELS)
SIGNOFF_ACTION_LABELS = {
    "submit": "报送",
    "approve": "审核通过",
    "return": "退回",
    "withdraw": "撤回审核",
}
SIGNOFF_ACTIONS = tuple(SIGNOFF_ACTION_LABELS)

# Heat sources (热源) and boilers (锅炉): the seed plan's items 8 and 10.
HEAT_SOURCE_KIND_LABELS = {
    "chp": "热电联产",
    "waste_heat": "工业余热",
    "gas_boiler": "燃气锅炉房",
    "electric_boiler": "电锅炉",
    "biomass": "生物质",
    "geothermal": "地热",
    "other": "其他",
}
HEAT_SOURCE_KINDS = tuple(HEAT_SOURCE_KIND_LABELS)
ENV_GRADE_LABELS = {"A": "A 级", "B": "B 级", "C": "C 级", "D": "D 级", "leading": "引领性"}
ENV_GRADES = tuple(ENV_GRADE_LABELS)
# 先立后破: a waste-heat source must be grade B or better (引领性 is above A).
COMPLIANT_GRADES = ("A", "B", "leading")
BOILER_FUEL_LABELS = {
    "coal": "燃煤",
    "gas": "燃气",
    "biomass": "生物质",
    "electric": "电",
    "oil": "燃油",
    "other": "其他",
}
BOILER_FUELS = tuple(BOILER_FUEL_LABELS)
BOILER_STATE_LABELS = {
    "in_use": "在用",
    "idle": "停用",
    "flue_cut": "烟道切断",
    "standby": "应急备用",
    "removed": "拆除",
    "deregistered": "注销",
    "converted": "改为清洁能源",
}
BOILER_STATES = tuple(BOILER_STATE_LABELS)
# 清零: these states count as eliminated once their date has come.
CLEARED_STATES = ("removed", "deregistered", "converted")
# Not cleared and not burning: inspected regularly so they do not burn again.
DORMANT_STATES = ("idle", "flue_cut", "standby")
LOW_NOX_LABELS = {"done": "已完成", "not_done": "未完成"}
# State of a 系统化解决方案 (heating.relapse_plans); no plan recorded reads as "none".
PLAN_STATE_LABELS = {"none": "未制定", "made": "已制定", "done": "已完成"}
PLAN_STATES = tuple(PLAN_STATE_LABELS)
PLAN_PLACE_KINDS = ("village", "township")


class Meta(Base):
    """Installation secrets and facts generated once (session key, ID salt)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


# --------------------------------------------------------------------------
# Places
# --------------------------------------------------------------------------


class District(Base):
    """A district (区/县); an installation may hold several."""

    __tablename__ = "districts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(6), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    seat_township_code: Mapped[str | None] = mapped_column(String(9))
    townships: Mapped[list[Township]] = relationship(back_populates="district")


class Township(Base):
    """乡镇/街道/开发区/管理中心: 9-digit statistical code."""

    __tablename__ = "townships"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(9), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    is_seat: Mapped[bool] = mapped_column(Boolean, default=False)
    district: Mapped[District] = relationship(back_populates="townships")
    villages: Mapped[list[Village]] = relationship(back_populates="township")


class Village(Base):
    """行政村/社区: 12-digit code, category, registry total, boundary (WKB, EPSG:4490)."""

    __tablename__ = "villages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    township_id: Mapped[int] = mapped_column(ForeignKey("townships.id"), index=True)
    category: Mapped[str | None] = mapped_column(String(32), index=True)
    # True when the category was proposed from the urban–rural code, not given.
    category_proposed: Mapped[bool] = mapped_column(Boolean, default=False)
    total_households: Mapped[int | None] = mapped_column(Integer)
    urban_rural_code: Mapped[str | None] = mapped_column(String(3))
    geometry: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Where the boundary came from (file name, or "generated" for the demo).
    boundary_source: Mapped[str | None] = mapped_column(String(255))
    boundary_generated: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    township: Mapped[Township] = relationship(back_populates="villages")


class HeatSource(Base):
    """A registered heat source (热源) for district heating: the register's current state.

    Ledgers' 热源 values are matched to ``name`` after
    ``heating.heat_sources.source_key`` (normalised, company suffixes
    dropped; the register is small, so keys are computed when matching).
    Every load that changes a source writes a
    ``HeatSourceVersion``, so the register known at a past time is at hand.
    """

    __tablename__ = "heat_sources"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str | None] = mapped_column(String(32))  # HEAT_SOURCE_KINDS
    env_grade: Mapped[str | None] = mapped_column(String(8))  # ENV_GRADES; None = unknown
    shutdown_listed: Mapped[bool] = mapped_column(Boolean, default=False)
    shutdown_on: Mapped[date | None] = mapped_column(Date)  # planned shutdown date
    lon: Mapped[float | None] = mapped_column()
    lat: Mapped[float | None] = mapped_column()
    capacity_mw: Mapped[float | None] = mapped_column()
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, default=utcnow)


class HeatSourceVersion(Base):
    """The register's facts about one source from one load on (``recorded_at``).

    The rule of 先立后破 reads, per source, the newest version recorded at
    or before "known at" T, so a figure computed then can be reproduced.
    """

    __tablename__ = "heat_source_versions"
    __table_args__ = (
        Index("ix_heat_source_versions_source", "heat_source_id", "recorded_at", "id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    heat_source_id: Mapped[int] = mapped_column(ForeignKey("heat_sources.id"))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str | None] = mapped_column(String(32))
    env_grade: Mapped[str | None] = mapped_column(String(8))
    shutdown_listed: Mapped[bool] = mapped_column(Boolean, default=False)
    shutdown_on: Mapped[date | None] = mapped_column(Date)


class Boiler(Base):
    """A boiler of the boiler ledger (锅炉台账), identified by its 锅炉编号 (``code``).

    ``fuel`` is the fuel first recorded: it decides whether the boiler is in
    the coal 清零 scope for good.  ``tph`` is the rated capacity in t/h
    (a rating given in MW is converted, 0.7 MW = 1 t/h).  ``state`` and
    ``state_date`` are the newest entry of ``states``; the history decides
    the state as of a date.
    """

    __tablename__ = "boilers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    unit: Mapped[str | None] = mapped_column(String(128))
    township_id: Mapped[int] = mapped_column(ForeignKey("townships.id"), index=True)
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"))
    lon: Mapped[float | None] = mapped_column()
    lat: Mapped[float | None] = mapped_column()
    tph: Mapped[float] = mapped_column()
    capacity_mw: Mapped[float | None] = mapped_column()  # as given, when given in MW
    fuel: Mapped[str] = mapped_column(String(16))  # BOILER_FUELS, first recorded
    state: Mapped[str | None] = mapped_column(String(16))
    state_date: Mapped[date | None] = mapped_column(Date)
    last_inspection: Mapped[date | None] = mapped_column(Date)
    low_nox: Mapped[str | None] = mapped_column(String(16))  # done / not_done
    low_nox_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    created_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    updated_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    township: Mapped[Township] = relationship()
    village: Mapped[Village | None] = relationship()
    states: Mapped[list[BoilerState]] = relationship(
        back_populates="boiler", cascade="all, delete-orphan", order_by="BoilerState.id"
    )


class BoilerState(Base):
    """One entry of a boiler's state history: the state, since when, and the fuel then."""

    __tablename__ = "boiler_states"
    __table_args__ = (Index("ix_boiler_states_boiler", "boiler_id", "state_date"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    boiler_id: Mapped[int] = mapped_column(ForeignKey("boilers.id"))
    state: Mapped[str] = mapped_column(String(16))  # BOILER_STATES
    state_date: Mapped[date | None] = mapped_column(Date)  # None: in force from the start
    fuel: Mapped[str] = mapped_column(String(16))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    boiler: Mapped[Boiler] = relationship(back_populates="states")


class BoilerInspection(Base):
    """An inspection date of a boiler (最近检查日期 of each load, kept)."""

    __tablename__ = "boiler_inspections"
    __table_args__ = (
        UniqueConstraint("boiler_id", "inspected_on", name="uq_boiler_inspections_day"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    boiler_id: Mapped[int] = mapped_column(ForeignKey("boilers.id"))
    inspected_on: Mapped[date] = mapped_column(Date)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# --------------------------------------------------------------------------
# Households and history
# --------------------------------------------------------------------------

# The household fields an import may set (import.md's table, minus the places).
HOUSEHOLD_FIELDS = (
    "household_no",
    "head_name",
    "id_number",
    "phone",
    "address",
    "residents",
    "status",
    "route",
    "device",
    "heat_source",
    "plan_year",
    "completed_on",
    "completed_on_precision",
    "accepted_on",
    "device_subsidy",
    "operating_subsidy",
    "coal_subsidy",
    "heated_area_m2",
    "power_account",
    "gas_account",
    "operation",
    "exempt_reason",
    "lon",
    "lat",
    "note",
)


class Household(Base):
    """The current state of one household (户) within its village.

    ``key`` is unique within the village: the 户号, else ``id:`` + a salted
    hash of the ID number, else ``name:`` + normalised name and address
    (``key_kind`` says which, the last one being weak).  A household removed
    by a rollback keeps its row with ``active = False`` so history stays whole.
    """

    __tablename__ = "households"
    __table_args__ = (
        UniqueConstraint("village_id", "key", name="uq_households_village_key"),
        # Covering index for the per-village GROUP BY of the measures.
        Index("ix_households_measure", "village_id", "active", "status", "operation"),
        # "Is any heated area recorded?" (heating.evidence, on every village page):
        # answered from an index holding only such households (empty until areas come).
        Index(
            "ix_households_heated_area",
            "id",
            postgresql_where=text("heated_area_m2 IS NOT NULL"),
            sqlite_where=text("heated_area_m2 IS NOT NULL"),
        ),
        # Covering index for the heat-source rule's count (heating.heat_sources.
        # clean_district_sources): a district without district heating reads nothing.
        Index(
            "ix_households_district_sources",
            "route",
            "village_id",
            "heat_source",
            "active",
            "status",
            "operation",
        ),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    key: Mapped[str] = mapped_column(String(160))
    key_kind: Mapped[str] = mapped_column(String(16))  # household_no / id_hash / name_address
    id_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    household_no: Mapped[str | None] = mapped_column(String(64))
    head_name: Mapped[str] = mapped_column(String(64))
    # Personal data: stored encrypted (heating/sealing.py); id_hash stays in clear for matching.
    id_number: Mapped[str | None] = mapped_column(SealedText())
    phone: Mapped[str | None] = mapped_column(SealedText())
    address: Mapped[str | None] = mapped_column(String(255))
    residents: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    route: Mapped[str | None] = mapped_column(String(16))
    device: Mapped[str | None] = mapped_column(String(128))
    heat_source: Mapped[str | None] = mapped_column(String(128))
    plan_year: Mapped[int | None] = mapped_column(Integer)
    completed_on: Mapped[date | None] = mapped_column(Date)
    completed_on_precision: Mapped[str | None] = mapped_column(String(8))  # day / month
    accepted_on: Mapped[date | None] = mapped_column(Date)
    device_subsidy: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    operating_subsidy: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    # 洁净煤补贴 (元): none may be paid where clean heating is complete (seed item 9).
    coal_subsidy: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    # Heated floor area, m² (the national 清洁取暖率 is by area).
    heated_area_m2: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    # Utility account numbers as text (leading zeros and long digits kept), matched
    # against utility use (heating.usage).
    power_account: Mapped[str | None] = mapped_column(String(64))
    gas_account: Mapped[str | None] = mapped_column(String(64))
    operation: Mapped[str | None] = mapped_column(String(16))
    exempt_reason: Mapped[str | None] = mapped_column(String(32))
    lon: Mapped[float | None] = mapped_column()
    lat: Mapped[float | None] = mapped_column()
    note: Mapped[str | None] = mapped_column(Text)
    # Unknown columns of the ledger row, kept as the clerk wrote them.
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    created_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    updated_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # The ledger date of the version this row shows (its newest; see heating.history).
    ledger_date: Mapped[date | None] = mapped_column(Date)

    village: Mapped[Village] = relationship()


class HouseholdVersion(Base):
    """One change to a household: the state after it, what it was before, two times, who.

    ``ledger_date`` is the day the ledger describes (台账日期, "数据截至");
    ``recorded_at`` is when the tracker learned it (naive UTC).  The state as of
    day D is the version with the latest ledger date ≤ D, ties broken by the
    later ``recorded_at`` (then id).  ``retracted_at`` is when the version stopped
    counting (its batch was rolled back; a rollback's own record is retracted
    when written).  ``prev_*`` hold the counted state of the version before it
    in that order (NULL when none counts), so measures as of a date subtract a
    telescoping sum instead of ranking history.  ``heating.history`` owns all of it.
    """

    __tablename__ = "household_versions"
    __table_args__ = (
        # Covering (HISTORY): a household's newest version as of a date and a known-at
        # time is read from the index alone, without touching the wide history rows.
        Index(
            "ix_household_versions_asof",
            "household_id",
            "ledger_date",
            "recorded_at",
            "id",
            "village_id",
            "active",
            "status",
            "operation",
            "retracted_at",
        ),
        # Households changed after a known-at time (HISTORY).
        Index("ix_household_versions_recorded", "recorded_at", "household_id"),
        # Covering (MEASURES): versions dated after a day and their predecessors'
        # counted state, in (ledger date, village) order so the as-of delta groups
        # without sorting; also the households changed since a day.
        Index(
            "ix_household_versions_ledger",
            "ledger_date",
            "village_id",
            "household_id",
            "retracted_at",
            "active",
            "status",
            "operation",
            "prev_village_id",
            "prev_status",
            "prev_operation",
        ),
        Index("ix_household_versions_batch", "batch_id", "household_id"),
        # One village's history page (newest first), and the as-of delta of one
        # township: its villages' versions dated after a day (SCALE).
        Index("ix_household_versions_village", "village_id", "ledger_date", "recorded_at", "id"),
        # The as-of delta's households that moved between villages (rare: a small index).
        Index(
            "ix_household_versions_moved",
            "prev_village_id",
            "ledger_date",
            postgresql_where=text("prev_village_id <> village_id"),
            sqlite_where=text("prev_village_id <> village_id"),
        ),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ledger_date: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    retracted_at: Mapped[datetime | None] = mapped_column(DateTime)
    change: Mapped[str] = mapped_column(String(16))  # create / update / rollback / edit
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16))
    operation: Mapped[str | None] = mapped_column(String(16))
    prev_village_id: Mapped[int | None] = mapped_column(Integer)
    prev_status: Mapped[str | None] = mapped_column(String(16))
    prev_operation: Mapped[str | None] = mapped_column(String(16))
    # Field values before and after (JSON-safe: dates as ISO strings).  ``before``
    # is None for a created household.
    # ID number and phone inside are sealed (heating/sealing.py SealedSnapshot).
    before: Mapped[dict[str, Any] | None] = mapped_column(SealedSnapshot)
    after: Mapped[dict[str, Any] | None] = mapped_column(SealedSnapshot)


# --------------------------------------------------------------------------
# Import batches
# --------------------------------------------------------------------------


class StoredFile(Base):
    """An uploaded file kept byte-for-byte, addressed by its SHA-256."""

    __tablename__ = "stored_files"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(SealedBytes)  # encrypted whole
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Set when the retention sweep (imports/storage.py) deleted the bytes of a file
    # that only cancelled or expired previews used; ``content`` is then empty.
    purged_at: Mapped[datetime | None] = mapped_column(DateTime)


class ImportBatch(Base):
    """One upload of a ledger (or registry) and what became of it."""

    __tablename__ = "import_batches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(
        String(16), default="ledger"
    )  # ledger/registry/demo/heat_sources/boilers
    township_id: Mapped[int | None] = mapped_column(ForeignKey("townships.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    file_name: Mapped[str] = mapped_column(String(255))  # original name, Chinese kept
    sha256: Mapped[str] = mapped_column(ForeignKey("stored_files.sha256"), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="preview")
    # The day the ledger describes and where that came from
    # (option / title / file_name / upload_day): one date per batch.
    ledger_date: Mapped[date | None] = mapped_column(Date)
    ledger_date_source: Mapped[str | None] = mapped_column(String(16))
    accept_valid: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    committed_at: Mapped[datetime | None] = mapped_column(DateTime)
    rolled_back_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The import outcome (import.md) without the per-issue list.
    counts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    sheets: Mapped[list[Any] | None] = mapped_column(JSON)
    issues: Mapped[list[Any] | None] = mapped_column(JSON)
    # Rows refused under "accept valid rows", with their reasons, so nothing is lost.
    rejected_rows: Mapped[list[Any] | None] = mapped_column(SealedDocument)  # raw values: sealed
    ignored_columns: Mapped[list[Any] | None] = mapped_column(JSON)
    # Households of the township present as of the ledger date that the file did
    # not mention, at commit: they rest on older ledgers (the report cover says so).
    not_in_file_ids: Mapped[list[int] | None] = mapped_column(JSON)
    # 变更明细: the updated households' fields before → after (imports.diff.change_details),
    # the first CHANGES_LISTED of them; raw values, so sealed; read only by the batch page.
    changes: Mapped[dict[str, Any] | None] = mapped_column(SealedDocument, deferred=True)
    township: Mapped[Township | None] = relationship()
    user: Mapped[User | None] = relationship()


class ParsedLedgerKept(Base):
    """A preview's parse of its ledger, kept until the batch is committed or dropped.

    The web commit reuses it instead of parsing the stored file again
    (``imports.parse_cache``) when ``fingerprint`` — the file, the registry
    and settings the parse read, the parser's version, the day — still
    matches.  ``content`` holds the rows with ID numbers and phones: sealed.
    """

    __tablename__ = "parsed_ledgers"
    batch_id: Mapped[int] = mapped_column(
        ForeignKey("import_batches.id", ondelete="CASCADE"), primary_key=True
    )
    fingerprint: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)  # bytes kept (compressed, before sealing)
    content: Mapped[bytes] = mapped_column(SealedBytes)  # encrypted whole
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# --------------------------------------------------------------------------
# Utility use (evidence of use, issue 13)
# --------------------------------------------------------------------------

USAGE_KINDS = {"electric": "用电", "gas": "用气"}
USAGE_UNITS = {"electric": "kWh", "gas": "m³"}


class UsageRecord(Base):
    """One amount from a utility's file: a period's use or a meter reading, by account.

    ``account`` is the account number as compared: text, leading zeros
    stripped (the file's spelling is in the batch's stored file).  A period
    (``form`` "period") runs from ``start`` to ``end`` inclusive and
    ``amount`` is its use; a reading (``form`` "reading") has ``start`` =
    ``end`` = the reading date and ``amount`` is the meter's reading.  A
    later batch's record with the same kind, account, form and dates
    replaces an earlier one: the value in force is the newest record of a
    committed batch (``heating.usage``), so rolling a batch back restores
    what was there before it.
    """

    __tablename__ = "usage_records"
    __table_args__ = (Index("ix_usage_records_key", "kind", "account", "start"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batches.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # electric / gas
    account: Mapped[str] = mapped_column(String(64))
    form: Mapped[str] = mapped_column(String(8))  # period / reading
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date] = mapped_column(Date)
    amount: Mapped[float] = mapped_column(Float)


class ImportJob(Base):
    """A ledger preview or commit running in the web app's background thread (WEB).

    Reading a 100k-row ledger takes longer than a request may last, so the
    upload answers at once with a progress page that reads this row: any
    worker of a multi-process server can show it, and ``batch_id`` links the
    finished job to its batch.
    """

    __tablename__ = "import_jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random token
    kind: Mapped[str] = mapped_column(String(16))  # preview / commit
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    township_id: Mapped[int | None] = mapped_column(ForeignKey("townships.id"))
    file_name: Mapped[str] = mapped_column(String(255))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    accept_valid: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16), default="running")  # running / done / failed
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text)  # Chinese reason when failed
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# --------------------------------------------------------------------------
# Coal-ban zones
# --------------------------------------------------------------------------


class CompletionDecision(Base):
    """An administrator's decision that a village counts as complete (or not)."""

    __tablename__ = "completion_decisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    decided_on: Mapped[date] = mapped_column(Date)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    village: Mapped[Village] = relationship()


class ZoneDerivation(Base):
    """One derivation of the coal-ban zones, kept for history and comparison."""

    __tablename__ = "zone_derivations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    as_of: Mapped[date] = mapped_column(Date, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # {"enclaves": [...], "added": [...], "removed": [...], "method": "coverage_union"...}
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    zones: Mapped[list[Zone]] = relationship(
        back_populates="derivation", cascade="all, delete-orphan", order_by="Zone.zone_id"
    )


class Zone(Base):
    """One connected part of the coal-ban zone in a derivation."""

    __tablename__ = "zones"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    derivation_id: Mapped[int] = mapped_column(ForeignKey("zone_derivations.id"), index=True)
    zone_id: Mapped[str] = mapped_column(String(32))  # stable across derivations
    geometry: Mapped[bytes] = mapped_column(LargeBinary)  # WKB, EPSG:4490
    area_km2: Mapped[float] = mapped_column()
    village_codes: Mapped[list[str]] = mapped_column(JSON)
    # Incomplete villages this zone touches (codes).
    touching: Mapped[list[str] | None] = mapped_column(JSON)
    households: Mapped[int | None] = mapped_column(Integer)
    derivation: Mapped[ZoneDerivation] = relationship(back_populates="zones")


class RelapsePlan(Base):
    """One recording of a place's 系统化解决方案 (issue 13 item 7b); the newest is in force.

    Rows are only added, never changed: the plan in force at a time is the
    newest row recorded by then (``heating.relapse_plans``), so a report
    known at a time shows the plan as it stood.
    """

    __tablename__ = "relapse_plans"
    __table_args__ = (Index("ix_relapse_plans_place", "place_kind", "place_code", "recorded_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    place_kind: Mapped[str] = mapped_column(String(16))  # PLAN_PLACE_KINDS
    place_code: Mapped[str] = mapped_column(String(12))  # village (12) or township (9) code
    state: Mapped[str] = mapped_column(String(16))  # PLAN_STATES
    text: Mapped[str | None] = mapped_column(Text)
    responsible_unit: Mapped[str | None] = mapped_column(String(255))
    due_on: Mapped[date | None] = mapped_column(Date)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# --------------------------------------------------------------------------
# Sign-off of townships' periods
# --------------------------------------------------------------------------


class Signoff(Base):
    """A township's period (a report cut-off) and where its sign-off stands.

    No row means 未报送.  ``state`` is the result of the newest
    ``SignoffEvent``; while it is ``approved`` the period is locked
    (``heating.signoff``) and ``approval`` holds what the approval saw
    (figures and the facts read at report time), so that later changes to
    those facts can be listed on the report's cover.
    """

    __tablename__ = "signoffs"
    __table_args__ = (
        UniqueConstraint("township_id", "period", name="uq_signoffs_township_period"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    township_id: Mapped[int] = mapped_column(ForeignKey("townships.id"))
    period: Mapped[date] = mapped_column(Date, index=True)
    state: Mapped[str] = mapped_column(String(16))  # SIGNOFF_STATES (never "unsubmitted")
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    approval: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    township: Mapped[Township] = relationship()
    events: Mapped[list[SignoffEvent]] = relationship(
        back_populates="signoff", order_by="SignoffEvent.id"
    )


class SignoffEvent(Base):
    """One transition of a sign-off: who, when, from which state to which, and why.

    ``text`` is the submission's note or the reason of a return or withdrawal;
    ``detail`` holds what the actor saw (the problems confirmed at submission).
    """

    __tablename__ = "signoff_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    signoff_id: Mapped[int] = mapped_column(ForeignKey("signoffs.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))  # SIGNOFF_ACTIONS
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    text: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    signoff: Mapped[Signoff] = relationship(back_populates="events")


# --------------------------------------------------------------------------
# Users and audit
# --------------------------------------------------------------------------


class User(Base):
    """A login: role, optional township (clerks) or district (planners, reviewers), hashed password.

    A clerk is bound to one township; a planner or reviewer may be bound to
    one district (``district_id``) and then reads and changes only that
    district; unbound, they read the whole installation.
    """

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    township_id: Mapped[int | None] = mapped_column(ForeignKey("townships.id"))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)
    township: Mapped[Township | None] = relationship()
    district: Mapped[District | None] = relationship()


class UserSession(Base):
    """One signed-in browser: the server-side half of the session cookie.

    The cookie carries a random token; only its SHA-256 is stored, so a copy
    of the database does not hold live sessions.  Logging out revokes the row;
    a password reset, a deactivation or "退出所有设备" revokes all of a
    user's rows; idle and absolute limits are checked on every request.
    """

    __tablename__ = "user_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    ip: Mapped[str | None] = mapped_column(String(64))


class AuditEntry(Base):
    """Who did what, when: logins, uploads, commits, rollbacks, user changes."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ip: Mapped[str | None] = mapped_column(String(64))


def audit(
    session: Any,
    action: str,
    *,
    user: User | int | None = None,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEntry:
    """Add an audit entry to the session (committed with the caller's unit of work).

    ``user`` is the user or their id (domain functions receive ids).
    """
    if isinstance(user, int):
        user = session.get(User, user)
    entry = AuditEntry(
        user_id=user.id if user else None,
        username=user.username if user else None,
        action=action,
        target=target,
        detail=detail,
        ip=ip,
    )
    session.add(entry)
    return entry
