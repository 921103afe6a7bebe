// Live attendance: refresh the counts (and, on the big screen, the QR code) twice a second without reloading.
(function () {
  "use strict";
  var root = document.querySelector("[data-live]");
  if (!root || !window.fetch) return;
  var url = root.dataset.live, lastCode = null, failures = 0;
  var qr = document.getElementById("qr"), caption = document.getElementById("qr-caption");
  var status = root.querySelector("[data-status]"), quorum = root.querySelector("[data-quorum]");

  function render(s) {
    ["expected", "present", "on_leave", "not_arrived"].forEach(function (key) {
      var el = root.querySelector('[data-count="' + key + '"]');
      if (el && el.textContent !== String(s[key])) el.textContent = s[key];
    });
    var text = (s.quorum_met ? root.dataset.quorumMet : root.dataset.quorumUnmet).replace("{n}", s.quorum_required);
    // Rewriting unchanged text would make screen readers announce it again.
    if (quorum.textContent !== text) {
      quorum.textContent = text;
      quorum.className = "quorum " + (s.quorum_met ? "met" : "unmet");
    }
    if (qr && s.code !== lastCode) {
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
