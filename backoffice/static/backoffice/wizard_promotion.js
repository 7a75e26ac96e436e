// Promotion wizard: live preview (which tiers a sample cart gets, by the engine) and the tier rows.
(function () {
  "use strict";
  const form = document.getElementById("promotion-wizard");
  if (!form) return;
  const body = document.getElementById("preview-body");
  const previewButton = document.getElementById("preview-button");
  const addTier = document.getElementById("add-tier");
  const rows = Array.from(form.querySelectorAll("[data-tier-row]"));
  const NOT_COMBINED = "Not together with the tiers above: the stacking rules let fewer apply at once.";

  const preview = window.BackofficePreview;
  const esc = preview.esc;

  function render(data) {
    let html = "";
    if (data.at_text) {
      html += "<p>Cart " + esc(data.cart_text) + (data.shipping ? " (with shipping)" : "") + " on " + esc(data.at_text) + "</p>";
    }
    (data.tiers || []).forEach(function (tier) {
      html += '<div class="bo-tier-result ' + (tier.applies ? "ok" : "no") + '"><strong>' + esc(tier.name) + "</strong>: " +
        (tier.applies ? esc(tier.discount_text) + " off" + (tier.combined ? "" : "<p>" + NOT_COMBINED + "</p>") :
         "does not apply<p>" + esc(tier.reason) + "</p>") + "</div>";
    });
    if (data.tiers && data.tiers.length) html += '<p class="bo-big">' + esc(data.total_discount_text) + " off</p>";
    html += preview.errorsHtml(data.errors);
    body.innerHTML = html || '<p class="bo-empty">Fill in a tier to see what a cart gets.</p>';
  }

  if (previewButton) previewButton.hidden = true;
  preview.live(form, render);

  // Tier rows: the filled ones and at least one; "Add a tier" shows the next.
  function filled(row) {
    return Array.from(row.querySelectorAll("input[type=text], input[type=number]")).some(function (i) { return i.value; }) ||
      row.querySelector("select").value !== "PERCENT_ORDER";
  }
  // Only the fields the chosen kind uses: no value for free shipping, a product or collection when targeted.
  function fit(row) {
    const kind = row.querySelector("select").value;
    const value = row.querySelector("[id$='-value']").closest(".bo-field");
    const target = row.querySelector("[id$='-target']").closest(".bo-field");
    value.hidden = kind === "FREE_SHIPPING";
    target.hidden = kind !== "PERCENT_PRODUCT" && kind !== "PERCENT_COLLECTION";
  }
  rows.forEach(function (row) {
    fit(row);
    row.querySelector("select").addEventListener("change", function () { fit(row); });
  });
  let shown = Math.max(1, rows.filter(filled).length);
  rows.forEach(function (row, index) { row.hidden = index >= shown; });
  function updateAdd() { addTier.hidden = shown >= rows.length; }
  if (addTier) {
    updateAdd();
    addTier.addEventListener("click", function () {
      if (shown < rows.length) { rows[shown].hidden = false; shown += 1; rows[shown - 1].querySelector("input").focus(); }
      updateAdd();
    });
  }
})();
