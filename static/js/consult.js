// The resident's opinion pages (voting/consultations/public_views.py): count characters while typing, send once,
// copy the tracking code. The pages work without this script. Plain ES5 for WeChat's in-app browser on old phones.
(function () {
  "use strict";

  // Characters as the server counts them: a surrogate pair (an emoji) is one; line ends are one; ends trimmed.
  function length(text) {
    return text.replace(/\r\n/g, "\n").replace(/^\s+|\s+$/g, "").replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, "_").length;
  }

  function counter(area) {
    var out = document.getElementById("text-count"), max = parseInt(area.getAttribute("data-max"), 10);
    if (!out) return;
    var show = function () {
      var n = length(area.value), over = n - max;
      out.textContent = over > 0
        ? out.getAttribute("data-over").replace("{n}", n).replace("{o}", over)
        : out.getAttribute("data-template").replace("{n}", n);
      out.className = over > 0 ? "consult-count over" : "consult-count";
    };
    out.hidden = false;
    area.addEventListener("input", show);
    show();
  }

  // A second tap while the first is on its way does nothing (the server would return the same code anyway).
  function sendOnce(form) {
    var sent = false;
    form.addEventListener("submit", function (e) {
      if (sent) { e.preventDefault(); return; }
      sent = true;
      setTimeout(function () { sent = false; }, 8000); // a lost connection may be retried
    });
  }

  function copyButton(button) {
    var source = document.querySelector("[data-copy-source]"), status = document.querySelector("[data-copy-status]");
    var done = function () { status.textContent = button.getAttribute("data-done"); };
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
  each("textarea[data-max]", counter);
  each("form.consult-form", sendOnce);
  each("[data-copy]", copyButton);
})();
