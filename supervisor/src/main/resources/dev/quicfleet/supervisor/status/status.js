// The supervisor's status page: polls /status.json (the slot table and the supervisor's own samples of its cluster
// scrape) and draws the last minutes with uPlot. No build step: plain browser JavaScript.
"use strict";

const CHARTS = [
  { id: "requests", title: "Requests/s by protocol", series: [
      ["requests_h3", "HTTP/3", "#1f77b4"], ["requests_h2", "HTTP/2", "#ff7f0e"],
      ["requests_http1", "HTTP/1.1", "#2ca02c"], ["requests_5xx", "5xx", "#d62728"]] },
  { id: "handshakes", title: "QUIC handshakes/s", series: [
      ["handshakes_full", "full", "#9467bd"], ["handshakes_resumed", "resumed", "#17becf"],
      ["handshakes_failed", "failed", "#d62728"], ["retry_sent", "Retry sent", "#bcbd22"]] },
  { id: "zerortt", title: "0-RTT share of HTTP/3 requests (%): arrived in early data and ran at once", series: [
      ["zeroRttShare", "0-RTT share %", "#e377c2", v => v == null ? null : v * 100]] },
  { id: "earlydata", title: "Early-data requests/s by outcome", series: [
      ["early_data_accepted", "accepted", "#2ca02c"], ["early_data_deferred", "deferred", "#8c564b"],
      ["early_data_too_early", "too early (425)", "#ff7f0e"], ["early_data_replayed", "replayed", "#d62728"]] },
  { id: "restarts", title: "Worker restarts (since start) and workers running", series: [
      ["restarts", "restarts", "#d62728"], ["workersRunning", "running", "#2ca02c"]] },
  { id: "keyage", title: "Ticket key age (s)", series: [
      ["keyAgeSeconds", "key age", "#7f7f7f"]] },
];

const plots = {};

function el(id) { return document.getElementById(id); }

function rate(v) {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function duration(s) {
  if (s == null) return "off";
  s = Math.round(s);
  return s >= 3600 ? Math.floor(s / 3600) + "h " + Math.floor(s % 3600 / 60) + "m"
    : s >= 60 ? Math.floor(s / 60) + "m " + (s % 60) + "s" : s + "s";
}

function drawTable(slots) {
  const body = document.querySelector("#slots tbody");
  body.replaceChildren();
  for (const slot of slots) {
    const row = body.insertRow();
    row.dataset.line = slot.line;
    for (const v of [slot.slot, slot.pid, slot.state, slot.uptime, slot.restarts, slot.lastExit]) {
      row.insertCell().textContent = v;
    }
  }
}

function drawTiles(status) {
  const last = status.samples[status.samples.length - 1];
  el("meta").textContent = "version " + status.version + " · sampled every " + status.intervalSeconds + " s · "
    + status.samples.length + " samples · " + new Date(status.now).toLocaleTimeString();
  if (!last) return;
  el("t-workers").textContent = last.workersRunning + " / " + status.slots.length;
  el("t-restarts").textContent = last.restarts;
  el("t-requests").textContent = rate(last.requests);
  el("t-handshakes").textContent = rate(last.handshakes_full + last.handshakes_resumed);
  el("t-zerortt").textContent = last.zeroRttShare == null ? "–" : (last.zeroRttShare * 100).toFixed(1) + " %";
  el("t-keyage").textContent = duration(last.keyAgeSeconds);
  el("t-connections").textContent = last.connections;
}

function drawCharts(samples) {
  const times = samples.map(s => s.time / 1000);
  for (const chart of CHARTS) {
    const data = [times].concat(chart.series.map(([key, , , f]) => samples.map(s => f ? f(s[key]) : s[key])));
    if (!plots[chart.id]) {
      const box = document.createElement("div");
      box.className = "chart";
      box.id = "chart-" + chart.id;
      box.innerHTML = "<h3></h3>";
      box.firstChild.textContent = chart.title;
      el("charts").appendChild(box);
      plots[chart.id] = new uPlot({
        width: 560, height: 220, legend: { show: true },
        scales: { y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
        series: [{}].concat(chart.series.map(([, label, stroke]) => ({ label, stroke, width: 2 }))),
      }, data, box);
    } else {
      plots[chart.id].setData(data);
    }
    // For tests and scripts: where the plot area is, and how many points it holds.
    const over = plots[chart.id].over.getBoundingClientRect();
    const box = el("chart-" + chart.id);
    box.dataset.points = times.length;
    box.dataset.plot = [over.left, over.top, over.width, over.height].map(Math.round).join(",");
  }
}

async function refresh() {
  try {
    const response = await fetch("status.json", { cache: "no-store" });
    if (!response.ok) throw new Error("HTTP " + response.status);
    const status = await response.json();
    el("error").textContent = status.slotsError || "";
    drawTable(status.slots);
    drawTiles(status);
    drawCharts(status.samples);
    document.body.dataset.samples = status.samples.length;
  } catch (e) {
    el("error").textContent = "cannot read status.json: " + e.message;
  }
}

refresh();
setInterval(refresh, 2000);
