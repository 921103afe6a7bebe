// Live attendance: refresh the counts (and, on the big screen, the QR code) twice a second without reloading.
// On the big screen also a ballot's turnout and countdown; when the screen should show something else
// (a ballot opened, closed, or its results time ended) the page reloads and the server draws it.
(function () {
  "use strict";
  var root = document.querySelector("[data-live]");
  if (!root || !window.fetch) return;
  var screen = document.querySelector("[data-screen-view]");
  // A pinned ballot (?ballot=<id>) stays pinned in what the screen asks for.
  var url = root.dataset.live + (screen ? window.location.search : ""), lastCode = null, failures = 0;
  var qr = document.getElementById("qr"), caption = document.getElementById("qr-caption");
  var status = root.querySelector("[data-status]"), quorum = root.querySelector("[data-quorum]");

  function setText(el, text) {
    // Rewriting unchanged text would make screen readers announce it again.
    if (el && el.textContent !== String(text)) el.textContent = text;
  }

  function two(n) { return (n < 10 ? "0" : "") + n; }

  function renderBallot(b, present) {
    setText(screen.querySelector('[data-ballot="voters"]'), b.voters);
    setText(screen.querySelector('[data-ballot="present"]'), present);
    var bar = screen.querySelector('[data-ballot="bar"]');
    if (bar) bar.setAttribute("width", present ? Math.min(1000, (1000 * b.voters) / present).toFixed(1) : "0");
    var clock = screen.querySelector('[data-ballot="countdown"]');
    if (clock && b.seconds_left !== null) {
      var s = b.seconds_left;
      setText(clock, s > 0 ? clock.dataset.label.replace("{t}", Math.floor(s / 60) + ":" + two(s % 60)) : clock.dataset.over);
      clock.className = "screen-countdown" + (s === 0 ? " over" : s <= 60 ? " soon" : "");
    }
  }

  function render(s) {
    if (screen && s.view && s.view !== screen.dataset.screenView) {
      window.location.reload();
      return;
    }
    ["expected", "present", "on_leave", "not_arrived"].forEach(function (key) {
      setText(root.querySelector('[data-count="' + key + '"]'), s[key]);
    });
    var text = (s.quorum_met ? root.dataset.quorumMet : root.dataset.quorumUnmet).replace("{n}", s.quorum_required);
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
    if (screen && s.ballot && s.view.indexOf("open:") === 0) renderBallot(s.ballot, s.present);
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
