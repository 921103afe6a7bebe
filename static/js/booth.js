// The deputy's voting pages (voting/ballots/booth_views.py): follow the meeting live, count the ticks left,
// count down, submit once, copy the receipt. Every page works without this script; it only makes them
// quicker and kinder. Plain ES5: WeChat's in-app browser on older phones runs old engines.
(function () {
  "use strict";

  // -- follow the meeting: server-sent events; polling where the server or the network cannot hold a stream --
  function follow(root) {
    var d = root.dataset, ballot = d.ballot ? parseInt(d.ballot, 10) : null;
    var gone = false, polling = false, source = null, heard = 0, connectedAt = 0;

    function seen(state) {
      heard = Date.now();
      if (gone || !state || typeof state.v !== "string") return;
      // A ballot's own pages leave only when that ballot closes; the others whenever the open ballots change.
      var moved = ballot ? state.open.indexOf(ballot) < 0 : state.v !== d.version;
      if (moved) {
        gone = true;
        if (source) source.close();
        window.location.replace(d.next);
      }
    }
    function ask(then) {
      var xhr = new XMLHttpRequest();
      xhr.open("GET", d.state);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.onload = function () {
        if (xhr.status === 200) {
          try { seen(JSON.parse(xhr.responseText)); } catch (e) { /* a proxy's error page: try again later */ }
        }
        if (then) then();
      };
      xhr.onerror = function () { if (then) then(); };
      xhr.send();
    }
    function poll() {
      if (polling) return;
      polling = true;
      if (source) source.close();
      (function again() {
        if (!gone) ask(function () { setTimeout(again, 2000 + Math.random() * 1000); });
      })();
    }
    function listen() {
      if (!window.EventSource) return poll();
      source = new EventSource(d.stream);
      connectedAt = Date.now();
      source.onmessage = function (e) {
        try { seen(JSON.parse(e.data)); } catch (x) { /* ignore a damaged event */ }
      };
      source.addEventListener("ping", function () { heard = Date.now(); });
      // CLOSED means refused (e.g. 204: this server does not hold streams), not a dropped line it retries.
      source.onerror = function () { if (source.readyState === 2) poll(); };
      // A proxy that buffers the stream delivers nothing at all: then poll.
      setInterval(function () {
        if (!polling && Date.now() - Math.max(heard, connectedAt) > (heard ? 45000 : 12000)) poll();
      }, 5000);
    }
    // A phone that slept may have missed the change while its connection was frozen.
    document.addEventListener("visibilitychange", function () { if (!document.hidden && !gone) ask(); });
    setTimeout(listen, Math.random() * parseFloat(d.delay || "0") * 1000);
  }

  // -- the ballot form: ticks left (choose K of M), items answered (per item, rating) --
  function ballotForm(form) {
    var d = form.dataset, text = form.querySelector("[data-left-text]");
    if (d.boothForm === "choose") {
      var places = parseInt(d.places, 10), refused = form.querySelector("[data-refused-text]");
      var boxes = form.querySelectorAll("input[name=tick]");
      var ticked = function () {
        var n = 0;
        for (var i = 0; i < boxes.length; i++) if (boxes[i].checked) n++;
        return n;
      };
      var show = function () {
        var left = places - ticked();
        text.textContent = left > 0 ? d.left.replace("{n}", left) : d.full;
      };
      form.addEventListener("change", function (e) {
        if (e.target.name !== "tick") return;
        if (e.target.checked && ticked() > places) {
          e.target.checked = false; // one too many: refused here; the server would void the ballot
          refused.textContent = d.refused;
        } else {
          refused.textContent = "";
        }
        show();
      });
      show();
    } else {
      var radios = form.querySelectorAll("input[type=radio]");
      var answer = function () {
        var done = {};
        for (var i = 0; i < radios.length; i++) if (radios[i].checked) done[radios[i].name] = true;
        text.textContent = d.done.replace("{n}", Object.keys(done).length);
      };
      form.addEventListener("change", answer);
      answer();
    }
  }

  function countdown(el) {
    var end = Date.now() + parseInt(el.dataset.countdown, 10) * 1000;
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    (function tick() {
      var s = Math.max(0, Math.ceil((end - Date.now()) / 1000));
      var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
      var time = (h ? h + ":" + two(m) : m) + ":" + two(s % 60);
      el.textContent = s > 0 ? el.dataset.label.replace("{t}", time) : el.dataset.over;
      el.className = "booth-countdown" + (s === 0 ? " over" : s <= 60 ? " soon" : "");
      if (s > 0) setTimeout(tick, 250);
    })();
  }

  // A double tap sends one submission (the server would answer a second with the same receipt anyway).
  function submitOnce(form) {
    var sent = false;
    form.addEventListener("submit", function (e) {
      if (sent) { e.preventDefault(); return; }
      sent = true;
      setTimeout(function () { sent = false; }, 8000); // a lost connection may be retried
    });
  }

  function copyButton(button) {
    var source = document.querySelector("[data-copy-source]"), status = document.querySelector("[data-copy-status]");
    var done = function () { status.textContent = button.dataset.done; };
    var select = function () {
      var range = document.createRange(), selection = window.getSelection();
      range.selectNodeContents(source);
      selection.removeAllRanges();
      selection.addRange(range);
      try { if (document.execCommand("copy")) done(); } catch (e) { /* the code stays selected to copy by hand */ }
    };
    button.hidden = false;
    button.addEventListener("click", function () {
      var code = source.textContent.replace(/\s+/g, "");
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(code).then(done, select);
      else select();
    });
  }

  function each(selector, work) {
    var found = document.querySelectorAll(selector);
    for (var i = 0; i < found.length; i++) work(found[i]);
  }
  each("[data-booth-live]", follow);
  each("[data-booth-form]", ballotForm);
  each("[data-countdown]", countdown);
  each("[data-submit-once]", submitOnce);
  each("[data-copy]", copyButton);
})();
