/*
 * The coverage map's drawing functions, called by the script folium builds
 * (geo/maps_folium.py): HeatingMap.context(map, document) once, then
 * HeatingMap.layer(ctx, key) for each layer spec of the document (in drawing order,
 * each in its own pane), HeatingMap.legend(ctx) (the legend, the scale and the search box) and
 * HeatingMap.fit(ctx).  Used by
 * /map, /zones and the standalone file of `heating map`.
 *
 * Escaping: every user value in the document (names, labels, the title) was
 * HTML-escaped once on the server (geo.maps_document.display_text), so values are put into the
 * page as HTML here and nowhere escaped again.
 *
 * Layers: each spec's `kind` names a function in `kinds` below that returns a Leaflet
 * layer.  A new layer that fits a kind needs no JS; a new kind is one more function here
 * (see geo/maps.py's docstring).
 */
(function () {
  "use strict";

  // ---- document values (already escaped on the server) into the page --------------------

  function el(tag, className, markup) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (markup !== undefined && markup !== null) node.innerHTML = String(markup);
    return node;
  }

  function table(fields, values, flags) {
    var t = el("table");
    for (var i = 0; i < fields.length; i++) {
      var tr = el("tr");
      tr.appendChild(el("th", null, fields[i]));
      tr.appendChild(el("td", null, values[i]));
      t.appendChild(tr);
    }
    (flags || []).forEach(function (row) {
      var tr = el("tr", "flag");
      tr.appendChild(el("th", null, row[0]));
      tr.appendChild(el("td", null, row[1]));
      t.appendChild(tr);
    });
    return t;
  }

  // ---- the context every layer kind is given --------------------------------------------

  function Context(map, doc) {
    this.map = map;
    this.doc = doc;
    this.topology = doc.topology;
    this._features = {};
    this._canvases = {};
  }

  Context.prototype.table = table;

  Context.prototype.features = function (object) {
    if (!this._features[object]) {
      var collection = topojson.feature(this.topology, this.topology.objects[object]);
      this._features[object] = collection.features.filter(function (f) {
        return f.geometry !== null;
      });
    }
    return this._features[object];
  };

  Context.prototype.latLng = function (xy) {
    var t = this.topology.transform;
    return L.latLng(xy[1] * t.scale[1] + t.translate[1], xy[0] * t.scale[0] + t.translate[0]);
  };

  // SVG up to a few thousand shapes (it prints as vectors; Chrome may leave stacked canvases
  // out of a printout), canvas beyond that (drawing speed).
  var SVG_LIMIT = 2500;

  Context.prototype.renderer = function (pane) {
    if (!this._canvases[pane]) {
      var many = this.topology.objects.areas.geometries.length > SVG_LIMIT;
      this._canvases[pane] = many ? L.canvas({pane: pane, padding: 0.3}) : L.svg({pane: pane});
    }
    return this._canvases[pane];
  };

  Context.prototype.lines = function (data, spec) {
    var self = this;
    var group = L.layerGroup();
    spec.styles.forEach(function (style) {
      L.geoJSON(data, {
        pane: spec.pane,
        renderer: self.renderer(spec.pane),
        interactive: false,
        style: function () { return style; }
      }).addTo(group);
    });
    return group;
  };

  Context.prototype.open = function (pattern, code) {
    window.location.assign(pattern.replace("{code}", encodeURIComponent(code)));
  };

  // ---- layer kinds ----------------------------------------------------------------------

  var kinds = {};

  // Filled polygons coloured by class, with a tooltip and a click that opens the link.
  kinds.areas = function (spec, ctx) {
    var layer = L.geoJSON(ctx.features(spec.object), {
      pane: spec.pane,
      renderer: ctx.renderer(spec.pane),
      style: function (f) { return spec.styles[f.properties.cls] || spec.styles.no_data; },
      onEachFeature: function (feature, shape) {
        var p = feature.properties;
        var flags = (spec.flags || []).filter(function (f) { return p[f[0]]; })
          .map(function (f) { return [f[1], "是"]; });
        shape.bindTooltip(function () { return table(spec.fields, p.tip, flags); },
                          {sticky: true, className: "heating-tip", direction: "auto"});
        shape.on("mouseover", function () { shape.setStyle(spec.hover); shape.bringToFront(); });
        shape.on("mouseout", function () { layer.resetStyle(shape); });
        if (spec.link) {
          shape.on("click", function () { ctx.open(spec.link, p.code); });
        }
      }
    });
    return layer;
  };

  // Borders between neighbours whose property `by` differs, and the outer border:
  // drawn from the shared arcs, so they cost no data.
  kinds.borders = function (spec, ctx) {
    var by = spec.by;
    var mesh = topojson.mesh(ctx.topology, ctx.topology.objects[spec.object], function (a, b) {
      return a === b || a.properties[by] !== b.properties[by];
    });
    return ctx.lines(mesh, spec);
  };

  // Outlines of the features of an object (those with property `where`, if given).
  kinds.outlines = function (spec, ctx) {
    var features = ctx.features(spec.object).filter(function (f) {
      return !spec.where || f.properties[spec.where];
    });
    return ctx.lines({type: "FeatureCollection", features: features}, spec);
  };

  // Names at points, shown between min_zoom and max_zoom, only those in view.
  var Labels = L.LayerGroup.extend({
    initialize: function (items, spec) {
      L.LayerGroup.prototype.initialize.call(this);
      this._items = items;
      this._spec = spec;
    },
    onAdd: function (map) {
      L.LayerGroup.prototype.onAdd.call(this, map);
      map.on("zoomend moveend", this._update, this);
      this._update();
    },
    onRemove: function (map) {
      map.off("zoomend moveend", this._update, this);
      L.LayerGroup.prototype.onRemove.call(this, map);
    },
    _update: function () {
      var map = this._map, spec = this._spec, zoom = map.getZoom();
      this.clearLayers();
      if ((spec.min_zoom !== null && spec.min_zoom !== undefined && zoom < spec.min_zoom) ||
          (spec.max_zoom !== null && spec.max_zoom !== undefined && zoom >= spec.max_zoom)) {
        return;
      }
      // Names in view, skipping any that would overlap one already placed.
      var view = map.getBounds().pad(0.1), placed = [];
      for (var i = 0; i < this._items.length && placed.length < 600; i++) {
        var item = this._items[i];
        if (!view.contains(item.at)) continue;
        var p = map.latLngToContainerPoint(item.at);
        var w = item.length * 12 + 6, h = 16;
        var box = [p.x - w / 2, p.y - h / 2, p.x + w / 2, p.y + h / 2];
        if (placed.some(function (b) {
          return box[0] < b[2] && b[0] < box[2] && box[1] < b[3] && b[1] < box[3];
        })) continue;
        placed.push(box);
        this.addLayer(L.marker(item.at, {
          pane: spec.pane,
          interactive: false,
          keyboard: false,
          icon: L.divIcon({className: "heating-label heating-label-" + spec.className,
                           html: "<span>" + item.name + "</span>", iconSize: null})
        }));
      }
    }
  });

  function shownLength(markup) {
    return el("span", null, markup).textContent.length;
  }

  kinds.labels = function (spec, ctx) {
    var items = spec.points
      ? spec.points.map(function (p) { return {at: ctx.latLng(p), name: p[2]}; })
      : ctx.features(spec.object).map(function (f) {
          return {at: ctx.latLng(f.properties.at), name: f.properties.name};
        });
    items.forEach(function (item) { item.length = shownLength(item.name); });
    return new Labels(items, spec);
  };

  // Circle markers at points (heat sources, coal boilers): filled by `styles[cls]`, with the
  // `alert` style on top where the point carries `alert`; tooltip from `fields` and `tip`.
  // SVG, not canvas: a canvas covers the whole map and would take the pointer from the
  // villages below; an SVG circle catches it only where it is drawn (the pane catches none).
  kinds.points = function (spec, ctx) {
    var group = L.layerGroup();
    var renderer = L.svg({pane: spec.pane});
    spec.points.forEach(function (point) {
      var p = point[2];
      var style = L.extend({}, spec.styles[p.cls] || {}, p.alert ? spec.alert : {},
                           {pane: spec.pane, renderer: renderer});
      var marker = L.circleMarker(ctx.latLng(point), style);
      var flags = (spec.flags || []).filter(function (f) { return p[f[0]]; })
        .map(function (f) { return [f[1], "是"]; });
      marker.bindTooltip(function () { return table(spec.fields, p.tip, flags); },
                         {sticky: true, className: "heating-tip", direction: "auto"});
      group.addLayer(marker);
    });
    return group;
  };

  // ---- the legend, which is also the layer control --------------------------------------

  function dot(fill, rim) {
    var d = el("i", "symbol symbol-point");
    d.style.background = fill;
    if (rim) d.style.borderColor = rim;
    return d;
  }

  function symbol(spec) {
    if (spec.kind === "labels") return el("i", "symbol symbol-text", "名");
    if (spec.kind === "points") return dot("#ffffff", spec.alert.color);
    var style = spec.styles[spec.styles.length - 1];
    var line = el("i", "symbol symbol-line");
    line.style.borderTopColor = style.color;
    line.style.borderTopWidth = Math.max(2, Math.round(style.weight || 2)) + "px";
    line.style.borderTopStyle = style.dashArray ? "dashed" : "solid";
    if (spec.styles.length > 1) line.style.outline = "1px solid #ddd";
    return line;
  }

  function dateLines(doc) {
    var d = doc.dates || {};
    var lines = [];
    lines.push(d.data ? "数据截至 " + d.data + "（最新台账日期）" : "尚无台账数据");
    if (d.zones) lines.push("禁煤区：截至 " + d.zones + " 派生（最新一次）");
    else lines.push("禁煤区：尚未生成");
    return lines;
  }

  var Legend = L.Control.extend({
    options: {position: "topright"},
    initialize: function (ctx, options) {
      L.setOptions(this, options);
      this._ctx = ctx;
    },
    onAdd: function () {
      var doc = this._ctx.doc;
      var box = el("section", "heating-legend");
      box.setAttribute("aria-label", "图例");
      var head = el("div", "heating-legend-head");
      var toggle = el("button", "heating-legend-toggle", "收起");
      toggle.type = "button";
      toggle.setAttribute("aria-expanded", "true");
      head.appendChild(el("h2", "heating-legend-title", doc.title));
      head.appendChild(toggle);
      box.appendChild(head);
      var body = el("div", "heating-legend-body");
      dateLines(doc).forEach(function (line) { body.appendChild(el("p", "dates", line)); });
      body.appendChild(el("p", "muted", doc.class_note));
      var classes = el("ul", "classes");
      doc.classes.forEach(function (c) {
        var li = el("li", null, c.label + "（" + c.hint + "）：" + c.count + " 个" + doc.unit);
        li.setAttribute("data-class", c.key);
        var swatch = el("i", "swatch");
        swatch.style.background = c.colour;
        li.insertBefore(swatch, li.firstChild);
        classes.appendChild(li);
      });
      body.appendChild(classes);
      var overlays = el("ul", "overlays");
      doc.layers.forEach(function (spec) {
        if (spec.toggle === false) return;
        var li = el("li");
        li.setAttribute("data-layer", spec.key);
        li.appendChild(symbol(spec));
        li.appendChild(el("span", null, spec.label));
        if (spec.hint) li.appendChild(el("div", "hint", spec.hint));
        if (spec.classes) {
          var kindsList = el("ul", "point-classes");
          spec.classes.forEach(function (c) {
            var item = el("li", null, c.label);
            item.insertBefore(dot(c.fill), item.firstChild);
            kindsList.appendChild(item);
          });
          li.appendChild(kindsList);
        }
        overlays.appendChild(li);
      });
      body.appendChild(overlays);
      (doc.notes || []).forEach(function (note) { body.appendChild(el("p", "note", note)); });
      box.appendChild(body);
      toggle.addEventListener("click", function () {
        var open = box.classList.toggle("collapsed") === false;
        toggle.textContent = open ? "收起" : "图例";
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
      });
      if (doc.legend_collapsed) toggle.click();
      // Layers switched off in the layer control leave the printed legend too.
      var ctx = this._ctx;
      function mark() {
        Array.prototype.forEach.call(overlays.children, function (li) {
          var shown = ctx.map.hasLayer(ctx.layers[li.getAttribute("data-layer")]);
          li.classList.toggle("hidden-layer", !shown);
        });
      }
      ctx.map.on("overlayadd overlayremove", mark);
      mark();
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    }
  });

  // ---- finding a village (or township) by name or code ------------------------------------

  // The same rule as the village list (heating.village_lists.search_rows): the name contains
  // the query or the code starts with it, spaces ignored.  Runs on the document alone, so it
  // works in the standalone file with no network.
  var SEARCH_SHOWN = 8;
  var FOUND_ZOOM = 14;

  function plain(markup) {
    return el("span", null, markup).textContent;
  }

  var Search = L.Control.extend({
    options: {position: "topleft"},
    initialize: function (ctx, options) {
      L.setOptions(this, options);
      this._ctx = ctx;
      this._found = null;
    },
    _entries: function () {
      if (this._all) return this._all;
      var ctx = this._ctx, villages = ctx.doc.mode === "villages", out = [], byCode = {};
      ctx.layers.areas.eachLayer(function (shape) {
        var p = shape.feature.properties;
        var entry = {shape: shape, code: plain(p.code), name: plain(p.name),
                     township: villages ? plain(p.tip[1]) : ""};
        byCode[entry.code] = entry;
        out.push(entry);
      });
      // The township overview draws no village, but finds them: a village points at the
      // shape of its township (search_villages: [code, name, township code]).
      (ctx.doc.search_villages || []).forEach(function (v) {
        var township = byCode[plain(v[2])];
        if (!township) return;
        out.push({shape: township.shape, code: plain(v[0]), name: plain(v[1]),
                  township: township.name, townshipCode: township.code, village: true});
      });
      out.sort(function (a, b) { return a.code < b.code ? -1 : a.code > b.code ? 1 : 0; });
      this._all = out;
      return out;
    },
    // What the box looks for: 村, 乡镇, or both in the overview.
    _unit: function () {
      var doc = this._ctx.doc;
      return doc.search_villages && doc.search_villages.length ? doc.unit + "或村" : doc.unit;
    },
    // Select the one area or village with exactly this code (the page's ?find=); false if none.
    find: function (code) {
      var wanted = String(code || "").replace(/\s+/g, "");
      var hits = this._entries().filter(function (e) { return e.code === wanted; });
      if (hits.length !== 1) return false;
      this.select(hits[0]);
      return true;
    },
    matches: function (query) {
      var needle = String(query || "").replace(/\s+/g, "");
      if (!needle) return [];
      return this._entries().filter(function (e) {
        return e.name.indexOf(needle) >= 0 || e.code.indexOf(needle) === 0;
      });
    },
    onAdd: function () {
      var self = this, unit = this._unit();
      var box = el("div", "heating-search leaflet-bar");
      var form = el("form");
      form.setAttribute("role", "search");
      var input = el("input", "heating-search-input");
      input.type = "search";
      input.placeholder = "查找" + unit + "：名称或代码";
      input.setAttribute("aria-label", "查找" + unit + "（名称或代码）");
      input.autocomplete = "off";
      var list = el("ul", "heating-search-results");
      list.setAttribute("role", "listbox");
      var status = el("p", "heating-search-status");
      status.setAttribute("aria-live", "polite");
      form.appendChild(input);
      box.appendChild(form);
      box.appendChild(list);
      box.appendChild(status);
      this._input = input;
      this._list = list;
      this._status = status;
      var active = -1;
      function mark(i) {
        var items = list.children;
        if (!items.length) return;
        active = (i + items.length) % items.length;
        Array.prototype.forEach.call(items, function (li, j) {
          li.classList.toggle("active", j === active);
          li.setAttribute("aria-selected", j === active ? "true" : "false");
        });
      }
      input.addEventListener("input", function () { active = -1; self._show(input.value); });
      input.addEventListener("keydown", function (e) {
        if (e.key === "ArrowDown") { mark(active + 1); e.preventDefault(); }
        else if (e.key === "ArrowUp") { mark(active - 1); e.preventDefault(); }
        else if (e.key === "Escape") { input.value = ""; self._show(""); self.clear(); }
      });
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var found = self._shown || [];
        if (found.length) self.select(found[Math.max(active, 0)]);
      });
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    },
    _show: function (query) {
      var self = this, list = this._list, unit = this._unit();
      var found = this.matches(query);
      this._shown = found.slice(0, SEARCH_SHOWN);
      list.innerHTML = "";
      this._shown.forEach(function (entry) {
        var li = el("li");
        li.setAttribute("role", "option");
        li.appendChild(document.createTextNode(entry.name));
        if (entry.township) li.appendChild(el("span", "township")).textContent = entry.township;
        li.appendChild(el("span", "code")).textContent = entry.code;
        li.addEventListener("click", function () { self.select(entry); });
        list.appendChild(li);
      });
      var needle = String(query || "").trim();
      if (!needle) this._status.textContent = "";
      else if (!found.length) this._status.textContent = "图中没有名称含“" + needle + "”或代码以它开头的" + unit;
      else if (found.length > SEARCH_SHOWN) {
        this._status.textContent = "共 " + found.length + " 个，只列出前 " + SEARCH_SHOWN + " 个；请再输入几个字";
      } else this._status.textContent = "";
    },
    // Zoom to a found area, outline it above every layer and open its tooltip.
    select: function (entry) {
      var ctx = this._ctx, map = ctx.map, shape = entry.shape;
      this.clear();
      if (entry.village) return this._selectInOverview(entry);
      // Close enough to see the village among its neighbours; never further out than now.
      map.fitBounds(shape.getBounds(), {maxZoom: Math.max(FOUND_ZOOM, map.getZoom()),
                                        padding: [40, 40], animate: false});
      this._outline(shape);
      shape.openTooltip(shape.getCenter ? shape.getCenter() : shape.getBounds().getCenter());
      this._list.innerHTML = "";
      this._shown = [entry];
      this._input.value = entry.name;
      var where = entry.township ? "（" + entry.township + "）" : "";
      this._status.textContent = "已定位：" + entry.name + where + "。点击该" +
        ctx.doc.unit + "打开详情。";
      map.getContainer().setAttribute("data-found", entry.code);
    },
    // A village found on the township overview: show its township and say how to reach the
    // village itself (the township's map, where the village is found again at once).
    _selectInOverview: function (entry) {
      var ctx = this._ctx, map = ctx.map, shape = entry.shape;
      map.fitBounds(shape.getBounds(), {padding: [40, 40], animate: false});
      this._outline(shape);
      this._list.innerHTML = "";
      this._shown = [entry];
      this._input.value = entry.name;
      var status = this._status;
      status.textContent = "乡镇汇总图不单独画村：已定位到" + entry.name + "所在的" +
        entry.township + "（青色框）。";
      var areas = ctx.doc.layers.filter(function (s) { return s.key === "areas"; })[0];
      if (areas && areas.link) {
        var href = areas.link.replace("{code}", encodeURIComponent(entry.townshipCode));
        href += (href.indexOf("?") >= 0 ? "&" : "?") + "find=" + encodeURIComponent(entry.code);
        var a = el("a", "heating-search-open");
        a.href = href;
        a.textContent = "打开" + entry.township + "的村庄图并定位" + entry.name;
        status.appendChild(document.createTextNode("请先选择乡镇："));
        status.appendChild(a);
      } else {
        status.appendChild(document.createTextNode(
          "请先选择乡镇：用 heating map --township " + entry.townshipCode +
          " 生成该乡镇的村庄图。"));
      }
      map.getContainer().setAttribute("data-found", entry.code);
      map.getContainer().setAttribute("data-found-township", entry.townshipCode);
    },
    _outline: function (shape) {
      var ctx = this._ctx;
      var group = this._found = L.layerGroup().addTo(ctx.map);
      var renderer = this._renderer || (this._renderer = L.svg({pane: "heating-found"}));
      (ctx.doc.found_styles || []).forEach(function (style) {
        L.geoJSON(shape.feature, {
          pane: "heating-found",
          renderer: renderer,
          interactive: false,
          style: function () { return style; }
        }).addTo(group);
      });
    },
    clear: function () {
      if (this._found) { this._ctx.map.removeLayer(this._found); this._found = null; }
      this._ctx.map.getContainer().removeAttribute("data-found");
      this._ctx.map.getContainer().removeAttribute("data-found-township");
    }
  });

  // ---- what folium's script calls --------------------------------------------------------

  function context(map, doc) {
    var ctx = new Context(map, doc);
    ctx.layers = {};
    map.getContainer().classList.add("heating-map-ready");
    if (map.attributionControl) map.attributionControl.setPrefix(false);
    window.heatingMap = {map: map, layers: ctx.layers, doc: doc, ctx: ctx};
    return ctx;
  }

  function layer(ctx, key) {
    var spec = ctx.doc.layers.filter(function (s) { return s.key === key; })[0];
    var made = kinds[spec.kind](spec, ctx);
    ctx.layers[key] = made;
    return made;
  }

  function legend(ctx) {
    L.control.scale({imperial: false, position: "bottomleft"}).addTo(ctx.map);
    ctx.legend = new Legend(ctx).addTo(ctx.map);
    window.heatingMap.legend = ctx.legend;
    // The found area's outline sits above every layer's pane (zones included).
    var top = ctx.doc.layers.length + 1;
    ctx.map.createPane("heating-found").style.zIndex = String(400 + top * 10);
    ctx.search = new Search(ctx).addTo(ctx.map);
    window.heatingMap.search = ctx.search;
  }

  function fit(ctx) {
    var map = ctx.map, doc = ctx.doc;
    function go() {
      if (!doc.bounds) { map.setView([36.3, 112.9], 9); return; }
      var legendBox = ctx.legend ? ctx.legend.getContainer() : null;
      var width = legendBox && !legendBox.classList.contains("collapsed") ? legendBox.offsetWidth : 40;
      map.fitBounds(doc.bounds, {paddingTopLeft: [10, 10], paddingBottomRight: [width + 20, 10],
                                 animate: false});
    }
    go();
    // /map?township=…&find=CODE (the overview's link to a found village): find it at once.
    var wanted = null;
    try { wanted = new URLSearchParams(window.location.search).get("find"); } catch (e) { /* old */ }
    if (wanted && ctx.search) ctx.search.find(wanted);
    // Printing resizes the map: refit at once and redraw every canvas before the page is
    // laid out (Leaflet would otherwise redraw on the next animation frame, after printing).
    var printing = window.matchMedia ? window.matchMedia("print") : null;
    if (printing && printing.addEventListener) {
      printing.addEventListener("change", function () {
        map.invalidateSize({animate: false, pan: false});
        go();
        Object.keys(ctx._canvases).forEach(function (pane) {
          var canvas = ctx._canvases[pane];
          if (canvas._map && canvas._redraw) { canvas._update(); canvas._redraw(); }
        });
      });
    }
  }

  window.HeatingMap = {kinds: kinds, context: context, layer: layer, legend: legend, fit: fit,
                       el: el, table: table};
})();
