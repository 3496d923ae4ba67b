"""The coverage map's data: classes, priority gaps, dates, the document, the standalone file.

Tests assert on ``MapData`` frames and on the JSON document ``build_map``
returns (what the browser draws), not on a renderer's internals; the browser
side is in ``test_map_browser.py``.
"""

from __future__ import annotations

import json
import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from shapely.geometry import box
from sqlalchemy import select

from geo.maps import map_data, summary
from geo.maps_document import MapLinks, basemap_of, display_text, map_document
from geo.maps_folium import build_map, map_script, standalone_html
from heating.coverage_classes import COVERAGE_CLASSES, GENERATED_NOTE, OVERLAY_STYLES
from heating.errors import Refused
from heating.measures import coverage
from heating.models import Village, Zone, ZoneDerivation
from heating.runtime import Runtime
from tests.support.households import add_households_by_status, change_household, write_household
from tests.support.zones import add_zone

# A name that would be markup, a JS template expression and a Jinja expression at once.
HOSTILE = "<img src=x onerror=alert(1)>${1}`\\{{cycler.__name__}}</script>"  # 62 chars
# The only URLs inside the inlined vendored code: the SVG namespace (never fetched), the
# attribution prefix link (switched off: no prefix) and topojson-client's licence comment.
VENDORED_CODE_URLS = {
    "http://www.w3.org/2000/svg",
    "https://leafletjs.com",
    "https://github.com/topojson/topojson-client",
}


@pytest.fixture
def measured(runtime: Runtime, tiny_district: dict[str, int]) -> dict[str, int]:
    """The tiny district with one village per colour class.

    南街 county_core 100%, total 10, 10 clean → 达标; 东街 fringe 100%, total 8,
    7 clean (87.5%) → 差距较大; 上村 rural 80%, total 20, 15 clean (75%) → 接近;
    下村 rural, no total and no rows → 无数据.
    """
    add_households_by_status(runtime, tiny_district["140405001201"], clean=10)
    add_households_by_status(runtime, tiny_district["140405001202"], clean=7, pending=1, lapsed=2)
    add_households_by_status(runtime, tiny_district["140405101201"], clean=15, pending=5)
    return tiny_district


def data(runtime: Runtime, **kwargs):
    with runtime.session() as session:
        return map_data(session, runtime.config, **kwargs)


def document(runtime: Runtime, links: MapLinks | None = None, **kwargs) -> dict:
    built = map_document(data(runtime, **kwargs), links=links, basemap=basemap_of(runtime.config))
    return json.loads(json.dumps(built, ensure_ascii=False))  # what the page receives


def areas(doc: dict) -> dict[str, dict]:
    """The coloured features' properties by code."""
    return {
        g["properties"]["code"]: g["properties"]
        for g in doc["topology"]["objects"]["areas"]["geometries"]
    }


def layer(doc: dict, key: str) -> dict:
    (spec,) = [spec for spec in doc["layers"] if spec["key"] == key]
    return spec


def test_colour_classes_match_the_measures(runtime: Runtime, measured: dict[str, int]) -> None:
    prepared = data(runtime)
    with runtime.session() as session:
        rows = {r.key: r for r in coverage(session, runtime.config.profile, "village")}
    classes = dict(zip(prepared.areas["code"], prepared.areas["cls"], strict=True))
    assert classes == {
        "140405001201": "meets",
        "140405001202": "far",
        "140405101201": "near",
        "140405101202": "no_data",
    }
    assert prepared.class_counts() == {"meets": 1, "near": 1, "far": 1, "no_data": 1}
    tips = dict(zip(prepared.areas["code"], prepared.areas["tip"], strict=True))
    # 东街: 8 required, 7 clean (2 of them burning coal again), fringe target 100%.
    assert tips["140405001202"] == [
        "东街村委会",
        "麟绛街道",
        "城乡结合部",
        "8",
        "7",
        "87.5%",
        "62.5%",
        "100.0%",
        "1",
        "—",  # no use imported: nothing checked, nothing flagged
        "—",
        "—",  # no heated area known
        "无不合规热源供热户",
    ]
    assert rows["140405001202"].gap == 1
    assert tips["140405101202"][5] == "—"  # nothing required: never 0% or 100%


def test_document_colours_and_legend_come_from_the_one_palette(
    runtime: Runtime, measured: dict[str, int]
) -> None:
    doc = document(runtime)
    villages = layer(doc, "areas")
    assert {k: s["fillColor"] for k, s in villages["styles"].items()} == {
        c.key: c.colour for c in COVERAGE_CLASSES
    }
    assert [(c["key"], c["label"], c["colour"], c["count"]) for c in doc["classes"]] == [
        ("meets", "达标", "#1a9850", 1),
        ("near", "接近", "#fdae61", 1),
        ("far", "差距较大", "#d73027", 1),
        ("no_data", "无数据", "#bdbdbd", 1),
    ]
    assert villages["fields"][0] == "村" and len(villages["fields"]) == 13
    assert villages["fields"][-4:] == [
        "疑似改而不用",
        "核验后有效覆盖率",
        "按面积清洁取暖率",
        "热源核查",
    ]
    assert all(len(p["tip"]) == 13 for p in areas(doc).values())


