"""The coverage map: colour classes, escaping, offline assets, basemap, zones, CLI."""

from __future__ import annotations

import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import Polygon, box
from sqlalchemy import select

from geo.maps import (
    COVERAGE_CLASSES,
    GENERATED_NOTE,
    LayerData,
    build_map,
    coverage_class,
    display_text,
    render_html,
    simplify_coverage,
)
from heating.errors import Refused
from heating.measures import coverage
from heating.models import Village, Zone, ZoneDerivation
from heating.runtime import Runtime
from tests.support import add_households_by_status

# Branca renders folium's output a second time as Jinja: "{{ cycler.__name__ }}" in
# unescaped data comes out as "Cycler" (and worse expressions run on the server).
HOSTILE = "<img src=x onerror=alert(1)>${alert(1)}`\\{{ cycler.__name__ }}"
FOLIUM_CDN_HOSTS = (
    "cdn.jsdelivr.net",
    "code.jquery.com",
    "cdnjs.cloudflare.com",
    "netdna.bootstrapcdn.com",
    "openstreetmap",
)
# The only URLs inside the inlined Leaflet code: the SVG namespace (never fetched) and
# the attribution prefix link, which the map switches off (setPrefix(false)).
LEAFLET_CODE_URLS = {"http://www.w3.org/2000/svg", "https://leafletjs.com"}


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


def build(runtime: Runtime, **kwargs):  # noqa: ANN201
    with runtime.session() as session:
        m, summary = build_map(session, runtime.config, **kwargs)
        return m, summary, render_html(m)


def layer(m, name: str):  # noqa: ANN001, ANN201
    """The folium layer shown as ``name`` in the layer control."""
    for child in m._children.values():
        if getattr(child, "layer_name", None) == name:
            return child
    raise AssertionError(f"no layer {name!r}")


def features(m, name: str) -> list[dict]:  # noqa: ANN001
    """The GeoJSON features the layer ``name`` draws."""
    (data,) = [c for c in layer(m, name)._children.values() if isinstance(c, LayerData)]
    return data.data["features"]


@pytest.mark.parametrize(
    ("coverage_value", "target", "expected"),
    [
        (1.0, 1.0, "meets"),
        (0.8, 0.8, "meets"),
        (8 / 10, 0.8, "meets"),
        (7 / 10, 0.8, "near"),  # 0.8 - 0.1 is 0.7000000000000001 in floats
        (0.9, 1.0, "near"),
        (0.899, 1.0, "far"),
        (0.0, 0.8, "far"),
        (None, 1.0, "no_data"),
        (0.5, None, "no_data"),
    ],
)
def test_coverage_class_against_own_target(coverage_value, target, expected) -> None:  # noqa: ANN001
    assert coverage_class(coverage_value, target) == expected


def test_colour_classes_match_the_measures(runtime: Runtime, measured: dict[str, int]) -> None:
    m, summary, _ = build(runtime, village_url="/villages/{code}")
    drawn = features(m, "村庄覆盖率")
    by_code = {f["properties"]["url"].rsplit("/", 1)[1]: f["properties"] for f in drawn}
    with runtime.session() as session:
        rows = {r.key: r for r in coverage(session, runtime.config.profile, "village")}
    profile = runtime.config.profile
    for code, props in by_code.items():
        row = rows[code]
        assert props["cls"] == coverage_class(row.coverage, profile.target(row.category))
    assert {code: p["cls"] for code, p in by_code.items()} == {
        "140405001201": "meets",
        "140405001202": "far",
        "140405101201": "near",
        "140405101202": "no_data",
    }
    assert summary.classes == {"meets": 1, "far": 1, "near": 1, "no_data": 1}
    east = by_code["140405001202"]
    assert (east["required"], east["clean"], east["coverage"]) == ("8", "7", "87.5%")
    assert (east["effective"], east["target"], east["gap"]) == ("62.5%", "100.0%", "1")
    assert by_code["140405101202"]["coverage"] == "—"


def test_fill_colour_follows_the_class(runtime: Runtime, measured: dict[str, int]) -> None:
    _, _, html = build(runtime)
    for key in ("meets", "near", "far", "no_data"):
        colour = COVERAGE_CLASSES[key][1]
        assert re.search(rf'"fillColor":\s*"{colour}"', html)
    assert "达标" in html and "接近" in html and "差距较大" in html and "无数据" in html


