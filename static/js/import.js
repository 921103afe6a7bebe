// Roster import: show upload progress, then the server's verdict, without leaving the page.
(function () {
  "use strict";
  var form = document.getElementById("import-form");
  if (!form || !window.XMLHttpRequest || !window.FormData) return;
  var box = document.getElementById("import-progress"), bar = document.getElementById("import-bar");
  var stage = document.getElementById("import-stage"), result = document.getElementById("import-result");
  var text = document.getElementById("import-messages").dataset;

  function show(message, details, ok) {
    result.textContent = "";
    var p = document.createElement("p");
    p.className = ok ? "flash success big" : "error big";
    p.setAttribute("role", ok ? "status" : "alert");
    p.textContent = message;
    result.appendChild(p);
    if (details && details.length) {
      var ul = document.createElement("ul");
      ul.className = "errors";
      details.forEach(function (d) {
        var li = document.createElement("li");
        li.textContent = (d.row ? text.row.replace("{row}", d.row) + ": " : "") + d.message;
        ul.appendChild(li);
      });
      result.appendChild(ul);
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action || window.location.href);
    xhr.setRequestHeader("Accept", "application/json");
    box.hidden = false; bar.value = 0; stage.textContent = text.uploading;
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) bar.value = Math.round(e.loaded * 100 / e.total);
    };
    xhr.upload.onload = function () { bar.removeAttribute("value"); stage.textContent = text.checking; };
    xhr.onload = function () {
      box.hidden = true;
      var body;
      try { body = JSON.parse(xhr.responseText); } catch (e) { show(text.failed); return; }
      if (xhr.status === 200) { show(body.message, null, true); if (body.redirect) setTimeout(function () { window.location = body.redirect; }, 1500); }
      else if (body.error) show(body.error.message, body.error.details);
      else show(text.failed);
    };
    xhr.onerror = function () { box.hidden = true; show(text.failed); };
    xhr.send(new FormData(form));
  });
})();