def test_priority_gaps_are_incomplete_today_and_touch_the_latest_zones(
    runtime: Runtime, measured: dict[str, int]
) -> None:
    # The zone (derived earlier) is 南街; 东街 beside it is incomplete today (7 of 8),
    # 上村 two villages east touches nothing.  An older derivation must not count.
    add_zone(
        runtime,
        ["140405001201", "140405101201"],
        [],
        (112.82, 36.30, 112.83, 36.31),
        as_of=date(2020, 10, 31),
    )
    add_zone(runtime, ["140405001201"], ["140405001202"], (112.80, 36.30, 112.81, 36.31))
    prepared = data(runtime)
    flagged = set(prepared.areas.loc[prepared.areas["priority"], "code"])
    assert flagged == {"140405001202"}
    assert prepared.dates.zones == date(2021, 10, 31)
    doc = document(runtime)
    assert areas(doc)["140405001202"].get("priority") == 1
    assert "priority" not in areas(doc)["140405001201"]
    assert layer(doc, "priority")["label"] == "重点缺口（1 个村）"
    # Once 东街 is complete today it is no longer a gap, whatever the zone's stored list says.
    with runtime.session() as session:  # its one pending household (户号 7) completes
        change_household(session, measured["140405001202"], "7", None, status="completed")
    assert not data(runtime).areas["priority"].any()


def test_an_enclave_inside_a_zone_is_a_priority_gap(
    runtime: Runtime, measured: dict[str, int]
) -> None:
    # A zone ring around 上村 (incomplete: 15 of 20) with 上村 in its hole.
    ring = box(112.815, 36.295, 112.835, 36.315).difference(box(112.82, 36.30, 112.83, 36.31))
    with runtime.session() as session:
        derivation = ZoneDerivation(
            as_of=date(2021, 10, 31), summary={"enclaves": ["140405101201"]}
        )
        session.add(derivation)
        session.flush()
        session.add(
            Zone(
                derivation_id=derivation.id,
                zone_id="JMQ-0002",
                geometry=ring.wkb,
                area_km2=1.0,
                village_codes=[],
                touching=[],
            )
        )
    flagged = data(runtime).areas.set_index("code")["priority"]
    assert flagged["140405101201"]


def test_the_legend_states_the_newest_ledger_date_and_the_zones_date(
    runtime: Runtime, tiny_district: dict[str, int]
) -> None:
    with runtime.session() as session:
        write_household(
            session, tiny_district["140405001201"], "1", "accepted", ledger_date=date(2021, 11, 5)
        )
        write_household(
            session, tiny_district["140405101201"], "1", "pending", ledger_date=date(2021, 10, 20)
        )
        # An older ledger back-filled today: recorded last, but not the newest ledger date.
        write_household(
            session, tiny_district["140405001202"], "1", "pending", ledger_date=date(2020, 10, 31)
        )
    add_zone(runtime, ["140405001201"], ["140405001202"], (112.80, 36.30, 112.81, 36.31))
    doc = document(runtime)
    assert doc["dates"] == {"data": "2021-11-05", "zones": "2021-10-31"}
    assert document(runtime, township_code="140405101")["dates"]["data"] == "2021-10-20"
    assert summary(data(runtime)).dates.zones == date(2021, 10, 31)


def test_without_ledgers_or_zones_the_dates_are_missing(runtime: Runtime, tiny_district) -> None:
    assert document(runtime)["dates"] == {"data": None, "zones": None}


def test_zones_are_drawn_above_the_villages_as_lines_not_tints(
    runtime: Runtime, measured: dict[str, int]
) -> None:
    add_zone(runtime, ["140405001201"], ["140405001202"], (112.80, 36.30, 112.81, 36.31))
    doc = document(runtime)
    order = [spec["key"] for spec in doc["layers"]]
    assert (
        order.index("areas")
        < order.index("townships")
        < order.index("priority")
        < order.index("zones")
    )
    zones = layer(doc, "zones")
    assert zones["styles"] == [OVERLAY_STYLES["zone_halo"], OVERLAY_STYLES["zone"]]
    assert all(style["fill"] is False for style in zones["styles"])
    assert zones["label"] == "禁煤区（1 片）"
    (zone,) = doc["topology"]["objects"]["zones"]["geometries"]
    assert zone["properties"] == {"zone_id": "JMQ-0001", "villages": 1}


