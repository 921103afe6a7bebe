// Organizer's ballot pages. Without this script every page still works: all settings are shown, and a
// "Refresh the figures" link reloads the turnout.
(function () {
  "use strict";

  // The ballot form: show the places field only for "choose up to K", the fraction only for "another fraction".
  var conditional = document.querySelectorAll("[data-show-when]");
  function applyConditions() {
    conditional.forEach(function (el) {
      var rule = el.dataset.showWhen.split("="), checked = document.querySelector('input[name="' + rule[0] + '"]:checked');
      // A field with an error stays visible, so the message is never hidden.
      el.hidden = !(checked && checked.value === rule[1]) && !el.querySelector(".error");
    });
  }
  if (conditional.length) {
    document.addEventListener("change", function (event) {
      if (event.target.type === "radio") applyConditions();
    });
    applyConditions();
  }

  // The ballot page: how many have voted so far (never how), the countdown, and live results.
  var root = document.querySelector("[data-progress]");
  if (!root || root.dataset.state !== "open" || !window.fetch) return;
  var status = root.querySelector("[data-status]"), countdown = root.querySelector("[data-countdown]");
  var left = countdown && countdown.querySelector("[data-left]"), refresh = root.querySelector(".no-js-refresh");
  var panel = document.querySelector("[data-results-panel]");
  var failures = 0, lastVoters = null, deadline = null;
  if (refresh) refresh.hidden = true;
  if (countdown && isFinite(parseFloat(countdown.dataset.secondsLeft))) {
    deadline = Date.now() + parseFloat(countdown.dataset.secondsLeft) * 1000;
  }

  function two(n) { return (n < 10 ? "0" : "") + n; }

  function tick() {
    if (!countdown || deadline === null) return;
    var seconds = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    if (seconds === 0) {
      if (countdown.textContent !== root.dataset.timeUp) countdown.textContent = root.dataset.timeUp;
    } else if (left) {
      left.textContent = Math.floor(seconds / 60) + ":" + two(seconds % 60);
    }
  }

  function render(s) {
    if (s.state !== root.dataset.state) {
      // Closed elsewhere (another organizer, the API): show the results.
      window.location.reload();
      return;
    }
    ["voters", "present", "not_voted", "expected"].forEach(function (key) {
      var el = root.querySelector('[data-count="' + key + '"]');
      if (el && el.textContent !== String(s[key])) el.textContent = s[key];
    });
    if (s.seconds_left !== null) deadline = Date.now() + s.seconds_left * 1000;
    if (panel && s.voters !== lastVoters && lastVoters !== null) refreshResults();
    lastVoters = s.voters;
  }

  function refreshResults() {
    fetch(panel.dataset.resultsPanel, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      // The fragment is rendered by the server with every title escaped.
      .then(function (html) { panel.innerHTML = html; })
      .catch(function () {});
  }

  function poll() {
    fetch(root.dataset.progress, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (s) { failures = 0; status.textContent = ""; render(s); })
      .catch(function () { failures += 1; if (failures > 3) status.textContent = root.dataset.offline; })
      .then(function () { setTimeout(poll, 1000); });
  }
  setInterval(tick, 250);
  poll();
})();
