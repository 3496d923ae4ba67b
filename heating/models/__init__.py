"""The data model: places, households and their history, batches, zones, users.

Plain SQLAlchemy 2 declarative classes that run unchanged on SQLite and
PostgreSQL.  Geometry is stored as WKB bytes in EPSG:4490 (no PostGIS
needed); ``geo/`` turns it into shapely objects.  Every change to a household
is a ``HouseholdVersion`` row carrying two times, the ledger date it describes
and when it was recorded; ``heating.history`` writes them and answers every
"as of" question.

Schema changes go through Alembic (``heating/migrations``);
``tests/test_migrations.py`` compares this metadata as a whole with the chain.
It is the schema and the stable vocabularies, nothing else — one declarative
class per table with its columns, keys and relationships, no behaviour beyond
``audit()``.  One module per area, each importable alone; every name is
re-exported here, so code imports ``from heating.models import X``:

- ``base``: ``Base`` (the constraint naming every migration follows), ``utcnow``, ``Meta``;
- ``vocabularies``: the stable keys (statuses, routes, roles, states …) and their labels;
- ``registry``: districts, townships, villages;
- ``sources``: heat sources with their register versions, boilers with states and inspections;
- ``households``: households and their versions (``HOUSEHOLD_FIELDS``);
- ``batches``: stored files, import batches, kept parses, import jobs;
- ``kept``: figures kept for every app process (``heating.shared_figures``);
- ``usage``: utility use records;
- ``zones``: completion decisions, zone derivations and zones, relapse plans;
- ``signoff``: sign-offs and their events;
- ``users``: users, sessions, the audit log and ``audit()``.

What the rows mean lives with their owners (``heating.history``,
``heating.signoff``, ``imports.commit``, …).
"""

from heating.models.base import (
    NAMING,
    Base,
    Meta,
    utcnow,
)
from heating.models.batches import (
    ImportBatch,
    ImportJob,
    ParsedLedgerKept,
    StoredFile,
)
from heating.models.households import (
    HOUSEHOLD_FIELDS,
    Household,
    HouseholdVersion,
)
from heating.models.kept import KeptFigure
from heating.models.registry import (
    District,
    Township,
    Village,
)
from heating.models.signoff import (
    Signoff,
    SignoffEvent,
)
from heating.models.sources import (
    Boiler,
    BoilerInspection,
    BoilerState,
    HeatSource,
    HeatSourceVersion,
)
from heating.models.usage import (
    USAGE_KINDS,
    USAGE_UNITS,
    UsageRecord,
)
from heating.models.users import (
    AuditEntry,
    User,
    UserSession,
    audit,
)
from heating.models.vocabularies import (
    BATCH_STATUS_LABELS,
    BATCH_STATUSES,
    BOILER_FUEL_LABELS,
    BOILER_FUELS,
    BOILER_STATE_LABELS,
    BOILER_STATES,
    CLEAN_STATUSES,
    CLEARED_STATES,
    COMPLIANT_GRADES,
    DORMANT_STATES,
    ENV_GRADE_LABELS,
    ENV_GRADES,
    EXEMPT_REASONS,
    HEAT_SOURCE_KIND_LABELS,
    HEAT_SOURCE_KINDS,
    LAPSED_OPERATIONS,
    LOW_NOX_LABELS,
    NOT_CLEAN_YET,
    OPERATION_LABELS,
    OPERATIONS,
    PLAN_PLACE_KINDS,
    PLAN_STATE_LABELS,
    PLAN_STATES,
    ROLE_LABELS,
    ROLES,
    ROUTE_LABELS,
    ROUTES,
    SIGNOFF_ACTION_LABELS,
    SIGNOFF_ACTIONS,
    SIGNOFF_STATE_LABELS,
    SIGNOFF_STATES,
    STATUS_LABELS,
    STATUSES,
)
from heating.models.zones import (
    CompletionDecision,
    RelapsePlan,
    Zone,
    ZoneDerivation,
)

__all__ = [
    "AuditEntry",
    "BATCH_STATUSES",
    "BATCH_STATUS_LABELS",
    "BOILER_FUELS",
    "BOILER_FUEL_LABELS",
    "BOILER_STATES",
    "BOILER_STATE_LABELS",
    "Base",
    "Boiler",
    "BoilerInspection",
    "BoilerState",
    "CLEAN_STATUSES",
    "CLEARED_STATES",
    "COMPLIANT_GRADES",
    "CompletionDecision",
    "DORMANT_STATES",
    "District",
    "ENV_GRADES",
    "ENV_GRADE_LABELS",
    "EXEMPT_REASONS",
    "HEAT_SOURCE_KINDS",
    "HEAT_SOURCE_KIND_LABELS",
    "HOUSEHOLD_FIELDS",
    "HeatSource",
    "HeatSourceVersion",
    "Household",
    "HouseholdVersion",
    "ImportBatch",
    "ImportJob",
    "LAPSED_OPERATIONS",
    "LOW_NOX_LABELS",
    "Meta",
    "NAMING",
    "NOT_CLEAN_YET",
    "OPERATIONS",
    "OPERATION_LABELS",
    "PLAN_PLACE_KINDS",
    "PLAN_STATES",
    "PLAN_STATE_LABELS",
    "KeptFigure",
    "ParsedLedgerKept",
    "ROLES",
    "ROLE_LABELS",
    "ROUTES",
    "ROUTE_LABELS",
    "RelapsePlan",
    "SIGNOFF_ACTIONS",
    "SIGNOFF_ACTION_LABELS",
    "SIGNOFF_STATES",
    "SIGNOFF_STATE_LABELS",
    "STATUSES",
    "STATUS_LABELS",
    "Signoff",
    "SignoffEvent",
    "StoredFile",
    "Township",
    "USAGE_KINDS",
    "USAGE_UNITS",
    "UsageRecord",
    "User",
    "UserSession",
    "Village",
    "Zone",
    "ZoneDerivation",
    "audit",
    "utcnow",
]