class _Refs(HTMLParser):
    """Collect every src/href attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.refs += [v for k, v in attrs if k in ("src", "href") and v]


def references(html: str) -> list[str]:
    parser = _Refs()
    parser.feed(html)
    css_urls = re.findall(r"url\(\s*['\"]?([^'\")]+)", html)
    return parser.refs + css_urls


def test_web_map_loads_assets_from_the_app_only(runtime: Runtime, measured: dict[str, int]) -> None:
    _, _, html = build(runtime, asset_url="/static/vendor")
    refs = references(html)
    assert "/static/vendor/leaflet-1.9.3/leaflet.js" in refs
    assert "/static/vendor/leaflet-1.9.3/leaflet.css" in refs
    assert not [r for r in refs if re.match(r"(?i)(https?:)?//", r)]
    assert not re.findall(r"https?://", html)
    for host in FOLIUM_CDN_HOSTS:
        assert host not in html
    assert "L.tileLayer(" not in html


def test_standalone_map_inlines_every_asset(runtime: Runtime, measured: dict[str, int]) -> None:
    _, _, html = build(runtime, standalone=True)
    refs = references(html)
    # Leaflet's CSS keeps "behavior: url(#default#VML)", a fragment for old IE: no request.
    assert all(r.startswith(("data:image/png;base64,", "#default#VML")) for r in refs), refs
    assert "<script src" not in html and "<link" not in html
    assert set(re.findall(r"https?://[\w./-]*\w", html)) <= LEAFLET_CODE_URLS
    assert "setPrefix(false)" in html
    for host in FOLIUM_CDN_HOSTS:
        assert host not in html
    leaflet = Path("heating/static/vendor/leaflet-1.9.3/leaflet.js")
    tail = (Path(__file__).parent.parent / leaflet).read_text(encoding="utf-8")[-200:]
    assert tail in html


def test_basemap_adds_exactly_the_configured_tile_layer(
    runtime: Runtime, measured: dict[str, int]
) -> None:
    url = "http://10.1.2.3:8080/tiles/{z}/{x}/{y}.png"
    runtime.config = runtime.config.with_overrides(
        basemap_url=url, basemap_attribution="内网底图 <b>测绘院</b>"
    )
    _, _, html = build(runtime)
    assert html.count("L.tileLayer(") == 1
    assert f'L.tileLayer(\n                "{url}"' in html or f'L.tileLayer("{url}"' in html
    assert set(re.findall(r"https?://[^\"'\s]+", html)) == {url}
    # Leaflet shows the attribution as HTML: it arrives escaped (and JSON-encoded).
    assert "<b>" not in html and "\\u0026lt;b\\u0026gt;" in html


def test_hostile_village_name_is_text_for_html_js_and_jinja(
    runtime: Runtime, measured: dict[str, int]
) -> None:
    with runtime.session() as session:
        village = session.scalar(select(Village).where(Village.code == "140405101201"))
        village.name = HOSTILE
        village.township.name = HOSTILE
    _, _, html = build(runtime, title=HOSTILE)
    assert "<img src=x" not in html
    assert "${alert" not in html
    assert "Cycler" not in html  # not evaluated by branca's second Jinja pass
    assert display_text(HOSTILE) in html or display_text(HOSTILE).replace("&", "\\u0026") in html
    assert display_text(HOSTILE) == (
        "&lt;img src=x onerror=alert(1)&gt;&#36;&#123;alert(1)&#125;&#96;&#92;"
        "&#123;&#123; cycler.__name__ &#125;&#125;"
    )


def test_zones_overlay_and_priority_gaps(runtime: Runtime, measured: dict[str, int]) -> None:
    with runtime.session() as session:
        derivation = ZoneDerivation(as_of=date(2021, 10, 31), summary={"enclaves": []})
        session.add(derivation)
        session.flush()
        session.add(
            Zone(
                derivation_id=derivation.id,
                zone_id="JMQ-001",
                geometry=box(112.80, 36.30, 112.81, 36.31).wkb,
                area_km2=1.0,
                village_codes=["140405001201"],
                touching=["140405001202"],
            )
        )
    m, summary, html = build(runtime)
    assert summary.zones == 1 and summary.priority == 1
    assert len(features(m, "禁煤区")) == 1
    assert len(features(m, "重点缺口（飞地/紧邻禁煤区）")) == 1
    assert "禁煤区（1 片）" in html


def test_generated_boundaries_are_said_so(runtime: Runtime, measured: dict[str, int]) -> None:
    _, summary, html = build(runtime)
    assert not summary.generated_boundaries and GENERATED_NOTE not in html
    with runtime.session() as session:
        session.scalar(
            select(Village).where(Village.code == "140405001201")
        ).boundary_generated = True
    _, summary, html = build(runtime)
    assert summary.generated_boundaries and GENERATED_NOTE in html


def test_township_outlines_and_labels(runtime: Runtime, measured: dict[str, int]) -> None:
    m, _, html = build(runtime)
    outlines = features(m, "乡镇界线")
    assert len(outlines) == 2
    assert all(f["geometry"]["type"] == "Polygon" for f in outlines)  # dissolved, one piece each
    labels = layer(m, "乡镇名称").labels
    assert sorted(label[2] for label in labels) == ["上村镇", "麟绛街道"]


def test_township_filter_limits_the_villages(runtime: Runtime, measured: dict[str, int]) -> None:
    m, summary, _ = build(runtime, township_code="140405101")
    assert summary.villages == 2
    assert len(features(m, "村庄覆盖率")) == 2


def test_overview_shows_townships_above_the_threshold(
    runtime: Runtime, measured: dict[str, int]
) -> None:
    m, summary, _ = build(runtime, overview_threshold=3, township_url="/map?township={code}")
    assert summary.mode == "townships"
    props = sorted(
        (f["properties"] for f in features(m, "乡镇覆盖率")),
        key=lambda p: p["url"],
    )
    assert [p["url"] for p in props] == ["/map?township=140405001", "/map?township=140405101"]
    # 麟绛街道: 17 of 18 clean; both villages need 100% → weighted target 100%.
    assert (props[0]["coverage"], props[0]["target"], props[0]["cls"]) == (
        "94.4%",
        "100.0%",
        "near",
    )
    # 上村镇: 15 of 20 (下村 has none); 上村 needs 16 of 20 → target 80%.
    assert (props[1]["coverage"], props[1]["target"], props[1]["cls"]) == ("75.0%", "80.0%", "near")
    _, summary, _ = build(runtime, overview_threshold=3, township_code="140405001")
    assert summary.mode == "villages"


def test_coverage_simplification_keeps_shared_borders() -> None:
    # Two neighbours sharing a finely zig-zagged border (metres, Gauss–Krüger 38).
    xs = [500_000 + i * 5.0 for i in range(201)]
    border = [(x, 4_000_000 + (3.0 if i % 2 else 0.0)) for i, x in enumerate(xs)]
    north = Polygon([*border, (xs[-1], 4_001_000), (xs[0], 4_001_000)])
    south = Polygon([*border, (xs[-1], 3_999_000), (xs[0], 3_999_000)])
    frame = gpd.GeoDataFrame({"code": ["a", "b"]}, geometry=[north, south], crs="EPSG:4547").to_crs(
        "EPSG:4490"
    )
    small = simplify_coverage(frame, 20.0)
    geoms = small.to_crs("EPSG:4547").geometry.values
    assert (
        shapely.get_num_coordinates(geoms).sum()
        < shapely.get_num_coordinates(frame.geometry.values).sum() / 10
    )
    overlap = shapely.intersection(geoms[0], geoms[1]).area
    gap = shapely.union_all(geoms).area - geoms[0].area - geoms[1].area
    assert overlap < 1e-3 and abs(gap) < 1e-3
    assert shapely.union_all(geoms).geom_type == "Polygon"


def test_cli_writes_a_standalone_map(
    run_cli, runtime: Runtime, measured: dict[str, int], tmp_path: Path
) -> None:  # noqa: ANN001
    out = tmp_path / "地图.html"
    result = run_cli("map", "-o", str(out), "--township", "140405001")
    assert result.exit_code == 0, result.stderr
    assert "2 个村" in result.stdout
    html = out.read_text(encoding="utf-8")
    assert "<script src" not in html and "南街村委会" in html and "上村村委会" not in html
    result = run_cli("map", "-o", str(out), "--township", "999999999")
    assert result.exit_code == 1 and "乡镇代码 999999999" in result.stderr


def test_cli_refuses_without_boundaries(run_cli, runtime: Runtime, tiny_district, tmp_path) -> None:  # noqa: ANN001
    with runtime.session() as session:
        for village in session.scalars(select(Village)):
            village.geometry = None
    result = run_cli("map", "-o", str(tmp_path / "m.html"))
    assert result.exit_code == 1
    assert "heating boundaries load" in result.stderr
    assert not (tmp_path / "m.html").exists()


def test_basemap_url_that_would_be_a_template_is_refused(
    runtime: Runtime, measured: dict[str, int]
) -> None:
    runtime.config = runtime.config.with_overrides(
        basemap_url="http://10.1.2.3/{{ cycler.__name__ }}/{z}/{x}/{y}.png"
    )
    with pytest.raises(Refused, match="basemap_url"):
        build(runtime)
