// Code generation progress: polls the async action until it is done, then reloads to list the first codes.
(function () {
  "use strict";
  const box = document.getElementById("generation");
  const url = box && box.dataset.progressUrl;
  if (!url) return;
  const bar = document.getElementById("progress-bar");
  const text = document.getElementById("progress-text");
  const unit = box.dataset.unit || "codes";
  if (["DONE", "FAILED"].indexOf(text.dataset.status) >= 0) return;
  function poll() {
    fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (a) {
      bar.value = a.progress;
      text.dataset.status = a.status;
      const status = a.status.charAt(0) + a.status.slice(1).toLowerCase().replace("_", " ");
      text.textContent = status + ": " + a.processed + " of " + (a.total || "…") + " " + unit + " (" + a.progress + "%)";
      if (a.status === "DONE") { window.location.reload(); return; }
      if (a.status !== "FAILED") setTimeout(poll, 1000);
    }).catch(function () { setTimeout(poll, 3000); });
  }
  poll();
})();
