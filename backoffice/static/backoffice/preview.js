// Shared by the wizards: escaping, the lists of sample codes and of errors, and the live preview that
// posts the form (debounced) and renders only the newest answer.
window.BackofficePreview = (function () {
  "use strict";
  function esc(text) {
    const span = document.createElement("span");
    span.textContent = String(text);
    return span.innerHTML;
  }
  function codesHtml(codes) {
    if (!codes || !codes.length) return "";
    return "<p>Codes look like:</p><p>" + codes.map(function (c) { return "<code>" + esc(c) + "</code>"; }).join("") + "</p>";
  }
  function errorsHtml(errors) {
    if (!errors || !errors.length) return "";
    return '<ul class="bo-errors">' + errors.map(function (e) { return "<li>" + esc(e) + "</li>"; }).join("") + "</ul>";
  }
  function live(form, render) {
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
  }
  return {esc: esc, codesHtml: codesHtml, errorsHtml: errorsHtml, live: live};
})();
