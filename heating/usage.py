"""Season use and the 疑似改而不用 flag: completed households that barely use their heating.

Definitions (issue 13; settings in ``[usage]``, ``heating.seasons``):

- **season use** of an account: the sum of the periods inside the season, a
  period straddling a season bound prorated by days; or, from meter
  readings, the reading at the season's end minus the reading at its start,
  each read on that day or interpolated linearly between the nearest
  readings on either side within 31 days.  Data covering less than 80% of
  the season's days (periods), or a missing end (readings), is no data.
- **judged**: completed/accepted households with route ``electric``
  (against electricity) or ``gas`` (against gas), completed on or before the
  season's start.  A judged household without an account, with an account
  two households of the district share, or without season use is ``no_data``: never
  flagged, not counted in ``checked``.
- **flagged**: use is 0; or use < ``ratio`` × the median use of the judged
  households with data of the same route in the same township (peers
  include the household itself, zero use and lapsed households), the
  district's when the township has fewer than ``min_peers`` of them; when
  even the district has fewer, only zero use is flagged (ratio null); or,
  with a floor configured and the heated area known, use per m² below it.

Flags change no status: they are evidence shown beside it.  Measures take
the counts from ``evidence_by_village`` (``heating.village_facts``).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from heating.evidence_cache import kept
from heating.history import changed_households, fields_as_of
from heating.models import (
    CLEAN_STATUSES,
    LAPSED_OPERATIONS,
    District,
    Household,
    HouseholdVersion,
    ImportBatch,
    Township,
    UsageRecord,
    Village,
)
from heating.seasons import Season, UsageSettings
from heating.session_memo import remembered
from heating.usage_records import ACCOUNT_COLUMNS, account_key, records_in_force

MIN_SEASON_SHARE = 0.8
READING_REACH_DAYS = 31
# The household columns evidence reads (status, use, area, subsidies).
EVIDENCE_FIELDS = (
    "household_no",
    "head_name",
    "status",
    "route",
    "heat_source",
    "operation",
    "completed_on",
    "accepted_on",
    "heated_area_m2",
    "power_account",
    "gas_account",
    "device_subsidy",
    "coal_subsidy",
)


# --------------------------------------------------------------------------
# Household states (now or as of a date)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class HouseholdState:
    """What evidence needs of one household, with its place."""

    id: int
    village_id: int
    village_code: str
    township_code: str
    township_name: str
    district_code: str
    fields: Mapping[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.fields.get(name)

    @property
    def clean(self) -> bool:
        return self["status"] in CLEAN_STATUSES

    @property
    def lapsed(self) -> bool:
        return self.clean and self["operation"] in LAPSED_OPERATIONS

    @property
    def completed_day(self) -> date | None:
        return self["completed_on"] or self["accepted_on"]


def household_states(
    session: Session,
    as_of: date | None = None,
    township_code: str | None = None,
    known_at: datetime | None = None,
    district_codes: Collection[str] | None = None,
) -> list[HouseholdState]:
    """Every household present (now, or as of a date and known-at time by ``heating.history``'s rule),
    of one township or of some districts when given.

    Remembered in a read-only session (``heating.session_memo``): callers only read the states.
    """
    districts = None if district_codes is None else frozenset(district_codes)
    key = ("household states", as_of, township_code, known_at, districts)
    found = remembered(
        session,
        key,
        lambda: tuple(_household_states(session, as_of, township_code, known_at, districts)),
    )
    return list(found)


def _household_states(
    session: Session,
    as_of: date | None,
    township_code: str | None,
    known_at: datetime | None,
    district_codes: Collection[str] | None,
) -> list[HouseholdState]:
    places = (
        select(Village.id, Village.code, Township.code, Township.name, District.code)
        .join(Township, Village.township_id == Township.id)
        .join(District, Township.district_id == District.id)
    )
    if township_code is not None:
        places = places.where(Township.code == township_code)
    if district_codes is not None:
        places = places.where(District.code.in_(sorted(district_codes)))
    place = {row[0]: row[1:] for row in session.execute(places)}
    table = Household.__table__
    cols = [table.c.id, table.c.village_id, table.c.active, *(table.c[f] for f in EVIDENCE_FIELDS)]
    # id → its row. The fields are zipped into a dict only for the households whose row is
    # their state (as of a date, most of a district may have changed since: the demo
    # district as of 2020-10-31, 46,688 of 57,794). Table columns, not the ORM's
    # attributes: rows come back without the ORM's loading step.
    rows = {
        row[0]: row
        for row in session.execute(select(*cols).where(table.c.village_id.in_(list(place))))
    }
    then: dict[int, tuple[int, dict[str, Any]] | None] = {}
    if as_of is not None or known_at is not None:
        changed = _changed_in(session, changed_households(as_of, known_at), place, rows)
        if changed:
            # No current rows: a household changed since the date has a row showing a
            # later state, so its version is read anyway, and what the evidence needs (its
            # fields, village, presence) is all in that version. Reading the rows only to be
            # set aside took 7.7 of 17 s of CPU for one 屯留区 township as of a date after a
            # 50,000-row commit (benchmarks/load.py's "api township as of").
            then = fields_as_of(
                session, changed, as_of or date.max, EVIDENCE_FIELDS, known_at=known_at
            )
    out = []
    for hid, row in rows.items():
        if hid in then:
            state = then.pop(hid)
            if state is None or state[0] not in place:
                continue  # absent then, or elsewhere then
            village_id, fields = state
        elif not row[2]:
            continue  # inactive
        else:
            village_id, fields = row[1], dict(zip(EVIDENCE_FIELDS, row[3:], strict=True))
        vcode, tcode, tname, dcode = place[village_id]
        out.append(HouseholdState(hid, village_id, vcode, tcode, tname, dcode, fields))
    for hid, state in then.items():  # here then, in another place now
        if state is not None and state[0] in place:
            vcode, tcode, tname, dcode = place[state[0]]
            out.append(HouseholdState(hid, state[0], vcode, tcode, tname, dcode, state[1]))
    return out


def _changed_in(
    session: Session, changed: Select, place: Mapping[int, Any], rows: Mapping[int, Any]
) -> set[int]:
    """Of the households ``changed`` since (date, known-at), those that may lie in ``place`` then.

    Every village in the registry: the rows read.  Some villages: also those
    with a version in them, so a household moved out since is read where it
    was then — one district read alone gives what the whole read gives for it.
    """
    villages = session.scalar(select(func.count()).select_from(Village))
    if len(place) == villages:
        return set(session.scalars(changed)) & set(rows)
    inside = list(place)
    now = select(Household.id).where(Household.village_id.in_(inside), Household.id.in_(changed))
    v = HouseholdVersion
    then = select(v.household_id).where(v.village_id.in_(inside), v.household_id.in_(changed))
    return set(session.scalars(now)) | set(session.scalars(then))


# --------------------------------------------------------------------------
# Season use
# --------------------------------------------------------------------------


def _overlap(a0: date, a1: date, b0: date, b1: date) -> int:
    return max(0, (min(a1, b1) - max(a0, b0)).days + 1)


def use_from_periods(periods: Iterable[tuple[date, date, float]], season: Season) -> float | None:
    """Sum of the periods inside the season (prorated by days); None below 80% of its days."""
    total = 0.0
    covered = 0
    for start, end, amount in periods:
        inside = _overlap(start, end, season.start, season.end)
        if inside == 0:
            continue
        total += amount * inside / ((end - start).days + 1)
        covered += inside
    if covered < MIN_SEASON_SHARE * season.days:
        return None
    return total


def reading_on(readings: list[tuple[date, float]], day: date) -> float | None:
    """The meter on ``day``: a reading that day, else interpolated between the nearest readings
    on either side within 31 days; None otherwise.  ``readings`` sorted by date."""
    before = after = None
    for when, value in readings:
        if when == day:
            return value
        if when < day:
            before = (when, value)
        elif after is None:
            after = (when, value)
            break
    if before is None or after is None:
        return None
    reach = timedelta(days=READING_REACH_DAYS)
    if day - before[0] > reach or after[0] - day > reach:
        return None
    span = (after[0] - before[0]).days
    return before[1] + (after[1] - before[1]) * (day - before[0]).days / span


def use_from_readings(readings: list[tuple[date, float]], season: Season) -> float | None:
    """Reading at the season's end minus the reading at its start (None when either is missing)."""
    first = reading_on(readings, season.start)
    last = reading_on(readings, season.end)
    if first is None or last is None:
        return None
    return last - first


def season_uses(
    session: Session,
    kind: str,
    season: Season,
    known_at: datetime | None = None,
) -> dict[str, float | None]:
    """Compared account → season use (None: not enough data) for accounts with any record near it."""
    reach = timedelta(days=READING_REACH_DAYS)
    records = records_in_force(
        session,
        kind,
        start=season.start - reach,
        end=season.end + reach,
        known_at=known_at,
    )
    periods: dict[str, list[tuple[date, date, float]]] = defaultdict(list)
    readings: dict[str, list[tuple[date, float]]] = defaultdict(list)
    for (account, form, start, end), amount in records.items():
        if form == "period":
            periods[account].append((start, end, amount))
        else:
            readings[account].append((start, amount))
    out: dict[str, float | None] = {}
    for account in set(periods) | set(readings):
        use = use_from_periods(periods.get(account, ()), season)
        if use is None and account in readings:
            use = use_from_readings(sorted(readings[account]), season)
        out[account] = use
    return out


def kept_season_uses(
    session: Session, kind: str, season: Season, known_at: datetime | None
) -> Mapping[str, float | None]:
    """Every account's season use (``season_uses``), kept until the usage data change.

    An account's use is its records' alone, so one reading of every account
    serves every district.  It is kept under the installation's data version
    only (``districts=()``): usage files, their rollbacks and everything but a
    clerk's ledger change that version, and a ledger changes no usage record —
    so after a ledger commit the district's use is judged again without reading
    the season's records again (the whole city's dashboard after a 屯留区 ledger:
    4.75 → 4.15 s of app CPU, ``benchmarks/district_versions.py``).
    """
    key = ("season uses", kind, season, known_at)
    compute = lambda: season_uses(session, kind, season, known_at)  # noqa: E731
    return kept(session, key, compute, shared=True, districts=())


# --------------------------------------------------------------------------
# The flag rule
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Judgement:
    """One judged household: its use (None: no data), the peers' median, flagged or not."""

    household: HouseholdState
    route: str
    use: float | None
    median: float | None = None
    flagged: bool = False

    @property
    def ratio(self) -> float | None:
        if self.use is None or not self.median:
            return None
        return self.use / self.median


@dataclass
class SeasonEvidence:
    """The judgements of one season over a set of households."""

    season: Season
    judgements: list[Judgement]


def judged(state: HouseholdState, season: Season) -> bool:
    """Completed electric/gas households completed on or before the season's start."""
    day = state.completed_day
    return (
        state.clean
        and state["route"] in ACCOUNT_COLUMNS
        and day is not None
        and day <= season.start
    )


def evaluate(
    session: Session,
    states: list[HouseholdState],
    season: Season,
    settings: UsageSettings,
    known_at: datetime | None = None,
) -> SeasonEvidence:
    """Judge every household of ``states`` for one season (module docstring's rule).

    ``known_at`` counts only usage batches committed by then.
    """
    candidates = [s for s in states if judged(s, season)]
    # An account is shared when two households of one district hold it (the rule is the
    # district's, like the peers): so a district's judgements never depend on another
    # district's households, and one district is judged from its own households alone.
    holders: dict[str, dict[tuple[str, str], int]] = {}
    for kind, column in ACCOUNT_COLUMNS.items():
        if any(s["route"] == kind for s in candidates):
            counts: dict[tuple[str, str], int] = defaultdict(int)
            for s in states:
                if s[column]:
                    counts[(s.district_code, account_key(s[column]))] += 1
            holders[kind] = counts
    sole: list[tuple[HouseholdState, str, str | None]] = []
    for s in candidates:
        route = s["route"]
        account = s[ACCOUNT_COLUMNS[route]]
        key = None
        if account and holders[route].get((s.district_code, account_key(account)), 0) == 1:
            key = account_key(account)
        sole.append((s, route, key))
    uses: dict[str, Mapping[str, float | None]] = {}
    for kind in holders:
        wanted = any(route == kind and key is not None for _s, route, key in sole)
        # nothing at all is read where no account is held
        uses[kind] = kept_season_uses(session, kind, season, known_at) if wanted else {}
    first = [
        Judgement(s, route, None if key is None else uses[route].get(key)) for s, route, key in sole
    ]
    return SeasonEvidence(season, flag_against_peers(first, settings))


def flag_against_peers(first: list[Judgement], settings: UsageSettings) -> list[Judgement]:
    """Judge each household with a use against its peers' median (module docstring's rule).

    Each peer group's median is computed once: taking it per household sorted
    the whole group again for every member, which made a district's
    dashboard cost seconds of CPU (38,000 judged households: 11 s).
    """
    peers_t: dict[tuple[str, str], list[float]] = defaultdict(list)
    peers_d: dict[tuple[str, str], list[float]] = defaultdict(list)
    for j in first:
        if j.use is not None:
            peers_t[(j.household.township_code, j.route)].append(j.use)
            peers_d[(j.household.district_code, j.route)].append(j.use)
    medians_t = _medians(peers_t, settings.min_peers)
    medians_d = _medians(peers_d, settings.min_peers)
    out = []
    for j in first:
        if j.use is None:
            out.append(j)
            continue
        township = (j.household.township_code, j.route)
        if township in medians_t:
            median: float | None = medians_t[township]
        else:  # too few peers in the township: the district's, if it has enough
            median = medians_d.get((j.household.district_code, j.route))
        flagged = j.use <= 0 or (median is not None and j.use < settings.ratio * median)
        floor = settings.floor_per_m2(j.route)
        area = j.household["heated_area_m2"]
        if floor is not None and area:
            flagged = flagged or j.use / float(area) < floor
        out.append(Judgement(j.household, j.route, j.use, median, flagged))
    return out


def _medians(groups: dict[Any, list[float]], min_peers: int) -> dict[Any, float]:
    """The median of each group with at least ``min_peers`` uses (others: absent)."""
    return {key: statistics.median(uses) for key, uses in groups.items() if len(uses) >= min_peers}


def has_usage(session: Session) -> bool:
    """True when any usage record exists (else the flag columns are skipped outright)."""
    return session.scalar(select(UsageRecord.id).limit(1)) is not None


def latest_use_day(session: Session) -> date | None:
    """The last day any usage record in force covers (None without records)."""
    query = (
        select(func.max(UsageRecord.end))
        .join(ImportBatch, ImportBatch.id == UsageRecord.batch_id)
        .where(ImportBatch.status == "committed")
    )
    return session.scalar(query)
