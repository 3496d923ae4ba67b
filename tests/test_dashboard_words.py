"""The dashboard's category row and its village link say the same thing (issue 15 item 3).

A category judged on its total (rural 80%) that meets in total while some of
its villages are below 80% must not read "达标 … 未达标村庄 82": it says
"合计达标；低于 80% 的村 N 个", and the list it links to says what it lists.
"""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from tests.support.districts import DONGJIE, NANJIE, SHANGCUN, XIACUN
from tests.support.households import add_many

SPRING = datetime(2021, 5, 1)


@pytest.fixture
def rural_meets(runtime, users, tiny_district) -> None:
    """Rural 35 of 40 (87.5%) with 上村 at 75%; 南街 9 of 10 fails its 100%."""
    ids = tiny_district
    with runtime.session() as s:
        add_many(s, ids[NANJIE], 9, "completed", at=SPRING)
        add_many(s, ids[NANJIE], 1, "pending", at=SPRING)
        add_many(s, ids[DONGJIE], 8, "accepted", at=SPRING)
        add_many(s, ids[SHANGCUN], 15, "completed", at=SPRING)
        add_many(s, ids[SHANGCUN], 5, "pending", at=SPRING)
        add_many(s, ids[XIACUN], 20, "completed", at=SPRING)


def category_row(page: str, name: str) -> str:
    table = page.split('id="categories"')[1].split("</table>")[0]
    return next(r for r in table.split("<tr") if f"<td>{name}</td>" in r)


def test_rural_row_says_met_in_total_and_counts_villages_below_80(login, rural_meets) -> None:
    page = login("dave").get("/").get_data(as_text=True)
    rural = category_row(page, "农村地区")
    text = re.sub(r"<[^>]+>|\s+", "", rural)
    assert "全部村合计达到80%" in text
    assert "合计达标；低于80%的村1个" in text
    assert "未达标" not in text  # the row says nothing that contradicts its 达标
    assert "category=rural" in rural and "meets=no" in rural

    county = re.sub(r"<[^>]+>|\s+", "", category_row(page, "县城建成区"))
    assert "每村均须达到100%" in county and "未达标的村1个" in county


def test_linked_list_says_what_it_lists_and_village_badges_agree(login, rural_meets) -> None:
    client = login("dave")
    page = client.get("/villages?category=rural&meets=no").get_data(as_text=True)
    assert "农村地区按全部村合计考核：下列是低于 80% 的村，不单独判为未达标" in page
    row = page.split('id="villages"')[1].split("上村村委会")[1].split("</tr>")[0]
    assert "badge-warn" in row and ">低于 80%<" in row and ">未达标<" not in row
    village = client.get(f"/villages/{SHANGCUN}").get_data(as_text=True)
    assert "低于 80%" in village.split('id="measures"')[1].split("</div>\n</div>")[0]
    # A village of a 100% category still fails by itself.
    south = client.get(f"/villages/{NANJIE}").get_data(as_text=True)
    assert "badge-bad" in south and "未达标" in south


def test_a_category_without_villages_says_so_instead_of_zero_failing(login, runtime) -> None:
    """潞城区 has rural villages only: its other categories read "—（潞城区无此类区域）"."""
    from tests.support.districts import LUCHENG, add_second_district

    with runtime.session() as s:
        add_second_district(s)
    page = login("erin").get(f"/?district={LUCHENG}").get_data(as_text=True)
    county = re.sub(r"<[^>]+>|\s+", "", category_row(page, "县城建成区"))
    assert "—（潞城区无此类区域）" in county and "0个" not in county
    rural = re.sub(r"<[^>]+>|\s+", "", category_row(page, "农村地区"))
    assert "低于80%的村1个" in rural  # a category with villages still counts them


def test_a_category_with_nothing_required_is_not_judged(login, runtime) -> None:
    """A 县城建成区 village in 潞城区 with no households and no registry count: not judged."""
    from sqlalchemy import select

    from heating.models import Township, Village
    from tests.support.districts import LUCHENG, LUCHENG_TOWNSHIP, add_second_district

    with runtime.session() as s:
        add_second_district(s)
        township = s.scalar(select(Township).where(Township.code == LUCHENG_TOWNSHIP))
        s.add(
            Village(
                code="140406001001",
                name="城关社区",
                township_id=township.id,
                category="county_core",
            )
        )
    page = login("erin").get(f"/?district={LUCHENG}").get_data(as_text=True)
    text = re.sub(r"<[^>]+>|\s+", "", category_row(page, "县城建成区"))
    assert "—（无应改户，不判断）" in text and "0个" not in text, text
