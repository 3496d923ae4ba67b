"""A chosen district travels with every link: navigation, in-page links, forms and the map.

The tiny district (屯留区 140405) and 潞城区 (140406, tests/support.add_second_district).
A city user (erin) or an unbound planner (dave) who chose one district with
``?district=`` keeps it on the next click: every link into the areas that read
``?district=`` carries it (heating.web.layout.carry_district).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.districts import LUCHENG, LUCHENG_VILLAGES, NANJIE, add_second_district
from tests.support.users import PASSWORD, add_district_user
from tests.support.web import log_in

# The pages a city user walks through (each reads ?district=).
PAGES = ("/", "/villages", "/map", "/zones", "/usage", "/reports", "/trend", "/boilers", "/signoff")
# Links that belong to no district: the city summary, the account, logging out, static files.
UNSCOPED = ("/city", "/account", "/logout", "/static/", "/palette.css", "/login")


@pytest.fixture
def city(runtime, standard, users) -> dict[str, int]:
    with runtime.session() as s:
        ids = add_second_district(s)
        add_district_user(s, "lucy", "planner", LUCHENG)
    return ids


class _Links(HTMLParser):
    """Every href and GET form (action and hidden district) of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.forms: list[dict[str, str]] = []
        self._form: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.hrefs.append(a["href"])
        elif tag == "form" and a.get("method", "get").lower() == "get":
            self._form = {"action": a.get("action", ""), "class": a.get("class", "")}
            self.forms.append(self._form)
        elif tag in ("input", "select") and self._form is not None and a.get("name") == "district":
            self._form["district"] = a.get("value", "(select)")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


def _parse(html: str) -> _Links:
    links = _Links()
    links.feed(html)
    return links


def _district_of(href: str) -> str | None:
    return parse_qs(urlsplit(href).query).get("district", [None])[0]


def _app_links(hrefs: list[str]) -> list[str]:
    """Links into the app's pages that read a district (not anchors, the city, static files)."""
    return [
        h for h in hrefs if h.startswith("/") and not h.startswith(UNSCOPED) and "export=" not in h
    ]


@pytest.mark.parametrize("path", PAGES)
def test_every_link_of_a_page_carries_the_chosen_district(client, city, path) -> None:
    assert log_in(client, "erin", PASSWORD).status_code == 302
    resp = client.get(f"{path}{'&' if '?' in path else '?'}district={LUCHENG}")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    links = _parse(resp.get_data(as_text=True))
    app_links = _app_links(links.hrefs)
    assert app_links, path
    lost = [h for h in app_links if _district_of(h) != LUCHENG]
    assert lost == [], f"{path}: links that drop the district: {lost}"
    nav = re.search(r'<nav class="mainnav".*?</nav>', resp.get_data(as_text=True), re.S).group(0)
    assert f"district={LUCHENG}" in nav and "/city" in nav  # 全市 leads to every district
    assert 'href="/city?district' not in nav
    for form in links.forms:  # a filter keeps the district (the picker chooses another)
        if "district-pick" not in form["class"]:
            assert form.get("district") in (LUCHENG, "(select)"), (path, form)


def test_village_list_links_to_village_pages_in_the_district(client, city) -> None:
    assert log_in(client, "erin", PASSWORD).status_code == 302
    listing = client.get(f"/villages?district={LUCHENG}").get_data(as_text=True)
    village_links = [h for h in _parse(listing).hrefs if h.startswith("/villages/1")]
    assert sorted(urlsplit(h).path for h in village_links) == [
        f"/villages/{c}" for c in LUCHENG_VILLAGES
    ]
    page = client.get(village_links[0])
    assert page.status_code == 200
    nav_links = _app_links(_parse(page.get_data(as_text=True)).hrefs)
    assert nav_links and all(_district_of(h) == LUCHENG for h in nav_links), nav_links
    # a village outside the chosen district: a clear refusal, not another district's page
    outside = client.get(f"/villages/{NANJIE}?district={LUCHENG}")
    assert outside.status_code == 404
    assert "不在所选区县 140406" in outside.get_data(as_text=True)


