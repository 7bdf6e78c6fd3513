/* The leaderboard page: table (sort, filter, hide columns), provenance, layer-wise curves as SVG.
   Every value from a submission goes into the page as a text node (textContent, SVG text), never as markup. */
(function () {
  "use strict";
  var started = performance.now();
  var SVGNS = "http://www.w3.org/2000/svg";
  var COLORS = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00", "#1b7c83", "#6e7781", "#bf3989"];
  var FIXED = 5;  // select, model, revision, dtype, info
  var board = window.MI_BOARD || {columns: [], models: []};
  var cols = board.columns, models = board.models;
  var timings = window.MI_BOARD_TIMINGS = {};
  var tbody = document.querySelector("#board tbody"), thead = document.querySelector("#board thead");
  var rowsEl = [], selected = [], sortState = {col: null, dir: -1};

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
    return a >= 1000 ? v.toFixed(0) : a >= 100 ? v.toFixed(1) : v.toPrecision(3);
  }
  function colName(c) { return c.task + " · " + c.metric; }

  function header() {
    var top = el("tr"), bottom = el("tr");
    var corner = el("th");
    corner.colSpan = FIXED;
    top.appendChild(corner);
    ["", "model", "revision", "dtype", ""].forEach(function (name, i) {
      var b = el("th", name, i === 1 ? "model sortable" : "");
      if (i === 1) b.dataset.col = "model";
      bottom.appendChild(b);
    });
    var groups = [];
    cols.forEach(function (c, i) {
      var last = groups[groups.length - 1];
      if (!last || last.task !== c.task) groups.push(last = {task: c.task, cols: [], standard: c.standard});
      last.cols.push(i);
      var th = el("th", c.metric, "sortable" + (last.cols.length === 1 ? " first-of-task" : "") + (c.standard ? " standard" : ""));
      th.dataset.col = String(i);
      th.title = colName(c) + (c.standard ? " (standard lm-eval score)" : "");
      bottom.appendChild(th);
    });
    groups.forEach(function (g) {
      var th = el("th", g.task, "group" + (g.standard ? " standard" : ""));
      th.colSpan = g.cols.length;
      g.th = th;
      top.appendChild(th);
    });
    thead.appendChild(top);
    thead.appendChild(bottom);
    thead.addEventListener("click", function (ev) {
      var th = ev.target.closest("th.sortable");
      if (th) sortBy(th.dataset.col);
    });
    return groups;
  }

  function row(m, idx) {
    var tr = el("tr");
    tr.dataset.idx = String(idx);
    var box = el("input");
    box.type = "checkbox";
    box.className = "select";
    box.setAttribute("aria-label", "overlay curves of " + m.label);
    box.addEventListener("change", function () { toggle(idx, box.checked); });
    var td0 = el("td"); td0.appendChild(box); tr.appendChild(td0);
    var name = el("td", null, "model");
    name.appendChild(el("span", m.label, "label"));
    name.appendChild(el("span", m.path, "path"));
    name.title = m.path;
    tr.appendChild(name);
    tr.appendChild(el("td", m.revision));
    tr.appendChild(el("td", m.dtype));
    var info = el("button", "details", "info");
    info.type = "button";
    info.title = "provenance";
    info.addEventListener("click", function () { provenance(m); });
    var td4 = el("td"); td4.appendChild(info); tr.appendChild(td4);
    cols.forEach(function (c, i) {
      var v = m.values[i], flag = m.flags[i];
      var td = el("td", fmt(v) + (flag ? (flag.indexOf("vacuous") === 0 ? " ‡" : " †") : ""));
      var cls = [];
      if (v === null) cls.push("missing");
      if (flag) { cls.push("flagged"); td.title = flag; }
      if (c.standard) cls.push("standard");
      if (i === 0 || cols[i - 1].task !== c.task) cls.push("first-of-task");
      td.className = cls.join(" ");
      tr.appendChild(td);
    });
    m.search = [m.label, m.path, m.revision, m.dtype].join(" ").toLowerCase();
    return tr;
  }

  function sortBy(col) {
    var t = performance.now();
    sortState.dir = sortState.col === col ? -sortState.dir : (col === "model" ? 1 : -1);
    sortState.col = col;
    var key = col === "model" ? function (i) { return models[i].label.toLowerCase(); }
                              : function (i) { return models[i].values[+col]; };
    var order = models.map(function (_, i) { return i; });
    order.sort(function (a, b) {
      var x = key(a), y = key(b);
      if (x === null || x === undefined) return (y === null || y === undefined) ? 0 : 1;
      if (y === null || y === undefined) return -1;
      return x < y ? -sortState.dir : x > y ? sortState.dir : 0;
    });
    var frag = document.createDocumentFragment();
    order.forEach(function (i) { frag.appendChild(rowsEl[i]); });
    tbody.appendChild(frag);
    thead.querySelectorAll("th[aria-sort]").forEach(function (th) { th.removeAttribute("aria-sort"); });
    thead.querySelector('th.sortable[data-col="' + col + '"]').setAttribute("aria-sort", sortState.dir > 0 ? "ascending" : "descending");
    timings.sort_ms = performance.now() - t;
  }

  function filter(text) {
    var q = text.trim().toLowerCase(), n = 0;
    models.forEach(function (m, i) {
      var show = !q || m.search.indexOf(q) >= 0;
      rowsEl[i].hidden = !show;
      if (show) n++;
    });
    document.getElementById("shown").textContent = n + " of " + models.length + " models shown";
  }

  function columnChooser(groups) {
    var list = document.getElementById("column-list");
    cols.forEach(function (c, i) {
      var lab = el("label"), box = el("input");
      box.type = "checkbox";
      box.checked = true;
      box.dataset.col = String(i);
      box.addEventListener("change", function () { setHidden(i, !box.checked, groups); });
      lab.appendChild(box);
      lab.appendChild(document.createTextNode(" " + colName(c)));
      list.appendChild(lab);
    });
  }

  function setHidden(i, hidden, groups) {
    var cell = FIXED + i;
    thead.rows[1].cells[cell].hidden = hidden;
    rowsEl.forEach(function (tr) { tr.cells[cell].hidden = hidden; });
    groups.forEach(function (g) {
      var shown = g.cols.filter(function (j) { return !thead.rows[1].cells[FIXED + j].hidden; }).length;
      g.th.hidden = shown === 0;
      if (shown) g.th.colSpan = shown;
    });
  }

  function provenance(m) {
    var box = document.getElementById("provenance"), body = document.getElementById("provenance-body");
    document.getElementById("provenance-model").textContent = m.label;
    body.textContent = "";
    m.provenance.forEach(function (part) {
      body.appendChild(el("h3", part[0]));
      var table = el("table"), tb = el("tbody");
      Object.keys(part[1]).forEach(function (k) {
        var v = part[1][k], tr = el("tr");
        tr.appendChild(el("th", k));
        tr.appendChild(el("td", typeof v === "string" ? v : JSON.stringify(v)));
        tb.appendChild(tr);
      });
      table.appendChild(tb);
      body.appendChild(table);
    });
    box.hidden = false;
    box.scrollIntoView();
  }

  function toggle(idx, on) {
    selected = selected.filter(function (i) { return i !== idx; });
    if (on) selected.push(idx);
    rowsEl[idx].classList.toggle("selected", on);
    chart();
  }

  function metricChooser() {
    var sel = document.getElementById("curve-metric");
    cols.forEach(function (c, i) {
      if (!models.some(function (m) { return m.curves[i]; })) return;
      var o = el("option", colName(c));
      o.value = String(i);
      sel.appendChild(o);
    });
    sel.addEventListener("change", chart);
  }

  function chart() {
    var box = document.getElementById("chart"), col = document.getElementById("curve-metric").value;
    box.textContent = "";
    var series = selected.map(function (i) { return {m: models[i], c: models[i].curves[col]}; })
                         .filter(function (s) { return s.c; });
    if (!series.length) {
      box.appendChild(el("p", selected.length ? "The selected models have no curve of this metric." :
                                                "Tick models in the table to see their curves.", "hint"));
      return;
    }
    var W = 720, H = 340, L = 60, R = 200, T = 16, B = 40;
    var lo = Infinity, hi = -Infinity;
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
    var x = function (d) { return L + d * (W - L - R); };
    var y = function (v) { return T + (hi - v) / (hi - lo) * (H - T - B); };
    var root = svg("svg", {viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img"});
    root.appendChild(svg("title", {}, colName(cols[+col]) + " by normalised depth"));
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
    series.forEach(function (s, n) {
      var color = COLORS[n % COLORS.length], pts = [], up = [], down = [];
      s.c.depth.forEach(function (d, k) {
        var v = s.c.value[k];
        if (v === null || d === null) return;
        pts.push(x(d).toFixed(1) + "," + y(v).toFixed(1));
        var e = s.c.stderr ? s.c.stderr[k] : null;
        if (e !== null && e !== undefined) {
          up.push(x(d).toFixed(1) + "," + y(v + e).toFixed(1));
          down.unshift(x(d).toFixed(1) + "," + y(v - e).toFixed(1));
        }
      });
      if (up.length > 1) root.appendChild(svg("polygon", {points: up.concat(down).join(" "), fill: color, "fill-opacity": 0.18, "class": "band"}));
      root.appendChild(svg("polyline", {points: pts.join(" "), fill: "none", stroke: color, "stroke-width": 2, "class": "curve"}));
      var ly = T + 14 + n * 18;
      root.appendChild(svg("line", {x1: W - R + 12, x2: W - R + 32, y1: ly - 4, y2: ly - 4, stroke: color, "stroke-width": 3}));
      var label = s.m.label.length > 24 ? s.m.label.slice(0, 23) + "…" : s.m.label;
      root.appendChild(svg("text", {x: W - R + 38, y: ly, "class": "legend-label"}, label));
    });
    box.appendChild(root);
  }

  var groups = header();
  var frag = document.createDocumentFragment();
  models.forEach(function (m, i) { rowsEl.push(row(m, i)); frag.appendChild(rowsEl[i]); });
  tbody.appendChild(frag);
  columnChooser(groups);
  metricChooser();
  chart();
  document.getElementById("filter").addEventListener("input", function (ev) { filter(ev.target.value); });
  document.getElementById("provenance-close").addEventListener("click", function () {
    document.getElementById("provenance").hidden = true;
  });
  document.getElementById("summary").textContent = models.length + " models · " + cols.length + " columns · board built " + (board.built || "");
  filter("");
  timings.render_ms = performance.now() - started;
  timings.ready_ms = performance.now();
})();
