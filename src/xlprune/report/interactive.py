"""The pruning curves as one interactive chart inside index.html: pick model, task (data or
variant where several), target language, and which settings, sources, ranking methods and
kinds of curve to show; hover a point for its value, click a legend entry to pick curves
out. It draws what the static figures draw (curves.curve_sets: re-trained test curves with
k=0 the unpruned score, masked dev curves, each with its unpruned reference line and its
mean ± std band over seeds), one target language at a time, scores on the 0-1 scale.

Self-contained: Vega (vendor/vega.min.js, BSD-3-Clause, licence beside it) and the data
are inlined, so the page works opened from disk with no network."""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from importlib import resources

from xlprune.report import curves
from xlprune.report.curves import CurveSet, curve_sets, series_label
from xlprune.report.series import Line, Series

VEGA_VERSION = "6.4.0"
VENDOR = "vendor"
LIBRARY = "vega.min.js"
LICENSE = "LICENSE-vega.txt"
# facets a reader can switch on and off, in the order the controls show them
FACETS = [("setting", "Setting"), ("source", "Source"), ("method", "Ranking"), ("kind", "Curves")]


def view(data: Series | list[dict], sets: list[CurveSet] | None = None) -> str:
    """The view as an HTML fragment for page.Section(html=...): a <div> holding the
    controls, the data (JSON), Vega and the script. `data` is the report's Series or the
    tidy rows it is made of; `sets` the curve sets already drawn as figures (computed from
    `data` when not given). '' when there is no curve to draw, so the section drops out.
    Each fragment carries its own copy of Vega (about 0.5 MB): one per page."""
    series = data if isinstance(data, Series) else Series(data)
    found = payload(series, curve_sets(series) if sets is None else sets)
    if not found["curves"]:
        return ""
    blob = json_for_script(found)
    ident = "xlp-curves-" + hashlib.sha1(blob.encode()).hexdigest()[:10]
    return "\n".join(
        [
            f'<div class="xlp-curves" id="{ident}" data-status="loading">',
            f"<style>{STYLE}</style>",
            '<div class="xlp-controls"></div>',
            '<div class="xlp-chart"></div>',
            '<div class="xlp-tip" hidden></div>',
            '<p class="note xlp-help">Hover near a point for its value; click legend entries '
            "to pick curves out (click again to drop). Filled points: re-trained, test score "
            "(k=0 the unpruned model); hollow points and dashed lines: masked, dev score; "
            "dotted: each curve's unpruned (k=0) score; shaded: mean ± std over seeds.</p>",
            f'<script type="application/json" class="xlp-data">{blob}</script>',
            f"<script>{inline_js(SCRIPT)}</script>",
            f"<script>{library_comment()}\n{library()}</script>",
            "</div>",
        ]
    )


def payload(series: Series, sets: list[CurveSet]) -> dict:
    """What the page's script reads: one entry per context and per curve, scores 0-1,
    with (sd, n) where several seeds or runs were averaged."""
    contexts, out = [], []
    for index, curve_set in enumerate(sets):
        ctx = curve_set.context
        lines = curve_lines(series, curve_set)
        langs = [g for g in curve_set.langs if any(c.lang == g for c in curve_set.curves)]
        contexts.append(
            {
                "model": ctx.model,
                "task": ctx.task,
                "data": ctx.data,
                "variant": ctx.variant,
                "title": ctx.title(),
                "metric": curve_set.metric,
                "metricName": metric_name(curve_set.metric),
                "kLabel": curves.k_label(curve_set),
                "seeds": series.seed_note(ctx),
                "langs": langs,
                "labels": sorted({c.label for c in curve_set.curves}),
                "masked": sorted({c.label for c in curve_set.curves if c.masked}),
            }
        )
        for curve in curve_set.curves:
            line = lines.get((curve.label, curve.lang))
            spread = spreads(series, line)
            out.append(
                {
                    "ctx": index,
                    "label": curve.label,
                    "lang": curve.lang,
                    "setting": line.setting if line else "",
                    "source": line.source if line else "",
                    "method": (line.method + (f" ({line.combine})" if line.combine else ""))
                    if line
                    else "",
                    "kind": "masked, dev" if curve.masked else "re-trained, test",
                    "masked": curve.masked,
                    "points": [
                        [int(k), float(v), *spread.get(k, (None, 1))]
                        for k, v in curve.points
                        if math.isfinite(v)
                    ],
                }
            )
    return {"vega": VEGA_VERSION, "contexts": contexts, "curves": out}


