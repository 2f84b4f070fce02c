// Progressive enhancement only: every action also works as a plain form without this file.
(function () {
  "use strict";

  // htmx requests carry the CSRF token in a header, read from the page's meta tag.
  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) {
      event.detail.headers["X-CSRFToken"] = meta.getAttribute("content");
    }
  });

  // After a swap, move focus to the new panel's heading or first error, for keyboard
  // and screen-reader users who would otherwise be left on a removed element.
  document.addEventListener("htmx:afterSwap", function (event) {
    var panel = event.detail.elt;
    if (!panel || !panel.querySelector) return;
    var target = panel.querySelector("[aria-invalid='true'], [data-autofocus], h2");
    if (target) {
      if (!target.hasAttribute("tabindex") && target.tagName === "H2") {
        target.setAttribute("tabindex", "-1");
      }
      target.focus();
    }
  });

  // Copy and print buttons (shown only when scripts run; see [data-needs-js]).
  document.addEventListener("click", function (event) {
    var copy = event.target.closest("[data-copy-target]");
    if (copy) {
      var source = document.getElementById(copy.getAttribute("data-copy-target"));
      if (source && navigator.clipboard) {
        navigator.clipboard.writeText(source.innerText.trim()).then(function () {
          var label = copy.textContent;
          copy.textContent = "Copied";
          setTimeout(function () { copy.textContent = label; }, 2000);
        });
      }
      return;
    }
    if (event.target.closest("[data-print]")) {
      window.print();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.documentElement.classList.add("js");
  });
  document.addEventListener("htmx:load", function () {
    document.documentElement.classList.add("js");
  });
})();