def test_map_script_links_villages_and_townships_in_the_district(client, city) -> None:
    assert log_in(client, "erin", PASSWORD).status_code == 302
    page = client.get(f"/map?district={LUCHENG}").get_data(as_text=True)
    script_src = [s for s in re.findall(r'<script src="([^"]+)"', page) if "/map/script.js" in s]
    assert script_src and _district_of(script_src[0].replace("&amp;", "&")) == LUCHENG
    script = client.get(script_src[0].replace("&amp;", "&")).get_data(as_text=True)
    assert f"/villages/{{code}}?district={LUCHENG}" in script


def test_without_a_choice_links_stay_plain_and_every_district_is_read(client, city) -> None:
    assert log_in(client, "erin", PASSWORD).status_code == 302
    html = client.get("/").get_data(as_text=True)
    assert all(_district_of(h) is None for h in _parse(html).hrefs)
    assert "全部区县" in html  # the picker, several districts
    # an unknown district is refused and not carried into the links of the refusal page
    bad = client.get("/villages?district=999999")
    assert bad.status_code == 404 and "999999" in bad.get_data(as_text=True)
    assert all(_district_of(h) is None for h in _parse(bad.get_data(as_text=True)).hrefs)


def test_picker_reloads_this_page_in_another_district(client, city) -> None:
    assert log_in(client, "dave", PASSWORD).status_code == 302
    html = client.get(f"/zones?district={LUCHENG}").get_data(as_text=True)
    (picker,) = re.findall(r'<form class="district-pick[^>]*action="([^"]+)"', html)
    assert urlsplit(picker).path == "/zones"
    assert re.search(rf'<option value="{LUCHENG}" selected>潞城区</option>', html)
    village = client.get(f"/villages/{LUCHENG_VILLAGES[0]}?district={LUCHENG}").get_data(
        as_text=True
    )
    (picker,) = re.findall(r'<form class="district-pick[^>]*action="([^"]+)"', village)
    assert urlsplit(picker).path == "/"  # a village belongs to its district: the overview


def test_bound_and_single_district_users_see_no_picker(client, city) -> None:
    assert log_in(client, "lucy", PASSWORD).status_code == 302
    html = client.get("/").get_data(as_text=True)
    assert "district-pick" not in html
    assert all(_district_of(h) is None for h in _parse(html).hrefs)


def test_single_district_has_no_picker(client, standard, users) -> None:
    assert log_in(client, "erin", PASSWORD).status_code == 302
    assert "district-pick" not in client.get("/").get_data(as_text=True)


def test_clicking_through_over_real_http_stays_in_the_district(live_server, city) -> None:
    """Through waitress with requests: follow the navigation's hrefs one after another."""
    import requests

    http = requests.Session()
    form = http.get(f"{live_server}/login", timeout=30).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    resp = http.post(
        f"{live_server}/login",
        data={"username": "erin", "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=30,
    )
    assert resp.status_code == 302
    html = http.get(f"{live_server}/city", timeout=60).text
    (href,) = [
        h for h in _parse(html).hrefs if urlsplit(h).path == "/" and _district_of(h) == LUCHENG
    ]
    visited = []
    for label in ("村庄", "覆盖地图", "禁煤区", "用量核验", "年度报告", "历年趋势", "总览"):
        page = http.get(f"{live_server}{href}", timeout=60)
        assert page.status_code == 200, href
        visited.append(href)
        nav = re.search(r'<nav class="mainnav".*?</nav>', page.text, re.S).group(0)
        href = re.search(rf'<a href="([^"]+)"[^>]*>{label}</a>', nav).group(1).replace("&amp;", "&")
        assert _district_of(href) == LUCHENG, (visited, href)
    dashboard = http.get(f"{live_server}{href}", timeout=60).text
    assert "潞城区（140406）" in dashboard and "麟绛街道" not in dashboard