def metric_name(metric: str) -> str:
    """The metric as the static figures name it (curves.score_label without the scale)."""
    return curves.METRIC_NAMES.get(metric, metric.replace("_", " "))


def curve_lines(series: Series, curve_set: CurveSet) -> dict[tuple[str, str], Line]:
    """(label, lang) -> the series line a curve was drawn from, for its setting, source
    and method as separate fields."""
    found = {}
    for line in series.lines(curve_set.context):
        retrained = line.kind == "final" and line.split == "test" and line.method
        masked = line.kind == "masked" and line.split == "dev"
        if (retrained or masked) and line.method != "explicit":
            found.setdefault((series_label(line), line.lang), line)
    return found


def spreads(series: Series, line: Line | None) -> dict[int, tuple[float, int]]:
    if line is None:
        return {}
    found = dict(series.spread.get(line, {}))
    if line.kind == "final":  # k=0 of a re-trained curve is the unpruned model's score
        base = Line(line.context, line.setting, line.source, "", "", "final", line.split, line.lang)
        found = {k: v for k, v in found.items() if k > 0}
        if 0 in series.spread.get(base, {}):
            found[0] = series.spread[base][0]
    return found


def json_for_script(data) -> str:
    """JSON that cannot end its <script> element or open a comment in it: <, > and & as
    \\u escapes (valid JSON, and only strings can hold them)."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escape)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def inline_js(code: str) -> str:
    """Script text safe inside <script>...</script>: each '</script' (only possible inside
    a string, regex, template or comment) becomes '<\\/script', same meaning there. A '<!--'
    could still change how the HTML parser ends the element, so it is refused."""
    if "<!--" in code:
        raise ValueError("script text holds '<!--': it cannot be inlined safely")
    return re.sub(r"</(script)", r"<\\/\1", code, flags=re.IGNORECASE)


@functools.lru_cache(maxsize=1)
def library() -> str:
    """Vega's minified build, ready to inline."""
    path = resources.files("xlprune.report").joinpath(VENDOR, LIBRARY)
    return inline_js(path.read_text("utf-8"))


def library_comment() -> str:
    return (
        f"/*! Vega {VEGA_VERSION} (vega.min.js), BSD-3-Clause, Copyright (c) 2015-2023 "
        "University of Washington Interactive Data Lab; bundles d3 modules (ISC, Mike "
        "Bostock; d3-ease BSD-3-Clause), d3-delaunay and delaunator (ISC, Observable, "
        "Mapbox), topojson-client (ISC), robust-predicates (Unlicense). Full texts: "
        f"xlprune/report/{VENDOR}/{LICENSE} in the xlprune package. */"
    )


STYLE = """
.xlp-curves{margin:.5em 0 1em}
.xlp-controls{display:flex;flex-wrap:wrap;gap:.4em 1.4em;font-size:13px;margin:.3em 0 .6em}
.xlp-controls label{white-space:nowrap}.xlp-controls fieldset{border:0;margin:0;padding:0}
.xlp-controls legend{float:left;margin-right:.4em;padding:0;font-weight:600}
.xlp-controls .xlp-pick{font-weight:600;margin-right:.3em}
.xlp-chart{overflow-x:auto}.xlp-chart .xlp-empty{color:#555;font-size:13px}
.xlp-tip{position:fixed;z-index:10;pointer-events:none;background:#fff;border:1px solid #aaa;
border-radius:3px;padding:4px 7px;font-size:12px;box-shadow:0 1px 4px rgba(0,0,0,.2)}
.xlp-tip table{border-collapse:collapse;margin:0}.xlp-tip td{border:0;padding:0 4px}
.xlp-tip td:first-child{color:#555}
"""

