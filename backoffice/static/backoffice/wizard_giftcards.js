// Gift card wizard: live preview (how many cards, the money they hold, sample codes, code-space problems in words).
(function () {
  "use strict";
  const form = document.getElementById("giftcard-wizard");
  if (!form) return;
  const body = document.getElementById("preview-body");
  const preview = window.BackofficePreview;
  const esc = preview.esc;
  function render(data) {
    let html = "";
    if (data.summary) html += '<p class="bo-big">' + esc(data.summary) + "</p>";
    if (data.liability) html += "<p>Money held by the cards: <strong>" + esc(data.liability) + "</strong></p>";
    html += preview.codesHtml(data.codes);
    html += preview.errorsHtml(data.errors);
    body.innerHTML = html || '<p class="bo-empty">Fill in the face value and the number of cards.</p>';
  }
  preview.live(form, render);
})();
