// The charts of a gameday report: uPlot draws each stream's series; phases,
// fault windows, objectives, RTO and RPO marks are elements laid over the
// plot, so that they can be read (and tested) in the page itself.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("gameday-data").textContent);
  var palette = ["#1565c0", "#2e7d32", "#ad1457", "#ef6c00", "#00838f", "#5d4037", "#6a1b9a", "#9e9d24"];
  window.gamedayCharts = [];

  // The series of one chart over the union of the streams' x values (every
  // stream shares the buckets of the run's timeline).
  function seriesOf(kind) {
    var x = [], ys = [], series = [{ label: "s" }];
    data.streams.forEach(function (s, i) {
      if (s.x.length > x.length) { x = s.x; }
      var color = palette[i % palette.length];
      if (kind === "latency") {
        [["p50", [2, 4]], ["p90", [6, 3]], ["p99", null]].forEach(function (q) {
          ys.push(s[q[0]]);
          series.push({ label: s.name + " " + q[0], stroke: color, width: q[0] === "p99" ? 2 : 1, dash: q[1] || undefined, spanGaps: false });
        });
      } else {
        ys.push(s[kind]);
        series.push({ label: s.name, stroke: color, width: 2, spanGaps: false });
      }
    });
    return { aligned: [x].concat(ys), series: series };
  }

  function box(u, cls, left, width, title) {
    var el = document.createElement("div");
    el.className = "overlay " + cls;
    el.style.left = left + "px";
    if (width !== null) { el.style.width = Math.max(width, 1) + "px"; }
    if (title) {
      el.title = title;
      var name = document.createElement("span");
      name.className = "name";
      name.textContent = title;
      el.appendChild(name);
    }
    u.over.appendChild(el);
    return el;
  }

  function xpos(u, s) { return u.valToPos(Math.min(Math.max(s, 0), data.durationS), "x"); }

  function overlays(u, kind) {
    Array.prototype.slice.call(u.over.querySelectorAll(".overlay")).forEach(function (el) { el.remove(); });
    data.phases.forEach(function (p) {
      var el = box(u, "phase phase-" + p.name, xpos(u, p.from), xpos(u, p.to) - xpos(u, p.from), null);
      el.dataset.phase = p.name;
    });
    data.faults.forEach(function (f) {
      var el = box(u, "fault-window", xpos(u, f.from), xpos(u, f.to) - xpos(u, f.from), f.name + " (" + f.target + ")");
      el.dataset.fault = f.name;
    });
    data.objectives.forEach(function (o) {
      if (o.chart !== kind) { return; }
      var el = box(u, "objective-line", 0, null, o.label);
      el.style.width = "100%";
      el.style.left = "0";
      el.style.top = u.valToPos(o.value, "y") + "px";
      el.dataset.check = o.check;
      el.dataset.value = String(o.value);
    });
    data.marks.forEach(function (m) {
      var el;
      if (m.kind === "rpo-lost") {
        el = box(u, "rpo-lost", xpos(u, m.at), xpos(u, m.to) - xpos(u, m.at), m.label);
      } else {
        el = box(u, "mark " + m.kind, xpos(u, m.at), null, m.label);
      }
      el.dataset.check = m.check;
      el.dataset.kind = m.kind;
    });
  }

  function draw(el) {
    var kind = el.dataset.chart;
    var s = seriesOf(kind);
    var ymin = null, ymax = null;
    data.objectives.forEach(function (o) {
      if (o.chart === kind) {
        ymax = ymax === null ? o.value : Math.max(ymax, o.value);
        ymin = ymin === null ? o.value : Math.min(ymin, o.value);
      }
    });
    var points = 0;
    for (var i = 1; i < s.aligned.length; i++) {
      s.aligned[i].forEach(function (v) {
        if (v !== null) {
          points++;
          ymax = ymax === null ? v : Math.max(ymax, v);
          ymin = ymin === null ? v : Math.min(ymin, v);
        }
      });
    }
    var range = kind === "ratio" ? [Math.min(ymin === null ? 0 : ymin, 0.9) - 0.02, 1.02] : [0, (ymax || 1) * 1.1];
    var opts = {
      width: Math.max(el.clientWidth, 320),
      height: 220,
      series: s.series,
      scales: { x: { time: false, range: [0, data.durationS] }, y: { range: range } },
      axes: [{ label: "s from the start of the load" }, {}],
      legend: { live: false },
      hooks: {
        ready: [function (u) { overlays(u, kind); }],
        draw: [function () { el.dataset.drawn = "true"; }],
      },
    };
    var u = new uPlot(opts, s.aligned, el);
    el.dataset.points = String(points);
    window.gamedayCharts.push(u);
  }

  Array.prototype.forEach.call(document.querySelectorAll(".chart"), draw);
  document.body.dataset.chartsReady = "true";
})();
