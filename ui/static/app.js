// Progressive enhancement for the dashboard and the portal. Every page
// works without this file; with it:
//   - [data-poll] regions (a message still being delivered) refresh
//     themselves until delivery settles;
//   - [data-copy] buttons copy an element's text to the clipboard;
//   - select[data-autosubmit] submits its form on change;
//   - button[data-add-rows] adds an empty row of inputs (a copy of the
//     last row, as many inputs as the last row has) to a grid of them.
// The Content-Security-Policy allows scripts from this server only, and no
// inline script: keep it that way.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  var POLL_MS = 1000, POLL_MAX = 60;

  function poll(el, left) {
    if (left <= 0) return;
    setTimeout(function () {
      fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById(el.id);
          if (!fresh) return;
          // Keep open the attempts the reader opened.
          el.querySelectorAll("details[open][data-id]").forEach(function (d) {
            var same = fresh.querySelector('details[data-id="' + d.getAttribute("data-id") + '"]');
            if (same) same.open = true;
          });
          el.replaceWith(fresh);
          if (fresh.hasAttribute("data-poll")) poll(fresh, left - 1);
        })
        .catch(function () { /* keep the page as it is; a reload shows the latest */ });
    }, POLL_MS);
  }

  function copy(button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target || !navigator.clipboard) return;
    navigator.clipboard.writeText(target.textContent.trim()).then(function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    });
  }

  // addRow copies the last row of a grid of inputs (its last n inputs,
  // n being the number of columns the grid's headings name), empties the
  // copies and numbers their labels on.
  function addRow(button) {
    var grid = document.getElementById(button.getAttribute("data-add-rows"));
    if (!grid) return;
    var inputs = grid.querySelectorAll("input");
    var cols = grid.querySelectorAll(".meta-head").length || 1;
    if (inputs.length < cols) return;
    var row = Math.floor(inputs.length / cols) + 1;
    var first = null;
    for (var i = inputs.length - cols; i < inputs.length; i++) {
      var copy = inputs[i].cloneNode(false);
      copy.value = "";
      copy.removeAttribute("aria-invalid");
      var label = copy.getAttribute("aria-label");
      if (label) copy.setAttribute("aria-label", label.replace(/\d+$/, String(row)));
      grid.appendChild(copy);
      if (!first) first = copy;
    }
    first.focus();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-poll][id]").forEach(function (el) { poll(el, POLL_MAX); });
    document.querySelectorAll("button[data-copy]").forEach(function (b) {
      b.addEventListener("click", function () { copy(b); });
    });
    document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
      s.addEventListener("change", function () { s.form.submit(); });
    });
    document.querySelectorAll("button[data-add-rows]").forEach(function (b) {
      b.addEventListener("click", function () { addRow(b); });
    });
  });
})();
