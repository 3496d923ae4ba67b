"""Places that need a 系统化解决方案 (seed item 7, issue 13 item 7b: the list).

Where retrofits do not run stably or coal came back on a large scale the
district must plan a fix.  A village (or township) needs a plan when the
share of its completed households that are lapsed (散煤复烧/弃用) or flagged
by use (疑似改而不用, not already lapsed) exceeds ``relapse_share``
(``[usage]``, default 10%).  The counts are the measures' own
(``heating.measures``: ``lapsed``, ``usage_flagged_not_lapsed``), so the list
agrees with the coverage figures.
"""

from __future__ import annotations

from typing import Any

from heating.measures import MeasureRow


def relapse_share(row: MeasureRow) -> float | None:
    """(lapsed + flagged and not lapsed) / clean; None without completed households."""
    if row.clean <= 0:
        return None
    return (row.lapsed + row.usage_flagged_not_lapsed) / row.clean


def needing_plan(rows: list[MeasureRow], threshold: float) -> list[dict[str, Any]]:
    """Rows whose relapse share exceeds the threshold, largest share first."""
    out = []
    for r in rows:
        share = relapse_share(r)
        if share is None or share <= threshold:
            continue
        out.append(
            {
                "key": r.key,
                "name": r.name,
                "township": r.township_code,
                "clean": r.clean,
                "lapsed": r.lapsed,
                "flagged_not_lapsed": r.usage_flagged_not_lapsed,
                "share": share,
            }
        )
    out.sort(key=lambda x: (-x["share"], x["key"]))
    return out
