// Coupon-campaign wizard: live preview (discount on a sample cart, sample codes) and the rule rows.
(function () {
  "use strict";
  const form = document.getElementById("wizard");
  if (!form) return;
  const body = document.getElementById("preview-body");
  const previewButton = document.getElementById("preview-button");
  const addRule = document.getElementById("add-rule");
  const rows = Array.from(form.querySelectorAll("[data-rule-row]"));

  const preview = window.BackofficePreview;
  const esc = preview.esc;

  function render(data) {
    let html = "";
    if (data.summary) html += '<p class="bo-big">' + esc(data.summary) + "</p>";
    (data.carts || []).forEach(function (cart) {
      const item = cart.item_name ? " with " + esc(cart.item_name) + " at " + esc(cart.item_price_text) : "";
      const itemOff = cart.item_name ? " (" + esc(cart.item_discount_text) + " off " + esc(cart.item_name) + ")" : "";
      html += "<p>Cart " + esc(cart.amount_text) + item + " → <strong>" + esc(cart.discount_text) + " off</strong>" +
        itemOff + ", pays " + esc(cart.total_text) + "</p>";
    });
    html += preview.codesHtml(data.codes);
    html += preview.errorsHtml(data.errors);
    body.innerHTML = html || '<p class="bo-empty">Fill in the discount to see what a cart gets.</p>';
  }

  if (previewButton) previewButton.hidden = true;
  preview.live(form, render);

  // Rule rows: show the filled ones and one empty row; "Add a condition" shows the next.
  function filled(row) { return row.querySelector("select").value !== ""; }
  let shown = Math.max(1, rows.filter(filled).length + (rows.some(filled) ? 0 : 0));
  rows.forEach(function (row, index) { row.hidden = index >= shown; });
  function updateAdd() { addRule.hidden = shown >= rows.length; }
  if (addRule) {
    updateAdd();
    addRule.addEventListener("click", function () {
      if (shown < rows.length) { rows[shown].hidden = false; shown += 1; rows[shown - 1].querySelector("select").focus(); }
      updateAdd();
    });
  }
})();