# The page's script. Every label, language and name goes into the page as text nodes
# (textContent, option.text, Vega's SVG text), never as markup.
SCRIPT = r"""
(function () {
  "use strict";
  var root = document.currentScript.closest(".xlp-curves");
  var errors = [];
  function note(message) {
    errors.push(String(message));
    root.setAttribute("data-errors", errors.join(" | "));
  }
  window.addEventListener("error", function (e) {
    note(e.message || "script error");
  });
  window.addEventListener("unhandledrejection", function (e) {
    note("unhandled rejection: " + ((e.reason && e.reason.message) || e.reason));
  });
  var FACETS = __FACETS__;
  var data, view = null, state = {ctx: 0, lang: "", off: {},
    show: {reference: true, band: true, fit: false}}, renders = 0;
  var controls = root.querySelector(".xlp-controls");
  var chart = root.querySelector(".xlp-chart");
  var tip = root.querySelector(".xlp-tip");

  function fail(err) {
    note((err && err.message) || err);
    root.setAttribute("data-status", "error");
  }
  function element(tag, text, attrs) {
    var el = document.createElement(tag);
    if (text !== undefined && text !== null) el.textContent = text;
    for (var key in attrs || {}) el.setAttribute(key, attrs[key]);
    return el;
  }
  function unique(values) {
    var seen = [];
    values.forEach(function (v) { if (seen.indexOf(v) < 0) seen.push(v); });
    return seen;
  }
  function select(name, title, options, value, onchange) {
    var label = element("label");
    label.appendChild(element("span", title, {"class": "xlp-pick"}));
    var box = element("select", null, {name: name});
    options.forEach(function (o) {
      var opt = new Option(o[1], o[0]);
      box.appendChild(opt);
    });
    box.value = value;
    box.addEventListener("change", function () { onchange(box.value); });
    label.appendChild(box);
    return label;
  }
  function contextsOf(model, task) {
    var found = [];
    data.contexts.forEach(function (c, i) {
      if ((model === null || c.model === model) && (task === null || c.task === task)) found.push(i);
    });
    return found;
  }
  function pickContext(model, task, index) {
    var found = contextsOf(model, task);
    if (!found.length) found = contextsOf(model, null);
    state.ctx = found.indexOf(index) >= 0 ? index : found[0];
    var langs = data.contexts[state.ctx].langs;
    if (langs.indexOf(state.lang) < 0) state.lang = langs[0];
  }
  function drawControls() {
    var ctx = data.contexts[state.ctx];
    controls.textContent = "";
    var models = unique(data.contexts.map(function (c) { return c.model; }));
    controls.appendChild(select("model", "Model", models.map(function (m) { return [m, m]; }),
      ctx.model, function (m) { change(function () { pickContext(m, ctx.task, -1); }); }));
    var tasks = unique(contextsOf(ctx.model, null).map(function (i) { return data.contexts[i].task; }));
    controls.appendChild(select("task", "Task", tasks.map(function (t) { return [t, t]; }),
      ctx.task, function (t) { change(function () { pickContext(ctx.model, t, -1); }); }));
    var same = contextsOf(ctx.model, ctx.task);
    if (same.length > 1) {
      controls.appendChild(select("context", "Data / variant", same.map(function (i) {
        var c = data.contexts[i];
        return [String(i), [c.data, c.variant].filter(Boolean).join(", ") || "(default)"];
      }), String(state.ctx), function (i) {
        change(function () { pickContext(ctx.model, ctx.task, Number(i)); });
      }));
    }
    controls.appendChild(select("lang", "Target", ctx.langs.map(function (g) { return [g, g]; }),
      state.lang, function (g) { change(function () { state.lang = g; }); }));
    var mine = data.curves.filter(function (c) { return c.ctx === state.ctx; });
    FACETS.forEach(function (facet) {
      var field = facet[0], values = unique(mine.map(function (c) { return c[field]; }));
      if (values.length < 2) return;
      var group = element("fieldset", null, {"data-facet": field});
      group.appendChild(element("legend", facet[1]));
      var off = state.off[field] = state.off[field] || {};
      values.forEach(function (v) {
        var label = element("label");
        var box = element("input", null, {type: "checkbox", name: field});
        box.value = v;
        box.checked = !off[v];
        box.addEventListener("change", function () {
          change(function () { off[v] = !box.checked; });
        });
        label.appendChild(box);
        label.appendChild(document.createTextNode(" " + (v || "(none)")));
        group.appendChild(label);
      });
      controls.appendChild(group);
    });
    var show = element("fieldset", null, {"data-facet": "show"});
    show.appendChild(element("legend", "Show"));
    var spread = mine.some(function (c) { return c.points.some(function (p) { return p[3] > 1; }); });
    [["reference", "unpruned score (dotted)", true], ["band", "mean ± std band", spread],
     ["fit", "y fitted to the curves (else 0-1)", true]].forEach(function (o) {
      if (!o[2]) return;
      var label = element("label");
      var box = element("input", null, {type: "checkbox", name: "show"});
      box.value = o[0];
      box.checked = state.show[o[0]];
      box.addEventListener("change", function () {
        change(function () { state.show[o[0]] = box.checked; });
      });
      label.appendChild(box);
      label.appendChild(document.createTextNode(" " + o[1]));
      show.appendChild(label);
    });
    controls.appendChild(show);
  }
  function change(update) {
    root.setAttribute("data-status", "rendering");
    try {
      update();
      drawControls();
      render();
    } catch (err) {
      fail(err);
    }
  }
  function shownCurves() {
    return data.curves.filter(function (c) {
      return c.ctx === state.ctx && c.lang === state.lang && FACETS.every(function (f) {
        return !(state.off[f[0]] || {})[c[f[0]]];
      });
    });
  }
  function number(v, digits) {
    return v === null || v === undefined ? "" : v.toFixed(digits);
  }
  function tipFor(ctx, c, p) {
    var rows = [["curve", c.label], ["target", c.lang],
      ["heads removed", String(p[0]) + (p[0] === 0 && !c.masked ? " (unpruned model)" : "")],
      [ctx.metricName, number(p[1], 4)]];
    if (p[3] > 1) rows.push(["std", number(p[2], 4) + " (mean of " + p[3] + " runs)"]);
    return rows;
  }
  function showTip(handler, event, item, value) {
    if (!value || !event) { tip.hidden = true; return; }
    tip.textContent = "";
    var table = element("table");
    value.forEach(function (row) {
      var tr = element("tr");
      tr.appendChild(element("td", row[0]));
      tr.appendChild(element("td", row[1]));
      table.appendChild(tr);
    });
    tip.appendChild(table);
    tip.hidden = false;
    var x = event.clientX + 14, y = event.clientY + 14;
    var w = tip.offsetWidth, h = tip.offsetHeight;
    if (x + w > window.innerWidth) x = Math.max(0, event.clientX - w - 14);
    if (y + h > window.innerHeight) y = Math.max(0, event.clientY - h - 14);
    tip.style.left = x + "px";
    tip.style.top = y + "px";
  }
  function picked(dim) {
    return {signal: "!length(data('picked')) || indata('picked', 'value', datum.label) ? 1 : " + dim};
  }
  function limits(values, low, high, pad) {
    var lo = Math.min.apply(null, values.concat(low)), hi = Math.max.apply(null, values.concat(high));
    var room = pad(hi - lo);
    return [lo - room, hi + room];
  }
  function spec(ctx, shown, points) {
    var labels = ctx.labels;
    var shownLabels = unique(shown.map(function (c) { return c.label; }));
    shownLabels.sort(function (a, b) { return labels.indexOf(a) - labels.indexOf(b); });
    var scores = [];
    points.forEach(function (p) {
      scores.push(p.y);
      if (p.lo !== null && state.show.band) scores.push(p.lo, p.hi);
    });
    // the whole 0-1 scale like the static figures, or fitted to what is shown
    var fit = state.show.fit;
    var yDomain = fit ? limits(scores, [], [], function (r) { return Math.max(0.05 * r, 0.005); })
      : limits(scores, [0], [1], function (r) { return 0.02 * r; });
    var xDomain = limits(points.map(function (p) { return p.k; }), [], [],
      function (r) { return Math.max(0.5, 0.03 * r); });
    var curveMarks = [];
    if (state.show.band) {
      curveMarks.push(
        {type: "area", name: "band", from: {data: "series"}, interactive: false,
          encode: {update: {x: {scale: "x", field: "k"}, y: {scale: "y", field: "lo"},
            y2: {scale: "y", field: "hi"}, defined: {signal: "datum.lo !== null && !datum.alone"},
            fill: {scale: "color", field: "label"}, fillOpacity: {value: 0.15}, opacity: picked(0.1)}}},
        {type: "rect", name: "bandbox", from: {data: "alone"}, interactive: false,
          encode: {update: {x: {scale: "x", signal: "datum.k - 0.2"}, x2: {scale: "x", signal: "datum.k + 0.2"},
            y: {scale: "y", field: "lo"}, y2: {scale: "y", field: "hi"},
            fill: {scale: "color", field: "label"}, fillOpacity: {value: 0.15}, opacity: picked(0.1)}}});
    }
    if (state.show.reference) {
      curveMarks.push({type: "rule", name: "unpruned", from: {data: "base"}, interactive: false,
        encode: {update: {x: {value: 0}, x2: {signal: "width"}, y: {scale: "y", field: "y"},
          stroke: {scale: "color", field: "label"}, strokeDash: {value: [1, 3]}, strokeWidth: {value: 1},
          opacity: picked(0.1)}}});
    }
    curveMarks.push({type: "line", name: "curve", from: {data: "series"}, interactive: false,
      encode: {update: {
        x: {scale: "x", field: "k"}, y: {scale: "y", field: "y"},
        stroke: {scale: "color", field: "label"}, strokeDash: {scale: "dash", field: "label"},
        strokeWidth: {value: 1.8}, opacity: picked(0.12)}}});
    return {
      $schema: "https://vega.github.io/schema/vega/v6.json",
      width: Math.max(320, Math.min(820, chart.clientWidth - 380)),
      height: Math.max(340, 18 * shownLabels.length), padding: 8, autosize: "pad",
      title: {text: ctx.title + ", target " + state.lang, subtitle: ctx.seeds || undefined,
        anchor: "start", fontSize: 13},
      data: [
        {name: "points", values: points},
        {name: "picked", on: [{trigger: "clicked", toggle: "clicked"}]}
      ],
      signals: [
        {name: "clicked", value: null, on: [{events: "@legendSymbol:click, @legendLabel:click",
          update: "{value: datum.value}", force: true}]},
        {name: "hover", value: null, on: [
          {events: "@cell:mouseover", update: "datum.datum"},
          {events: "@cell:mouseout", update: "null"}]}
      ],
      scales: [
        {name: "x", type: "linear", domain: xDomain, range: "width", zero: false, nice: false},
        {name: "y", type: "linear", domain: yDomain, range: "height", zero: false, nice: fit},
        {name: "color", type: "ordinal", domain: labels,
          range: {scheme: labels.length <= 10 ? "category10" : "category20"}},
        {name: "dash", type: "ordinal", domain: labels, range: labels.map(function (l) {
          return ctx.masked.indexOf(l) >= 0 ? [6, 4] : [1, 0];
        })}
      ],
      axes: [
        {orient: "bottom", scale: "x", title: ctx.kLabel, tickMinStep: 1, format: "d",
          grid: true, gridOpacity: 0.3},
        {orient: "left", scale: "y", title: ctx.metricName + " (0-1)", tickCount: 10,
          grid: true, gridOpacity: 0.3}
      ],
      legends: [{stroke: "color", strokeDash: "dash", symbolType: "stroke", values: shownLabels,
        title: "curve (click to pick out)", labelLimit: 420, symbolStrokeWidth: 2,
        encode: {
          symbols: {name: "legendSymbol", interactive: true,
            update: {opacity: {signal: "!length(data('picked')) || indata('picked', 'value', datum.value) ? 1 : 0.25"}}},
          labels: {name: "legendLabel", interactive: true,
            update: {opacity: {signal: "!length(data('picked')) || indata('picked', 'value', datum.value) ? 1 : 0.35"}}}
        }}],
      marks: [
        {type: "group", name: "byCurve",
          from: {facet: {name: "series", data: "points", groupby: "c"}},
          data: [
            {name: "base", source: "series", transform: [{type: "filter", expr: "datum.k === 0"}]},
            {name: "alone", source: "series", transform: [{type: "filter", expr: "datum.alone"}]}
          ],
          marks: curveMarks},
        {type: "symbol", name: "point", from: {data: "points"},
          encode: {update: {
            x: {scale: "x", field: "k"}, y: {scale: "y", field: "y"},
            fill: {signal: "datum.masked ? 'white' : scale('color', datum.label)"},
            stroke: {scale: "color", field: "label"}, strokeWidth: {value: 1.3},
            size: {signal: "hover && hover.id === datum.id ? 120 : 36"},
            opacity: picked(0.12)
          }}},
        {type: "path", name: "cell", from: {data: "point"},
          encode: {update: {fill: {value: "transparent"}, strokeWidth: {value: 0},
            tooltip: {signal: "datum.datum.tip"}}},
          transform: [{type: "voronoi", x: "datum.x", y: "datum.y",
            size: [{signal: "width"}, {signal: "height"}]}]}
      ]
    };
  }
  function render() {
    var ctx = data.contexts[state.ctx];
    var shown = shownCurves(), points = [], id = 0;
    shown.forEach(function (c, i) {
      var has = c.points.map(function (p) { return p[3] > 1 && p[2] !== null; });
      c.points.forEach(function (p, j) {
        var sd = has[j] ? p[2] : null;
        points.push({id: id++, c: i, label: c.label, masked: c.masked, k: p[0], y: p[1],
          lo: sd === null ? null : p[1] - sd, hi: sd === null ? null : p[1] + sd,
          alone: sd !== null && !has[j - 1] && !has[j + 1], tip: tipFor(ctx, c, p)});
      });
    });
    points.forEach(function (p) {  // coinciding points: the hover names all of them
      var same = points.filter(function (q) {
        return q !== p && q.k === p.k && Math.abs(q.y - p.y) < 5e-5;
      });
      if (same.length) p.tip = p.tip.concat([["same score", same.map(function (q) {
        return q.label; }).join("; ")]]);
    });
    var mine = renders += 1;
    root.setAttribute("data-curves-shown", shown.length);
    root.setAttribute("data-points-shown", points.length);
    root.setAttribute("data-selection", JSON.stringify({context: ctx.title, lang: state.lang}));
    tip.hidden = true;
    if (view) { view.finalize(); view = null; }
    chart.textContent = "";
    if (!shown.length) {
      chart.appendChild(element("p", "No curve for this choice: switch a setting, source, " +
        "ranking or kind of curve back on.", {"class": "xlp-empty"}));
      finish();
      return;
    }
    view = new vega.View(vega.parse(spec(ctx, shown, points)), {
      renderer: "svg", container: chart, hover: true
    });
    view.tooltip(showTip);
    view.runAsync().then(function () {
      if (mine === renders) finish();
    }).catch(fail);
  }
  function count(selector) {
    return Array.prototype.filter.call(chart.querySelectorAll(selector), function (el) {
      return el.tagName !== "path" || (el.getAttribute("d") || "").length > 1;
    }).length;
  }
  function finish() {
    root.setAttribute("data-curves-drawn", count("g.curve > path"));
    root.setAttribute("data-points-drawn", count("g.point > path"));
    root.setAttribute("data-references-drawn", count("g.unpruned > line"));
    root.setAttribute("data-bands-drawn", count("g.band > path") + count("g.bandbox > path"));
    root.setAttribute("data-renders", renders);
    root.setAttribute("data-status", "ready");
  }
  function start() {
    try {
      data = JSON.parse(root.querySelector("script.xlp-data").textContent);
      root.setAttribute("data-curves-total", data.curves.length);
      if (typeof vega === "undefined" || !vega.View) throw new Error("Vega did not load");
      root.setAttribute("data-vega", vega.version);
      pickContext(data.contexts[0].model, data.contexts[0].task, 0);
      change(function () {});
    } catch (err) {
      fail(err);
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
""".replace("__FACETS__", json.dumps(FACETS))
