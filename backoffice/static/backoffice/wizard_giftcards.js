// Gift card wizard: live preview (how many cards, the money they hold, sample codes, code-space problems in words).
(function () {
  "use strict";
  const form = document.getElementById("giftcard-wizard");
  if (!form) return;
  const body = document.getElementById("preview-body");
  function esc(text) {
    const span = document.createElement("span");
    span.textContent = String(text);
    return span.innerHTML;
  }
  function render(data) {
    let html = "";
    if (data.summary) html += '<p class="bo-big">' + esc(data.summary) + "</p>";
    if (data.liability) html += "<p>Money held by the cards: <strong>" + esc(data.liability) + "</strong></p>";
    if (data.codes && data.codes.length) {
      html += "<p>Codes look like:</p><p>" + data.codes.map(function (c) { return "<code>" + esc(c) + "</code>"; }).join("") + "</p>";
    }
    if (data.errors && data.errors.length) {
      html += '<ul class="bo-errors">' + data.errors.map(function (e) { return "<li>" + esc(e) + "</li>"; }).join("") + "</ul>";
    }
    body.innerHTML = html || '<p class="bo-empty">Fill in the face value and the number of cards.</p>';
  }
  let timer = null;
  let sequence = 0;
  function refresh() {
    const mine = ++sequence;
    fetch(form.dataset.previewUrl, {method: "POST", body: new FormData(form), credentials: "same-origin",
                                    headers: {"X-Requested-With": "fetch"}})
      .then(function (response) { return response.json(); })
      .then(function (json) { if (mine === sequence) render(json); })
      .catch(function () {});
  }
  function schedule() { clearTimeout(timer); timer = setTimeout(refresh, 300); }
  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
  refresh();
})();
