"""What several test modules share, one module per kind of thing; fixtures live in ``conftest.py``.

- ``users``: the cast (``CAST``, ``PASSWORD``, ``load_cast``);
- ``districts``: the tiny district (``TINY``, ``NANJIE`` …) and a second one (``LUCHENG`` …);
- ``households``: households written only through the production history writer;
- ``zones``: a stored zone derivation;
- ``report``: the annual report's two-year history, reading a sheet's table;
- ``ledgers``: ledger files as clerks send them, ID numbers, batch rows;
- ``registers``: the heat-source register and boiler ledger files, the heat-source rule;
- ``signoff``: sign-off steps;
- ``web``: forms over HTTP (CSRF, log in, uploads and their jobs);
- ``browser``: Playwright's chromium (log in, the coverage map);
- ``database``: the run's encryption key file, rows per table;
- ``routing``: werkzeug's URL builders compiled once per run (installed by ``conftest.py``).

Test modules import from these (never from each other).  The names that
``tests/support.py`` held before it was split stay importable from
``tests.support`` itself.
"""

from tests.support.browser import browser_log_in
from tests.support.database import KEY_FILE, row_counts
from tests.support.districts import (
    DONGJIE,
    LUCHENG,
    LUCHENG_TOWNSHIP,
    LUCHENG_VILLAGES,
    NANJIE,
    SHANGCUN,
    TINY,
    XIACUN,
    add_second_district,
    load_tiny_district,
)
from tests.support.households import (
    MAY,
    add_households,
    add_households_by_status,
    add_ledger_household,
    add_many,
    at,
    change_household,
    day_of,
    write_household,
)
from tests.support.ledgers import (
    ID_WEIGHTS,
    LEDGER_HEADER,
    add_batch,
    bad_id_number,
    id_number,
    ledger_xlsx,
    with_check_digit,
    workbook_xlsx,
)
from tests.support.registers import REGISTER, boiler_row, boiler_xlsx, register_xlsx, sheet_xlsx
from tests.support.report import AS_OF, INJECTION, build_history, read_table
from tests.support.signoff import PERIOD, sign_off
from tests.support.users import CAST, PASSWORD, load_cast
from tests.support.web import TOKEN_RE, batch_id_of, csrf_token, follow_job, log_in, post, upload
from tests.support.zones import add_zone

__all__ = [
    "AS_OF",
    "CAST",
    "DONGJIE",
    "ID_WEIGHTS",
    "INJECTION",
    "KEY_FILE",
    "LEDGER_HEADER",
    "LUCHENG",
    "LUCHENG_TOWNSHIP",
    "LUCHENG_VILLAGES",
    "MAY",
    "NANJIE",
    "PASSWORD",
    "PERIOD",
    "REGISTER",
    "SHANGCUN",
    "TINY",
    "TOKEN_RE",
    "XIACUN",
    "add_batch",
    "add_households",
    "add_households_by_status",
    "add_ledger_household",
    "add_many",
    "add_second_district",
    "add_zone",
    "at",
    "bad_id_number",
    "batch_id_of",
    "boiler_row",
    "boiler_xlsx",
    "browser_log_in",
    "build_history",
    "change_household",
    "csrf_token",
    "day_of",
    "follow_job",
    "id_number",
    "ledger_xlsx",
    "load_cast",
    "load_tiny_district",
    "log_in",
    "post",
    "read_table",
    "register_xlsx",
    "row_counts",
    "sheet_xlsx",
    "sign_off",
    "upload",
    "with_check_digit",
    "workbook_xlsx",
    "write_household",
]
