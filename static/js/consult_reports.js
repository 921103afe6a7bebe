// An export's progress page (templates/consultations/report_export.html): poll the job's status.json once a
// second, move the progress bar, and show the download when the file is ready. Any worker answers the poll:
// the job's state lives in a file (voting/consultations/export_jobs.py).
(function () {
  "use strict";
  var root = document.querySelector("[data-export-status]");
  if (!root || !window.fetch) return;
  var bar = root.querySelector("[data-export-bar]"), count = root.querySelector("[data-export-count]");
  var message = root.querySelector("[data-export-message]"), link = root.querySelector("[data-export-download]");
  var refresh = root.querySelector("[data-export-refresh]"), failures = 0;

  function setText(el, text) {
    if (el && el.textContent !== String(text)) el.textContent = text;
  }

  function show(job) {
    if (bar) {
      bar.max = job.total || 1;
      bar.value = job.state === "done" ? bar.max : job.done;
    }
    setText(count, root.dataset.labelProgress.replace("{done}", job.done).replace("{total}", job.total));
    if (job.state === "done") {
      setText(message, root.dataset.labelReady);
      if (link) { link.hidden = false; link.href = job.download_url || link.href; }
      if (refresh) refresh.hidden = true;
      if (link) link.focus();
    } else if (job.state === "failed") {
      setText(message, job.error || "");
      if (bar) bar.hidden = true;
    }
    return job.state === "queued" || job.state === "running";
  }

  function poll() {
    fetch(root.dataset.exportStatus, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.json();
      })
      .then(function (job) {
        failures = 0;
        if (show(job)) window.setTimeout(poll, 1000);
      })
      .catch(function () {
        failures += 1;
        setText(message, root.dataset.labelOffline);
        window.setTimeout(poll, Math.min(10000, 1000 * failures));
      });
  }

  if (root.dataset.state === "queued" || root.dataset.state === "running") poll();
})();