def test_zones_far_from_the_shown_villages_are_left_out(
    runtime: Runtime, measured: dict[str, int]
) -> None:
    add_zone(runtime, ["140405001201"], [], (112.80, 36.30, 112.81, 36.31))
    assert len(data(runtime, township_code="140405001").zones) == 1
    assert len(data(runtime, township_code="140405101").zones) == 0  # 上村镇 starts at 112.82


def test_village_names_at_every_zoom_when_one_township_is_shown(
    runtime: Runtime, measured: dict[str, int]
) -> None:
    whole = document(runtime)
    assert layer(whole, "village_names")["min_zoom"] == 13
    assert layer(whole, "township_names")["max_zoom"] == 13
    names = sorted(p[2] for p in layer(whole, "township_names")["points"])
    assert names == ["上村镇", "麟绛街道"]
    one = document(runtime, township_code="140405001")
    assert layer(one, "village_names")["min_zoom"] is None
    assert "township_names" not in [spec["key"] for spec in one["layers"]]
    assert sorted(p["name"] for p in areas(one).values()) == ["东街村委会", "南街村委会"]


def test_label_points_lie_inside_their_village(runtime: Runtime, measured: dict[str, int]) -> None:
    doc = document(runtime)
    sx, sy = doc["topology"]["transform"]["scale"]
    ox, oy = doc["topology"]["transform"]["translate"]
    for code, bounds in {
        "140405001201": (112.80, 36.30, 112.81, 36.31),
        "140405101202": (112.83, 36.30, 112.84, 36.31),
    }.items():
        x, y = areas(doc)[code]["at"]
        assert box(*bounds).contains(
            box(ox + x * sx, oy + y * sy, ox + x * sx, oy + y * sy).centroid
        )


def test_links_follow_the_pattern_and_the_overview_links_townships(
    runtime: Runtime, measured: dict[str, int]
) -> None:
    links = MapLinks(village="/villages/{code}", township="/map?township={code}")
    doc = document(runtime, links=links)
    assert layer(doc, "areas")["link"] == "/villages/{code}"
    overview = document(runtime, links=links, overview_threshold=3)
    assert overview["mode"] == "townships" and overview["unit"] == "乡镇"
    assert layer(overview, "areas")["link"] == "/map?township={code}"
    tips = {code: p["tip"] for code, p in areas(overview).items()}
    # 麟绛街道: 17 of 18 clean; both villages need 100% → weighted target 100%.
    assert (tips["140405001"][4], tips["140405001"][6]) == ("94.4%", "100.0%")
    # 上村镇: 15 of 20 (下村 has none); 上村 needs 16 of 20 → target 80%.
    assert (tips["140405101"][4], tips["140405101"][6]) == ("75.0%", "80.0%")
    assert {code: p["cls"] for code, p in areas(overview).items()} == {
        "140405001": "near",
        "140405101": "near",
    }
    assert "priority" not in [spec["key"] for spec in overview["layers"]]
    assert any("按乡镇汇总" in note for note in overview["notes"])
    assert document(runtime, overview_threshold=3, township_code="140405001")["mode"] == "villages"


def test_generated_boundaries_are_said_so(runtime: Runtime, measured: dict[str, int]) -> None:
    assert GENERATED_NOTE not in document(runtime)["notes"]
    with runtime.session() as session:
        session.scalar(
            select(Village).where(Village.code == "140405001201")
        ).boundary_generated = True
        session.scalar(select(Village).where(Village.code == "140405101202")).geometry = None
    doc = document(runtime)
    assert GENERATED_NOTE in doc["notes"]
    assert "1 个村暂无边界，未在图上显示。" in doc["notes"]
    assert len(areas(doc)) == 3


