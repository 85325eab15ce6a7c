// concgrade report: one delegated script for the filters and the expand/collapse buttons (no per-row scripts).
(function () {
  "use strict";
  var form = document.getElementById("filters");
  var tests = Array.prototype.slice.call(document.querySelectorAll("#matrix .test"));
  var shown = document.getElementById("shown-count");

  function applyFilters() {
    var outcome = form.elements.outcome.value;
    var suite = form.elements.suite.value;
    var query = form.elements.q.value.trim().toLowerCase();
    var count = 0;
    for (var i = 0; i < tests.length; i++) {
      var row = tests[i];
      var ok = true;
      if (outcome === "unmet") ok = row.getAttribute("data-unmet") === "1";
      else if (outcome) ok = (" " + row.getAttribute("data-outcomes") + " ").indexOf(" " + outcome + " ") >= 0;
      if (ok && suite) ok = row.getAttribute("data-suite") === suite;
      if (ok && query) ok = row.getAttribute("data-nodeid").toLowerCase().indexOf(query) >= 0;
      row.hidden = !ok;
      if (ok) count++;
    }
    shown.textContent = String(count);
  }

  function setOpen(selector, open) {
    var items = document.querySelectorAll(selector);
    for (var i = 0; i < items.length; i++) items[i].open = open;
  }

  if (form) {
    form.addEventListener("input", applyFilters);
    form.addEventListener("change", applyFilters);
    form.addEventListener("submit", function (event) { event.preventDefault(); });
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-action]") : null;
    if (!button) return;
    var action = button.getAttribute("data-action");
    if (action === "reset") { form.reset(); applyFilters(); }
    else if (action === "expand") setOpen(button.getAttribute("data-target"), true);
    else if (action === "collapse") setOpen(button.getAttribute("data-target"), false);
  });
})();
