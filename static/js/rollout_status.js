// Keeps the rollout page's device list current: asks the page's status URL (JSON) every few
// seconds and redraws each wave's devices, the wave states and the rollout state. Text only
// (textContent), so nothing from the server is read as markup.
(function () {
  var section = document.querySelector("[data-status-url]");
  if (!section || !window.fetch) return;
  var url = section.getAttribute("data-status-url");
  var seconds = parseInt(section.getAttribute("data-poll-seconds"), 10) || 5;
  var stamp = section.querySelector("[data-testid=status-refreshed]");

  function cell(row, text, className) {
    var td = document.createElement("td");
    if (className) td.className = className;
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function drawWave(wave) {
    var badge = section.querySelector('[data-wave-state="' + wave.id + '"]');
    if (badge) {
      badge.textContent = wave.state_label;
      badge.setAttribute("data-state", wave.state);
    }
    var body = section.querySelector('tbody[data-wave="' + wave.id + '"]');
    if (!body) return;
    var rows = document.createDocumentFragment();
    wave.devices.forEach(function (d) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-testid", "device-" + d.hostname);
      tr.setAttribute("data-status", d.status);
      cell(tr, d.hostname);
      var job = cell(tr, "");
      var span = document.createElement("span");
      span.className = "badge";
      span.setAttribute("data-testid", "job-status");
      span.textContent = d.status_label;
      job.appendChild(span);
      cell(tr, d.window || "—");
      cell(tr, d.updated || "—");
      cell(tr, d.message, "muted");
      rows.appendChild(tr);
    });
    if (!wave.devices.length) return; // keep the "no job yet" row
    body.replaceChildren(rows);
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.json();
      })
      .then(function (data) {
        var state = section.querySelector("[data-testid=status-rollout-state]");
        if (state) {
          state.textContent = data.state_label;
          state.setAttribute("data-state", data.state);
        }
        data.waves.forEach(drawWave);
        if (stamp) stamp.textContent = "Updated " + new Date().toLocaleTimeString() + ".";
      })
      .catch(function () {
        if (stamp) stamp.textContent = "Could not refresh; trying again.";
      })
      .then(function () {
        window.setTimeout(poll, seconds * 1000);
      });
  }
  window.setTimeout(poll, seconds * 1000);
})();