class _Refs(HTMLParser):
    """Collect every src/href attribute and the text of every script element."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.scripts: list[tuple[dict, str]] = []
        self._in_script: dict | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.refs += [v for k, v in attrs if k in ("src", "href") and v]
        if tag == "script":
            self._in_script = dict(attrs)

    def handle_data(self, data: str) -> None:
        if self._in_script is not None:
            self.scripts.append((self._in_script, data))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = None


def parse(html: str) -> _Refs:
    parser = _Refs()
    parser.feed(html)
    return parser


def standalone(runtime: Runtime, **kwargs) -> str:
    document = map_document(data(runtime, **kwargs), basemap=basemap_of(runtime.config))
    return standalone_html(build_map(document, standalone=True))


def test_standalone_file_inlines_every_asset(runtime: Runtime, measured: dict[str, int]) -> None:
    html = standalone(runtime)
    parsed = parse(html)
    css_urls = re.findall(r"url\(\s*['\"]?([^'\")]+)", html)
    # Leaflet's CSS keeps "behavior: url(#default#VML)", a fragment for old IE: no request.
    assert parsed.refs == []  # no <script src>, no <link href>: nothing fetched
    assert all(u.startswith(("data:image/png;base64,", "#default#VML")) for u in css_urls)
    assert "<link" not in html
    assert set(re.findall(r"https?://[\w./-]*\w", html)) <= VENDORED_CODE_URLS
    root = Path(__file__).parent.parent / "heating" / "static"
    for name in (
        "vendor/leaflet-1.9.3/leaflet.js",
        "vendor/topojson-client-3.1.0/topojson-client.min.js",
        "js/map.js",
    ):
        tail = (root / name).read_text(encoding="utf-8").strip()[-150:]
        assert tail in html, name


def test_hostile_names_are_escaped_once_for_the_page_and_the_file(
    runtime: Runtime, measured: dict[str, int]
) -> None:
    with runtime.session() as session:
        village = session.scalar(select(Village).where(Village.code == "140405101201"))
        village.name = HOSTILE
        village.township.name = HOSTILE
    escaped = display_text(HOSTILE)
    assert escaped == (
        "&lt;img src=x onerror=alert(1)&gt;&#36;&#123;1&#125;&#96;&#92;"
        "&#123;&#123;cycler.__name__&#125;&#125;&lt;/script&gt;"
    )
    doc = document(runtime, title=HOSTILE)
    assert doc["title"] == escaped
    assert areas(doc)["140405101201"]["name"] == escaped
    assert areas(doc)["140405101201"]["tip"][:2] == [escaped, escaped]
    assert escaped in [p[2] for p in layer(doc, "township_names")["points"]]
    for page in (
        standalone(runtime, title=HOSTILE),
        map_script(build_map(map_document(data(runtime, title=HOSTILE)))),
    ):
        assert "<img src=x" not in page and "${1}" not in page and '</script>"' not in page
        assert "Cycler" not in page  # branca's second template pass never saw the name
        assert escaped.replace("&", "\\u0026") in page  # HTML-safe JSON of the escaped name
    assert "<title>&lt;img src=x" in standalone(runtime, title=HOSTILE)


def test_basemap_is_configuration_and_its_attribution_text(
    runtime: Runtime, measured: dict[str, int]
) -> None:
    assert document(runtime)["basemap"] is None
    url = "http://10.1.2.3:8080/tiles/{z}/{x}/{y}.png"
    runtime.config = runtime.config.with_overrides(
        basemap_url=url, basemap_attribution="内网底图 <b>测绘院</b>"
    )
    assert document(runtime)["basemap"] == {
        "url": url,
        "attribution": "内网底图 &lt;b&gt;测绘院&lt;/b&gt;",
    }
    html = standalone(runtime)
    assert html.count("L.tileLayer(") == 1
    assert set(re.findall(r"https?://[^\"'\s\\]+", html)) - VENDORED_CODE_URLS == {url}
    assert "<b>" not in html
    # folium renders its output again as Jinja: a URL that would be a template is refused.
    runtime.config = runtime.config.with_overrides(
        basemap_url="http://10.1.2.3/{{ cycler.__name__ }}/{z}/{x}/{y}.png"
    )
    with pytest.raises(Refused, match="basemap_url"):
        document(runtime)


def test_cli_writes_a_standalone_map(
    run_cli, runtime: Runtime, measured: dict[str, int], tmp_path: Path
) -> None:
    out = tmp_path / "地图.html"
    result = run_cli("map", "-o", str(out), "--township", "140405001")
    assert result.exit_code == 0, result.stderr
    assert "2 个村" in result.stdout
    html = out.read_text(encoding="utf-8")
    assert "<script src" not in html and "南街村委会" in html and "上村村委会" not in html
    result = run_cli("map", "-o", str(out), "--json")
    assert result.exit_code == 0
    outcome = json.loads(result.stdout)
    assert outcome["villages"] == 4 and outcome["classes"]["meets"] == 1
    assert outcome["zones_as_of"] is None and re.fullmatch(r"\d{4}-\d\d-\d\d", outcome["data_date"])
    result = run_cli("map", "-o", str(out), "--township", "999999999")
    assert result.exit_code == 1 and "乡镇代码 999999999" in result.stderr


def test_cli_refuses_without_boundaries(run_cli, runtime: Runtime, tiny_district, tmp_path) -> None:
    with runtime.session() as session:
        for village in session.scalars(select(Village)):
            village.geometry = None
    result = run_cli("map", "-o", str(tmp_path / "m.html"))
    assert result.exit_code == 1
    assert "heating boundaries load" in result.stderr
    assert not (tmp_path / "m.html").exists()
