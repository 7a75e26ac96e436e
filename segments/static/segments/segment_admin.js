/* Segment editor: count the customers a filter matches before saving, and follow a recompute's progress. */
(function () {
  "use strict";

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function setUpPreview() {
    var box = document.getElementById("segment-preview");
    var filter = document.getElementById("id_filter");
    if (!box || !filter) return;
    var output = document.getElementById("segment-preview-count");
    var button = document.getElementById("segment-preview-button");
    var timer = null;
    var sequence = 0;

    function preview() {
      var mine = ++sequence;
      if (!filter.value.trim()) {
        output.textContent = "";
        return;
      }
      output.textContent = "counting…";
      fetch(box.dataset.previewUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken()},
        body: JSON.stringify({filter: filter.value})
      }).then(function (response) {
        return response.json();
      }).then(function (body) {
        if (mine !== sequence) return; // a newer request is on its way
        if (body.error) {
          output.textContent = body.error;
          output.className = "errornote";
        } else {
          output.textContent = body.count.toLocaleString() + (body.count === 1 ? " customer matches" : " customers match");
          output.className = "";
        }
      }).catch(function () {
        if (mine === sequence) output.textContent = "Could not count (network error).";
      });
    }

    button.addEventListener("click", preview);
    filter.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(preview, 600);
    });
  }

  function setUpProgress() {
    var box = document.getElementById("segment-progress");
    if (!box) return;
    var bar = document.getElementById("segment-progress-bar");
    var status = document.getElementById("segment-progress-status");
    var text = document.getElementById("segment-progress-text");
    var result = document.getElementById("segment-progress-result");

    function poll() {
      fetch(box.dataset.statusUrl, {credentials: "same-origin"}).then(function (response) {
        return response.json();
      }).then(function (body) {
        bar.value = body.progress;
        bar.textContent = body.progress + "%";
        status.textContent = body.status;
        text.textContent = body.processed + " / " + body.total + " customer ids scanned";
        if (body.status === "DONE") {
          result.textContent = body.result.members + " members: " + body.result.entered + " entered, " +
            body.result.left + " left.";
        } else if (body.status === "FAILED") {
          result.textContent = (body.result && body.result.error) || "The recompute failed.";
        } else {
          setTimeout(poll, 500);
        }
      }).catch(function () {
        setTimeout(poll, 2000);
      });
    }

    poll();
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpPreview();
    setUpProgress();
  });
}());
