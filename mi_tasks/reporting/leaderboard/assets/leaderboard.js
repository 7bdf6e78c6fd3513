/* The leaderboard page: a table that renders only the rows in view (sort, search, hide columns, ± errors,
   ranks), each column explained, the view kept in the URL, downloads of the view, details and layer-wise curves
   loaded per model (models/<n>.js) when asked for. Every value from a submission goes into the page as a text
   node (textContent, SVG text), never as markup. */
(function () {
  "use strict";
  var SVGNS = "http://www.w3.org/2000/svg";
  var board = window.MI_BOARD || {columns: [], models: []};
  var cols = board.columns, models = board.models;
  var timings = window.MI_BOARD_TIMINGS = {};
  var $ = function (id) { return document.getElementById(id); };
  var phone = window.matchMedia("(max-width: 640px)");
  var wrap = $("table-wrap"), table = $("board"), thead = table.tHead, tbody = table.tBodies[0];
  var state = {sort: null, dir: -1, q: "", hide: {}, tick: [], se: false, curve: null};
  // scrollY mirrors the table box's scrollTop: reading it back after a change would make the browser lay out mid-handler
  var view = [], rowH = 0, headH = 0, viewH = 0, scrollY = 0, focusIdx = null, returnFocus = null, urlPending = false;
  var details = {}, pending = {}, byId = {};
  models.forEach(function (m, i) { byId[m.id] = i; });

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  function fmt(v) {
    if (v === null || v === undefined) return "–";
    var a = Math.abs(v);
    return a >= 1000 ? v.toFixed(0) : a >= 100 ? v.toFixed(1) : a === 0 ? "0" : v.toPrecision(3);
  }
  function fmtSE(v, e) {  // the error to one significant digit, the value to the same decimals
    if (e === null || e === undefined || !(e > 0)) return fmt(v);
    var d = Math.max(0, Math.min(8, -Math.floor(Math.log10(e))));
    return v.toFixed(d) + " ± " + e.toFixed(d);
  }
  function colKey(c) { return c.task + "/" + c.metric; }
  function arrow(c) { return c.higher_is_better === true ? "↑" : c.higher_is_better === false ? "↓" : ""; }
  function direction(c) {
    return c.higher_is_better === true ? "↑ higher is better" : c.higher_is_better === false ? "↓ lower is better"
      : "direction not recorded (not ranked)";
  }
  function explain(c) {
    var lines = [c.metric + (c.tasks.length > 1 ? " (" + c.tasks.join(", ") + ": the same values, shown once)" : " (" + c.task + ")")];
    lines.push(c.definition || (c.standard ? "the task's own score, as lm-eval reports it" : "no definition recorded"));
    lines.push("unit: " + (c.unit || (c.standard ? "as lm-eval reports it" : "none")) + " · " + direction(c));
    lines.push(c.standard ? "one value per run (no layers)" : "value at the headline layer (headline_layer; default the last layer)");
    var s = Object.keys(c.settings || {}).map(function (k) { return k + "=" + c.settings[k]; });
    if (s.length) lines.push("settings: " + s.join(", "));
    return lines.join("\n");
  }
  function status(m, i) { return m.v[i] === null ? 2 : m.f[i] ? 1 : 0; }  // 0 a value that stands, 1 flagged, 2 missing
  function why(m, i, c) {
    if (m.v[i] === null) return "no value: " + m.label + " has no " + c.metric + " of " + c.tasks.join(" or ") + " on this board (not ranked, sorts last)";
    return m.f[i] + " (not ranked, sorts last)";
  }
  function hue(id) {  // a colour per model from its id: the same on every metric and every build
    var h = 2166136261;
    for (var k = 0; k < id.length; k++) { h ^= id.charCodeAt(k); h = Math.imul(h, 16777619); }
    return "hsl(" + ((h >>> 0) % 360) + ", 70%, " + (35 + ((h >>> 9) % 3) * 7) + "%)";
  }

  /* ---- the view in the URL ---- */
  function readURL() {
    var p = new URLSearchParams(location.hash.replace(/^#/, "")), keys = cols.map(colKey);
    var sort = p.get("sort");
    if (sort === "model") state.sort = "model";
    else if (sort !== null && keys.indexOf(sort) >= 0) state.sort = keys.indexOf(sort);
    if (p.get("dir")) state.dir = p.get("dir") === "asc" ? 1 : -1;
    state.q = p.get("q") || "";
    p.getAll("hide").forEach(function (k) { if (keys.indexOf(k) >= 0) state.hide[keys.indexOf(k)] = true; });
    state.tick = p.getAll("tick").filter(function (id) { return id in byId; }).map(function (id) { return byId[id]; });
    state.se = p.get("se") === "1";
    if (p.get("curve") && keys.indexOf(p.get("curve")) >= 0) state.curve = keys.indexOf(p.get("curve"));
  }
  function writeURL() {  // after the next frame: the address bar is not on the way to what the reader sees
    if (urlPending) return;
    urlPending = true;
    requestAnimationFrame(function () { setTimeout(function () { urlPending = false; saveURL(); }, 0); });
  }
  function saveURL() {
    var p = new URLSearchParams();
    if (state.sort !== null) { p.set("sort", state.sort === "model" ? "model" : colKey(cols[state.sort])); p.set("dir", state.dir > 0 ? "asc" : "desc"); }
    if (state.q) p.set("q", state.q);
    Object.keys(state.hide).forEach(function (i) { p.append("hide", colKey(cols[+i])); });
    state.tick.forEach(function (i) { p.append("tick", models[i].id); });
    if (state.se) p.set("se", "1");
    if (state.curve !== null) p.set("curve", colKey(cols[state.curve]));
    try { history.replaceState(null, "", "#" + p.toString()); } catch (e) { /* a page the browser will not let us address */ }
  }

  /* ---- order and search ---- */
  function order() {
    var col = state.sort, dir = state.dir, idx = models.map(function (_, i) { return i; });
    var byName = function (a, b) { var x = models[a].label.toLowerCase(), y = models[b].label.toLowerCase(); return x < y ? -1 : x > y ? 1 : a - b; };
    if (col === null) return idx;
    if (col === "model") return idx.sort(function (a, b) { return dir * byName(a, b); });
    return idx.sort(function (a, b) {
      var sa = status(models[a], col), sb = status(models[b], col);
      if (sa !== sb) return sa - sb;
      if (sa === 0) { var x = models[a].v[col], y = models[b].v[col]; if (x !== y) return x < y ? -dir : dir; }
      return byName(a, b);
    });
  }
  function matcher(q) {  // every space-separated term must match; a term's |-alternatives any one
    var terms = q.toLowerCase().split(/\s+/).filter(Boolean).map(function (t) { return t.split("|").filter(Boolean); });
    return function (m) { return terms.every(function (alts) { return !alts.length || alts.some(function (a) { return m.find.indexOf(a) >= 0; }); }); };
  }
  function refresh() {
    var t = performance.now(), ok = matcher(state.q);
    view = order().filter(function (i) { return ok(models[i]); });
    $("shown").textContent = view.length + " of " + models.length + " models shown";
    renderRows();
    writeURL();
    return performance.now() - t;
  }

  /* ---- header, rows ---- */
  function shownCols() { return cols.map(function (_, i) { return i; }).filter(function (i) { return !state.hide[i]; }); }
  function colgroup(shown) {  // fixed column widths: the browser lays out the table without measuring every cell
    var old = table.querySelector("colgroup"), group = el("colgroup"), total = 0;
    if (old) old.remove();
    var add = function (cls, rem) { var c = el("col", null, cls); if (rem) { c.style.width = rem + "rem"; total += rem; } group.appendChild(c); };
    add("model", 0);
    // wide enough for the metric's name, "0.000 ± 0.000" when errors are shown, and its task's name over the group
    var width = shown.map(function (i) { return Math.max(state.se ? 9 : 6.5, Math.min(16, cols[i].metric.length * 0.62 + 2)); });
    var start = 0;
    shown.forEach(function (i, n) {
      var group = cols[i].tasks.join(" = ");
      if (n + 1 < shown.length && cols[shown[n + 1]].tasks.join(" = ") === group) return;
      var have = 0, need = phone.matches ? 0 : Math.min(24, group.length * 0.62 + 1.5);  // a phone: scores first
      for (var k = start; k <= n; k++) have += width[k];
      for (k = start; k <= n; k++) width[k] += Math.max(0, need - have) / (n + 1 - start);
      start = n + 1;
    });
    shown.forEach(function (i, n) { add("metric", Math.round(width[n] * 10) / 10); });
    add("revision", 5.5);
    add("dtype", 9);
    table.insertBefore(group, thead);
    table.style.width = "calc(" + total + "rem + var(--model-width))";
  }
  function header() {
    thead.textContent = "";
    colgroup(shownCols());
    var top = el("tr", null, "groups"), bottom = el("tr", null, "metrics"), shown = shownCols();
    top.appendChild(el("th", "", "model corner"));
    var mth = el("th", null, "model sortable");
    mth.dataset.col = "model";
    var mb = el("button", "model", "sort");
    mb.type = "button";
    mb.title = "sort by model name";
    mth.appendChild(mb);
    bottom.appendChild(mth);
    var last = null;
    shown.forEach(function (i, n) {
      var c = cols[i], group = c.tasks.join(" = ");
      if (!last || last.group !== group) { last = {group: group, n: 0, th: el("th", group, "group" + (c.standard ? " standard" : ""))}; top.appendChild(last.th); }
      last.n += 1;
      last.th.colSpan = last.n;
      var th = el("th", null, "sortable" + (last.n === 1 ? " first-of-task" : "") + (c.standard ? " standard" : ""));
      th.dataset.col = String(i);
      var b = el("button", null, "sort");
      b.type = "button";
      b.title = explain(c);
      b.appendChild(el("span", c.metric + (arrow(c) ? " " + arrow(c) : ""), "name"));
      b.appendChild(el("span", c.unit || (c.standard ? "score" : ""), "unit"));
      th.appendChild(b);
      bottom.appendChild(th);
    });
    var run = el("th", "run", "group");
    run.colSpan = 2;
    top.appendChild(run);
    bottom.appendChild(el("th", "revision", "plain"));
    bottom.appendChild(el("th", "dtype", "plain"));
    thead.appendChild(top);
    thead.appendChild(bottom);
    markSort();
    var h = top.getBoundingClientRect().height;
    Array.prototype.forEach.call(bottom.cells, function (th) { th.style.top = h + "px"; });
    headH = thead.getBoundingClientRect().height;
  }
  function markSort() {
    Array.prototype.forEach.call(thead.querySelectorAll("th.sortable"), function (th) {
      var on = String(state.sort) === th.dataset.col;
      th.setAttribute("aria-sort", on ? (state.dir > 0 ? "ascending" : "descending") : "none");
    });
  }
  function sortBy(col) {
    var t = performance.now();
    col = col === "model" ? "model" : +col;
    if (state.sort === col) state.dir = -state.dir;
    else { state.sort = col; state.dir = col === "model" ? 1 : cols[col].higher_is_better === false ? 1 : -1; }
    toTop();
    markSort();
    refresh();
    timings.sort_ms = performance.now() - t;
  }

  function toTop() { if (scrollY) { wrap.scrollTop = 0; scrollY = 0; } }
  function cell(m, i) {
    var c = cols[i], v = m.v[i], st = status(m, i), f = m.f[i];
    var text = v === null ? "–" : (state.se ? fmtSE(v, m.e[i]) : fmt(v)) + (f ? (f.indexOf("vacuous") === 0 ? " ‡" : " †") : "");
    var td = el("td", text), cls = [];
    if (st === 2) cls.push("missing");
    if (st === 1) cls.push("flagged");
    if (st === 0 && m.r[i] === 1) cls.push("best");
    if (c.standard) cls.push("standard");
    td.className = cls.join(" ");
    td.dataset.col = String(i);
    if (st) td.title = why(m, i, c);
    else {
      td.title = c.metric + " of " + m.label + " = " + (m.e[i] !== null ? v + " ± " + m.e[i] + " (one standard error)" : v + " (no standard error recorded)") +
        (c.unit ? " " + c.unit : "") + (m.h[i] ? "\nat the headline layer, layer " + m.h[i] : "") +
        (m.r[i] ? "\nrank " + m.r[i] + (m.r[i] === 1 ? " (best, or tied with it within the errors)" : "") + "; " + direction(c) : "");
    }
    return td;
  }
  function row(idx) {
    var m = models[idx], tr = el("tr", null, "m" + (state.tick.indexOf(idx) >= 0 ? " selected" : ""));
    tr.dataset.idx = String(idx);
    tr.tabIndex = 0;
    // the tick box and the details button are ARIA roles on spans: form controls cost a fifth of a sort's frame
    var td = el("td", null, "model"), inner = el("div", null, "cell"), box = el("span", null, "select");
    box.setAttribute("role", "checkbox");
    box.tabIndex = -1;
    box.setAttribute("aria-checked", String(state.tick.indexOf(idx) >= 0));
    box.setAttribute("aria-label", "overlay the curves of " + m.label);
    inner.appendChild(box);
    var name = el("span", null, "name"), label;
    if (m.hub) {
      label = el("a", m.label, "label");
      label.href = "https://huggingface.co/" + m.path;
      label.rel = "noopener noreferrer";
      label.title = "open " + m.path + " on the Hugging Face hub";
    } else label = el("span", m.label, "label");
    label.tabIndex = -1;
    name.appendChild(label);
    name.appendChild(el("span", m.path, "path"));
    inner.appendChild(name);
    var info = el("span", "i", "info");
    info.setAttribute("role", "button");
    info.tabIndex = -1;
    info.title = "details: provenance of " + m.label;
    inner.appendChild(info);
    td.appendChild(inner);
    td.title = m.label + " · " + m.path + " · revision " + m.revision;
    tr.appendChild(td);
    shownCols().forEach(function (i) { tr.appendChild(cell(m, i)); });
    tr.appendChild(el("td", m.revision, "plain"));
    tr.appendChild(el("td", m.dtype, "plain"));
    return tr;
  }
  function spacer(h, n) {
    var tr = el("tr", null, "spacer"), td = el("td");
    td.colSpan = n;
    tr.appendChild(td);
    td.style.height = h + "px";
    tr.setAttribute("aria-hidden", "true");
    return tr;
  }
  function renderRows() {
    if (!view.length) {
      tbody.textContent = "";
      tbody.appendChild(el("tr")).appendChild(el("td", "No model matches the search.", "none")).colSpan = shownCols().length + 3;
      return;
    }
    var had = tbody.contains(document.activeElement), n = shownCols().length + 3;
    if (!rowH && view.length) { tbody.textContent = ""; tbody.appendChild(row(view[0])); rowH = tbody.rows[0].getBoundingClientRect().height || 32; }
    // the rows in view and two either side; the box's height is measured once (and on resize), never in a handler
    if (!viewH) viewH = parseFloat(getComputedStyle(wrap).maxHeight) || window.innerHeight;
    var first = Math.floor(Math.max(0, scrollY - headH) / rowH);
    var start = Math.max(0, first - 2), end = Math.min(view.length, first + Math.ceil(viewH / rowH) + 2);
    var frag = document.createDocumentFragment();
    frag.appendChild(spacer(start * rowH, n));
    for (var k = start; k < end; k++) frag.appendChild(row(view[k]));
    frag.appendChild(spacer((view.length - end) * rowH, n));
    tbody.textContent = "";
    tbody.appendChild(frag);
    if (had && focusIdx !== null) { var tr = tbody.querySelector('tr[data-idx="' + focusIdx + '"]'); if (tr) tr.focus({preventScroll: true}); }
  }
  function showRow(idx) {  // scroll the row into the table's view, render, focus it
    var pos = view.indexOf(idx);
    if (pos < 0) return;
    var y = headH + pos * rowH;
    scrollY = wrap.scrollTop;
    if (y < scrollY + headH) wrap.scrollTop = y - headH;
    else if (y + rowH > scrollY + wrap.clientHeight) wrap.scrollTop = y + rowH - wrap.clientHeight;
    scrollY = wrap.scrollTop;
    focusIdx = idx;
    renderRows();
    var tr = tbody.querySelector('tr[data-idx="' + idx + '"]');
    if (tr) tr.focus({preventScroll: true});
  }

  /* ---- details and curves, loaded per model ---- */
  window.MI_BOARD_MODEL = function (i, d) {
    var unscale = function (s) { var f = Math.pow(10, s.d); return s.i.map(function (v) { return v === null ? null : v / f; }); };
    Object.keys(d.curves).forEach(function (k) {  // values as integers over 10^d; layers 0..n at depth l/n as n alone
      var c = d.curves[k];
      c.value = unscale(c.value);
      if (c.stderr) c.stderr = unscale(c.stderr);
      if (c.n !== undefined) {
        c.layer = c.value.map(function (_, l) { return l; });
        c.depth = c.layer.map(function (l) { return l / c.n; });
      }
    });
    details[i] = d;
    (pending[i] || []).forEach(function (f) { f(); });
    delete pending[i];
  };
  function load(i, then) {
    if (details[i]) { then(); return; }
    if (pending[i]) { pending[i].push(then); return; }
    pending[i] = [then];
    var s = document.createElement("script");
    s.src = "models/" + i + ".js";
    s.onerror = function () { window.MI_BOARD_MODEL(i, {curves: {}, provenance: {common: {}, tasks: []}, missing: true}); };
    document.body.appendChild(s);
  }
  function openDetails(i) {
    var m = models[i], box = $("provenance"), body = $("provenance-body"), link = $("provenance-link");
    returnFocus = i;
    $("provenance-model").textContent = m.label;
    link.textContent = "";
    if (m.hub) {
      var a = el("a", "huggingface.co/" + m.path);
      a.href = "https://huggingface.co/" + m.path;
      a.rel = "noopener noreferrer";
      link.appendChild(document.createTextNode("Model page: "));
      link.appendChild(a);
    } else link.textContent = "Model: " + m.path + " (not a hub id)";
    body.textContent = "loading…";
    box.hidden = false;
    load(i, function () {
      body.textContent = "";
      if (details[i].missing) body.textContent = "This model's details file (models/" + i + ".js) is missing: rebuild the site.";
      var p = details[i].provenance, common = Object.keys(p.common);
      if (common.length) fields(body, "every task of this run", p.common);
      p.tasks.forEach(function (part) { fields(body, part[0], part[1]); });
    });
    box.scrollIntoView({block: "nearest"});
    $("provenance-title").focus();
  }
  function fields(body, title, obj) {
    body.appendChild(el("h3", title));
    var t = el("table"), tb = el("tbody");
    Object.keys(obj).forEach(function (k) {
      var v = obj[k], tr = el("tr");
      tr.appendChild(el("th", k));
      tr.appendChild(el("td", typeof v === "string" ? v : JSON.stringify(v)));
      tb.appendChild(tr);
    });
    t.appendChild(tb);
    body.appendChild(t);
  }
  function closeDetails() {
    $("provenance").hidden = true;
    if (returnFocus !== null) { var i = returnFocus; returnFocus = null; showRow(i); }
  }
  function tick(i, on) {
    state.tick = state.tick.filter(function (j) { return j !== i; });
    if (on) state.tick.push(i);
    var tr = tbody.querySelector('tr[data-idx="' + i + '"]');
    if (tr) { tr.classList.toggle("selected", on); tr.querySelector(".select").setAttribute("aria-checked", String(on)); }
    writeURL();
    chart();
  }
  function metricChooser() {
    var sel = $("curve-metric"), has = {};
    models.forEach(function (m) { m.c.forEach(function (i) { has[i] = true; }); });
    cols.forEach(function (c, i) {
      if (!has[i]) return;
      var o = el("option", c.tasks.join(" = ") + " · " + c.metric + (c.unit ? " (" + c.unit + ")" : ""));
      o.value = String(i);
      sel.appendChild(o);
    });
    if (state.curve !== null && has[state.curve]) sel.value = String(state.curve);
    state.curve = sel.value === "" ? null : +sel.value;
    sel.addEventListener("change", function () { state.curve = +sel.value; writeURL(); chart(); });
  }
  function chart() {
    var box = $("chart"), note = $("chart-note"), col = state.curve;
    var waiting = state.tick.filter(function (i) { return !details[i]; });
    waiting.forEach(function (i) { load(i, chart); });
    box.textContent = "";
    note.textContent = "";
    if (waiting.length) { box.appendChild(el("p", "loading the curves…", "hint")); return; }
    var series = [], without = [];
    state.tick.forEach(function (i) {
      var cv = col !== null && details[i].curves[col];
      if (cv) series.push({m: models[i], c: cv}); else without.push(models[i].label);
    });
    if (without.length) note.textContent = "No " + (col !== null ? cols[col].metric : "") + " curve on this board for: " + without.join(", ") + ".";
    if (!series.length) { box.appendChild(el("p", state.tick.length ? "The ticked models have no curve of this metric." : "Tick models in the table to see their curves.", "hint")); return; }
    draw(box, series, cols[col]);
  }
  function draw(box, series, c) {
    var W = 760, H = 360, L = 70, R = 210, T = 16, B = 42, lo = Infinity, hi = -Infinity;
    series.forEach(function (s) {
      s.c.value.forEach(function (v, k) {
        if (v === null) return;
        var e = s.c.stderr ? (s.c.stderr[k] || 0) : 0;
        lo = Math.min(lo, v - e); hi = Math.max(hi, v + e);
      });
    });
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    if (hi === lo) { hi += 0.5; lo -= 0.5; }
    var pad = (hi - lo) * 0.05; lo -= pad; hi += pad;
    var x = function (d) { return L + d * (W - L - R); }, y = function (v) { return T + (hi - v) / (hi - lo) * (H - T - B); };
    var root = svg("svg", {viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img"});
    root.appendChild(svg("title", {}, c.metric + " by normalised depth"));
    for (var k = 0; k <= 4; k++) {
      var d = k / 4, v = lo + (hi - lo) * k / 4;
      root.appendChild(svg("line", {x1: x(d), x2: x(d), y1: T, y2: H - B, "class": "grid"}));
      root.appendChild(svg("line", {x1: L, x2: W - R, y1: y(v), y2: y(v), "class": "grid"}));
      root.appendChild(svg("text", {x: x(d), y: H - B + 16, "text-anchor": "middle"}, d.toFixed(2)));
      root.appendChild(svg("text", {x: L - 6, y: y(v) + 4, "text-anchor": "end"}, fmt(v)));
    }
    root.appendChild(svg("line", {x1: L, x2: W - R, y1: H - B, y2: H - B, "class": "axis"}));
    root.appendChild(svg("line", {x1: L, x2: L, y1: T, y2: H - B, "class": "axis"}));
    root.appendChild(svg("text", {x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle"}, "normalised depth (layer / layers)"));
    var yl = (T + H - B) / 2;
    root.appendChild(svg("text", {x: 14, y: yl, "text-anchor": "middle", transform: "rotate(-90 14 " + yl + ")", "class": "y-unit"},
                         c.metric + (c.unit ? " (" + c.unit + ")" : "") + " " + arrow(c)));
    series.forEach(function (s, n) { curve(root, s, n, c, x, y, W - R); });
    box.appendChild(root);
  }
  function curve(root, s, n, c, x, y, right) {
    var color = hue(s.m.id), pts = [], up = [], down = [], dots = [];
    s.c.depth.forEach(function (d, k) {
      var v = s.c.value[k];
      if (v === null || d === null) return;
      pts.push(x(d).toFixed(1) + "," + y(v).toFixed(1));
      var e = s.c.stderr ? s.c.stderr[k] : null;
      if (e !== null && e !== undefined) {
        up.push(x(d).toFixed(1) + "," + y(v + e).toFixed(1));
        down.unshift(x(d).toFixed(1) + "," + y(v - e).toFixed(1));
      }
      dots.push({x: x(d), y: y(v), head: s.c.layer[k] === s.c.headline,
                 text: s.m.label + " · layer " + s.c.layer[k] + " (depth " + d.toFixed(2) + "): " + fmtSE(v, e) + (c.unit ? " " + c.unit : "") +
                       (s.c.layer[k] === s.c.headline ? " · headline layer" : "")});
    });
    if (up.length > 1) root.appendChild(svg("polygon", {points: up.concat(down).join(" "), fill: color, "fill-opacity": 0.16, "class": "band"}));
    root.appendChild(svg("polyline", {points: pts.join(" "), fill: "none", stroke: color, "stroke-width": 2, "class": "curve", "data-model": s.m.id}));
    dots.forEach(function (p) {
      var g = p.head ? svg("path", {d: "M" + p.x + " " + (p.y - 7) + "l7 7l-7 7l-7 -7z", fill: color, stroke: "#fff", "class": "headline-marker"})
                     : svg("circle", {cx: p.x, cy: p.y, r: 3.5, fill: color, "class": "point"});
      g.appendChild(svg("title", {}, p.text));
      root.appendChild(g);
    });
    var ly = 30 + n * 18;
    root.appendChild(svg("line", {x1: right + 12, x2: right + 32, y1: ly - 4, y2: ly - 4, stroke: color, "stroke-width": 3}));
    root.appendChild(svg("text", {x: right + 38, y: ly, "class": "legend-label"}, s.m.label));
  }

  /* ---- legend, columns, downloads ---- */
  function legend() {
    var dl = $("legend-list");
    cols.forEach(function (c) {
      dl.appendChild(el("dt", c.tasks.join(" = ") + " · " + c.metric + " " + arrow(c) + (c.unit ? " (" + c.unit + ")" : "")));
      dl.appendChild(el("dd", explain(c).split("\n").slice(1).join(". ")));
    });
  }
  function columnChooser() {
    var list = $("column-list");
    cols.forEach(function (c, i) {
      var lab = el("label"), box = el("input");
      box.type = "checkbox";
      box.checked = !state.hide[i];
      box.dataset.col = String(i);
      box.addEventListener("change", function () {
        if (box.checked) delete state.hide[i]; else state.hide[i] = true;
        header();
        refresh();
      });
      lab.appendChild(box);
      lab.appendChild(document.createTextNode(" " + c.tasks.join(" = ") + " · " + c.metric));
      list.appendChild(lab);
    });
  }
  function viewRecords(whole) {
    var shown = whole ? cols.map(function (_, j) { return j; }) : shownCols();
    return (whole ? models.map(function (_, i) { return i; }) : view).map(function (i) {
      var m = models[i], values = {};
      shown.forEach(function (j) {
        values[colKey(cols[j])] = {value: m.v[j], stderr: m.e[j], rank: m.r[j], flag: m.f[j] || null};
      });
      return {model: m.label, model_path: m.path, model_id: m.id, revision: m.revision, dtype: m.dtype, values: values};
    });
  }
  function csvText(whole) {
    var shown = whole ? cols.map(function (_, j) { return j; }) : shownCols(), head = ["model", "model_path", "revision", "dtype"];
    shown.forEach(function (j) { var k = colKey(cols[j]); head.push(k, k + "_stderr", k + "_rank", k + "_flag"); });
    var q = function (v) {  // a text that a spreadsheet would run as a formula (=, +, -, @) gets a leading '
      if (typeof v === "string" && /^[=+\-@\t\r]/.test(v)) v = "'" + v;
      v = v === null || v === undefined ? "" : String(v);
      return /[",\n\r]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v;
    };
    var lines = [head.map(q).join(",")];
    (whole ? models.map(function (_, i) { return i; }) : view).forEach(function (i) {
      var m = models[i], line = [m.label, m.path, m.revision, m.dtype];
      shown.forEach(function (j) { line.push(m.v[j], m.e[j], m.r[j], m.f[j] || ""); });
      lines.push(line.map(q).join(","));
    });
    return lines.join("\n") + "\n";
  }
  function download(name, text, type) {
    var a = el("a"), url = URL.createObjectURL(new Blob([text], {type: type}));
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
  }

  /* ---- events ---- */
  function wire() {
    thead.addEventListener("click", function (ev) {
      var th = ev.target.closest("th.sortable");
      if (th) sortBy(th.dataset.col);
    });
    window.addEventListener("resize", function () { viewH = 0; renderRows(); });
    var scheduled = false;
    wrap.addEventListener("scroll", function () {
      if (scheduled) return;
      scheduled = true;
      requestAnimationFrame(function () { scheduled = false; scrollY = wrap.scrollTop; renderRows(); });
    });
    $("filter").addEventListener("input", function (ev) { toTop(); state.q = ev.target.value; timings.filter_ms = refresh(); });
    $("show-se").addEventListener("change", function (ev) { state.se = ev.target.checked; header(); refresh(); });
    tbody.addEventListener("click", function (ev) {
      var tr = ev.target.closest("tr.m");
      if (!tr) return;
      var i = +tr.dataset.idx;
      focusIdx = i;
      if (ev.target.classList.contains("select")) tick(i, state.tick.indexOf(i) < 0);
      else if (ev.target.closest(".info")) openDetails(i);
    });
    tbody.addEventListener("focusin", function (ev) { var tr = ev.target.closest("tr.m"); if (tr) focusIdx = +tr.dataset.idx; });
    tbody.addEventListener("keydown", function (ev) {
      var tr = ev.target.closest("tr.m");
      if (!tr || ev.target !== tr) return;
      var i = +tr.dataset.idx, pos = view.indexOf(i);
      if (ev.key === "Enter") { ev.preventDefault(); openDetails(i); }
      else if (ev.key === " ") { ev.preventDefault(); tick(i, state.tick.indexOf(i) < 0); }
      else if (ev.key === "ArrowDown" && pos + 1 < view.length) { ev.preventDefault(); showRow(view[pos + 1]); }
      else if (ev.key === "ArrowUp" && pos > 0) { ev.preventDefault(); showRow(view[pos - 1]); }
    });
    document.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape" && !$("provenance").hidden) { ev.preventDefault(); closeDetails(); }
    });
    $("provenance-close").addEventListener("click", closeDetails);
    $("download-csv").addEventListener("click", function () { download("leaderboard-view.csv", csvText(false), "text/csv"); });
    $("download-json").addEventListener("click", function () { download("leaderboard-view.json", JSON.stringify(viewRecords(false), null, 1), "application/json"); });
    $("board-csv").addEventListener("click", function () { download("leaderboard.csv", csvText(true), "text/csv"); });
    $("board-json").addEventListener("click", function () { download("leaderboard.json", JSON.stringify(viewRecords(true), null, 1), "application/json"); });
  }

  function start() {
    var t = performance.now();
    readURL();
    if (state.sort === null) {  // default: the first ranked column, best first
      var first = cols.findIndex(function (c) { return c.higher_is_better !== null && c.higher_is_better !== undefined; });
      if (first >= 0) { state.sort = first; state.dir = cols[first].higher_is_better ? -1 : 1; }
    }
    $("filter").value = state.q;
    $("show-se").checked = state.se;
    $("summary").textContent = models.length + " models, " + cols.length + " columns · built " + (board.built || "");
    header();
    columnChooser();
    legend();
    metricChooser();
    wire();
    refresh();
    chart();
    timings.render_ms = performance.now() - t;
    timings.ready_ms = performance.now();
  }
  start();
})();
