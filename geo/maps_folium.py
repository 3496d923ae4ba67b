"""The coverage map as a folium map: the web page's script and the standalone file.

``build_map(document)`` turns a map document (``geo.maps_document.map_document``)
into a ``folium.Map``: folium builds the Leaflet map, the panes
(``CustomPane``, one per layer, in drawing order), the optional basemap
(``TileLayer``), the layer switch (``LayerControl``) and the scale; our
elements add the document once and one layer per spec, drawn by the
functions of ``heating/static/js/map.js`` (``HeatingMap.layer``), which folium
loads like Leaflet itself (``default_js``/``default_css`` per map, pointing
at the app's vendored files — never a CDN).

Two faces:

- the web page (``map_script``): only the figure's script part, served by
  the app as an external file so the page runs under ``script-src 'self'``;
  the page template holds the map element and the script links;
- the standalone file (``standalone_html``): folium's whole page with every
  asset inlined, which opens from disk with no network.

Escaping (see ../shared/pitfalls.md): branca renders each element's macro
output a second time as a Jinja template.  User text therefore never
enters a macro: it lives only in the document, already HTML-escaped by
``geo.maps_document.display_text``, which ``_Verbatim`` writes into the script as
HTML-safe JSON without any template pass.
"""

from __future__ import annotations

import base64
import re
from functools import cache
from pathlib import Path
from typing import Any

import folium
from branca.element import Element, MacroElement
from folium.template import Template
from jinja2.utils import htmlsafe_json_dumps

STATIC_DIR = Path(__file__).resolve().parent.parent / "heating" / "static"
LEAFLET_DIR = "vendor/leaflet-1.9.3"
SCRIPTS = (
    f"{LEAFLET_DIR}/leaflet.js",
    "vendor/topojson-client-3.1.0/topojson-client.min.js",
    "js/map.js",
)
STYLESHEETS = (f"{LEAFLET_DIR}/leaflet.css", "css/map.css")
MAP_ELEMENT_ID = "heating"  # the map's element is #map_heating on every page


class _Verbatim(Element):
    """Text placed into the page as it is: no second Jinja pass over it."""

    _template = Template("{{ this.text }}")

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class MapDocument(MacroElement):
    """The map document, once, as ``var <name> = HeatingMap.context(map, {...});``.

    Written verbatim into the figure's script (megabytes of JSON are never
    lexed as a template, and no ``{{`` in a value can run).
    """

    def __init__(self, document: dict[str, Any]) -> None:
        super().__init__()
        self._name = "HeatingMapDocument"
        self.document = document

    def render(self, **kwargs: Any) -> None:
        payload = htmlsafe_json_dumps(self.document, separators=(",", ":"), ensure_ascii=False)
        statement = (
            f"var {self.get_name()} = HeatingMap.context({self._parent.get_name()}, {payload});"
        )
        self.get_root().script.add_child(_Verbatim(statement), name=self.get_name())


class MapLayer(folium.map.Layer):
    """One layer of the document (by key), drawn by ``HeatingMap.layer``; listed in the layer switch."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = HeatingMap.layer({{ this.context.get_name() }}, {{ this.key|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, context: MapDocument, spec: dict[str, Any]) -> None:
        super().__init__(
            name=spec["label"],
            overlay=True,
            control=spec.get("toggle", True),
            show=spec.get("show", True),
        )
        self._name = "HeatingLayer"
        self.context = context
        self.key = spec["key"]


class MapLegend(MacroElement):
    """The legend (title, both dates, classes, symbols, notes), collapsible; then fit the view."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            HeatingMap.legend({{ this.context.get_name() }});
            HeatingMap.fit({{ this.context.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, context: MapDocument) -> None:
        super().__init__()
        self._name = "HeatingLegend"
        self.context = context


class _InlineAssets(MacroElement):
    """Leaflet, topojson-client and the map's CSS and JS inside the page, for files opened offline."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}<style>{{ this.css }}</style>
        <script>{{ this.js }}</script>{% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "HeatingInlineAssets"
        self.css, self.js = inline_assets()


@cache
def inline_assets() -> tuple[str, str]:
    """(CSS, JS) of everything the map needs, ready to inline.

    Leaflet's images become ``data:`` URIs, CSS comments go, a source-map
    line is dropped (no map is shipped), and nothing can close its element
    early.  Jinja syntax is neutralised too: branca renders this header
    output once more as a template.
    """
    css = (STATIC_DIR / STYLESHEETS[0]).read_text(encoding="utf-8")
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)

    def data_uri(match: re.Match[str]) -> str:
        data = (STATIC_DIR / LEAFLET_DIR / match.group(1)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(data).decode('ascii')})"

    css = re.sub(r"url\((images/[\w.-]+\.png)\)", data_uri, css)
    css += (STATIC_DIR / STYLESHEETS[1]).read_text(encoding="utf-8")
    js = "\n;\n".join(
        re.sub(r"\n//# sourceMappingURL=\S+\s*$", "\n", (STATIC_DIR / name).read_text("utf-8"))
        for name in SCRIPTS
    )
    js = js.replace("</script", "<\\/script").replace("<!--", "<\\!--")
    for text in (css, js):
        if any(mark in text for mark in ("{{", "{%", "{#")):
            raise RuntimeError("an inlined map asset contains Jinja syntax; it would be executed")
    return css.replace("</", "<\\/"), js


def build_map(
    document: dict[str, Any], *, standalone: bool = False, asset_url: str = "/static"
) -> folium.Map:
    """Build the folium map of a map document.

    Parameters
    ----------
    document : dict
        From ``geo.maps_document.map_document`` (user text already escaped).
    standalone : bool, default False
        Inline every asset (the file of ``heating map``); otherwise the
        assets are links under ``asset_url``.
    asset_url : str, default "/static"
        Where the app serves ``heating/static``.

    Returns
    -------
    folium.Map
    """
    m = folium.Map(
        location=[36.3, 112.9],
        zoom_start=9,
        tiles=None,
        prefer_canvas=True,
        control_scale=False,
        zoom_snap=0.25,
        zoom_delta=0.5,
        attribution_control=bool(document["basemap"]),
    )
    m._id = MAP_ELEMENT_ID
    if standalone:
        m.default_js, m.default_css = [], []
        m.add_child(_InlineAssets())
    else:
        base = asset_url.rstrip("/")
        m.default_js = [(Path(name).stem, f"{base}/{name}") for name in SCRIPTS]
        m.default_css = [(Path(name).stem, f"{base}/{name}") for name in STYLESHEETS]
    m.get_root().title = document["title"]
    basemap = document["basemap"]
    if basemap:
        folium.TileLayer(
            tiles=basemap["url"],
            attr=basemap["attribution"],
            name="底图",
            overlay=False,
            control=False,
            max_zoom=18,
        ).add_to(m)
    for i, spec in enumerate(document["layers"]):
        folium.map.CustomPane(
            spec["pane"], z_index=400 + 10 * i, pointer_events=spec["kind"] == "areas"
        ).add_to(m)
    context = MapDocument(document)
    m.add_child(context)
    for spec in document["layers"]:
        m.add_child(MapLayer(context, spec))
    folium.LayerControl(position="topright", collapsed=True).add_to(m)
    m.add_child(MapLegend(context))
    return m


def map_script(m: folium.Map) -> str:
    """The map's script for a web page: everything folium would put in its inline <script>."""
    m.render()  # fills the figure's header, html and script parts; only the script is wanted
    return m.get_root().script.render()


def standalone_html(m: folium.Map) -> str:
    """The whole page of a map built with ``standalone=True``."""
    return m.get_root().render()
