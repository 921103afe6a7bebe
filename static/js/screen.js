// The big screen: refresh the QR code and the counts twice a second, without reloading.
(function () {
  "use strict";
  var root = document.getElementById("screen");
  if (!root) return;
  var url = root.dataset.url, lastCode = null, failures = 0;
  var qr = document.getElementById("qr"), caption = document.getElementById("qr-caption");
  var status = document.getElementById("status"), quorum = root.querySelector("[data-quorum]");

  function render(s) {
    ["expected", "present", "on_leave", "not_arrived"].forEach(function (key) {
      var el = root.querySelector('[data-count="' + key + '"]');
      if (el && el.textContent !== String(s[key])) el.textContent = s[key];
    });
    quorum.className = "quorum " + (s.quorum_met ? "met" : "unmet");
    quorum.textContent = (s.quorum_met ? root.dataset.quorumMet : root.dataset.quorumUnmet) +
      " (" + root.dataset.need.replace("{n}", s.quorum_required) + ")";
    if (s.code !== lastCode) {
      lastCode = s.code;
      // The SVG is built by the server from the sign-in URL alone; no user text is in it.
      qr.innerHTML = s.qr_svg || "";
      caption.textContent = s.code ? caption.dataset.open : s.state_label;
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (s) { failures = 0; status.textContent = ""; render(s); })
      .catch(function () { failures += 1; if (failures > 3) status.textContent = root.dataset.offline; })
      .then(function () { setTimeout(poll, 500); });
  }
  poll();
})();
