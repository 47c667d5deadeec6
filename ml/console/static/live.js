// The endpoint page's live view: asks /endpoints/<name>/live for the endpoint as it is now and
// the rollout lines written since the last answer, and shows both. Every value is set with
// textContent, never as HTML. Without JavaScript the page as served is complete, with a
// Refresh link; this script only keeps it current.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || !window.fetch) { return; }
  var url = live.getAttribute("data-live-url");
  var update = live.getAttribute("data-update") || "";
  var after = Number(live.getAttribute("data-after") || "0");
  var FAST_MS = 500, SLOW_MS = 3000;

  function cell(row, cls, text) {
    var td = row.querySelector("td." + cls);
    if (td && td.textContent !== text) { td.textContent = text; }
  }

  function variantRow(tbody, v) {
    var row = null;
    tbody.querySelectorAll("tr[data-variant]").forEach(function (r) {
      if (r.getAttribute("data-variant") === v.name) { row = r; }
    });
    if (row) { return row; }
    row = document.createElement("tr");
    row.id = "variant-" + v.name;
    row.setAttribute("data-variant", v.name);
    ["name", "version", "weight num", "share num", "current num", "desired num"].forEach(function (cls) {
      var td = document.createElement("td");
      td.className = cls;
      row.appendChild(td);
    });
    row.firstChild.textContent = v.name;
    tbody.appendChild(row);
    return row;
  }

  function showVariants(variants) {
    var tbody = document.querySelector("#variants tbody");
    var names = variants.map(function (v) { return v.name; });
    tbody.querySelectorAll("tr[data-variant]").forEach(function (r) {
      if (names.indexOf(r.getAttribute("data-variant")) < 0) { r.remove(); }
    });
    variants.forEach(function (v) {
      var row = variantRow(tbody, v);
      cell(row, "version", String(v.version));
      cell(row, "weight", String(v.weight));
      cell(row, "share", v.share.toFixed(1) + "%");
      cell(row, "current", String(v.current_instances));
      cell(row, "desired", String(v.desired_instances));
    });
  }

  function showEvents(answer) {
    var list = document.getElementById("rollout");
    if (answer.restart) { list.textContent = ""; }
    answer.events.forEach(function (ev) {
      var item = document.createElement("li");
      item.className = "event " + ev.kind;
      item.setAttribute("data-seq", String(ev.seq));
      var when = document.createElement("time");
      when.textContent = ev.at;
      item.appendChild(when);
      item.appendChild(document.createTextNode(" " + ev.line));
      list.appendChild(item);
      after = ev.seq;
    });
    update = answer.update;
    var none = document.getElementById("no-rollout");
    if (none && list.children.length) { none.remove(); }
  }

  function showHealth(lines) {
    var list = document.getElementById("health");
    list.textContent = "";
    lines.forEach(function (line) {
      var item = document.createElement("li");
      item.textContent = line;
      list.appendChild(item);
    });
  }

  function tick() {
    var query = "?update=" + encodeURIComponent(update) + "&after=" + after;
    fetch(url + query, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (answer) {
        document.getElementById("status").textContent = answer.status;
        document.getElementById("served").textContent = answer.version ? String(answer.version) : "-";
        showVariants(answer.variants);
        showEvents(answer);
        showHealth(answer.health);
        document.getElementById("live-state").textContent = answer.moving ? "live: an update is running" : "live";
        window.setTimeout(tick, answer.moving ? FAST_MS : SLOW_MS);
      })
      .catch(function (err) {
        document.getElementById("live-state").textContent = "live view paused (" + err.message + "); use Refresh";
        window.setTimeout(tick, SLOW_MS);
      });
  }
  tick();
})();
