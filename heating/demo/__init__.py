"""The demo district: real 屯留区 townships and villages, generated boundaries and households.

``heating demo`` loads it; see ``loader.load_demo``.  Real facts live in
``facts`` (files in ``data/`` with their provenance); everything generated —
boundaries (``cells``), people (``people``), ledger histories (``rollout``),
sample ledger files (``ledgers``) — is seeded and therefore the same on every
run and every database.
"""

from __future__ import annotations

from heating.demo.loader import (
    BOUNDARY_SOURCE,
    DEMO_PASSWORD,
    DEMO_USERS,
    DEMO_VERSION,
    DemoSummary,
    load_demo,
)

__all__ = [
    "BOUNDARY_SOURCE",
    "DEMO_PASSWORD",
    "DEMO_USERS",
    "DEMO_VERSION",
    "DemoSummary",
    "load_demo",
]
