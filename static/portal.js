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

  // After a swap that removed the focused element, move focus into the new panel: its
  // first invalid field, else the field to type next, else its heading, else the panel.
  // Keyboard and screen-reader users would otherwise be dropped at the top of the page.
  // Panels that refresh on their own (activity, sessions) leave focus where it is.
  document.addEventListener("htmx:afterSwap", function (event) {
    var focused = document.activeElement;
    if (focused && focused !== document.body && document.contains(focused)) return;
    var target = event.detail.target;
    // An outerHTML swap replaced the target; the new panel carries the same id.
    var panel = target && target.id ? document.getElementById(target.id) : null;
    if (!panel || panel.id === "alerts") return;
    var selectors = ["[aria-invalid='true']", "[autofocus]", "[data-autofocus]", "h2"];
    var element = null;
    for (var i = 0; i < selectors.length && !element; i++) {
      element = panel.querySelector(selectors[i]);
    }
    element = element || panel;
    if ((element.tagName === "H2" || element === panel) && !element.hasAttribute("tabindex")) {
      element.setAttribute("tabindex", "-1");
    }
    element.focus();
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

  // Using one panel clears what other panels and the page's flash messages still say:
  // those notices were about an earlier action, and beside a new one they mislead.
  // Panels that refresh on their own keep theirs (only a person's submit or click counts).
  function clearOtherNotices(source) {
    var panel = source.closest("[hx-target='this']");
    if (!panel) return;
    var notices = document.querySelectorAll("[data-notice], #alerts > *");
    for (var i = 0; i < notices.length; i++) {
      if (!panel.contains(notices[i])) notices[i].remove();
    }
  }
  document.addEventListener("submit", function (event) {
    clearOtherNotices(event.target);
  });
  document.addEventListener("click", function (event) {
    var trigger = event.target.closest("a[hx-get], button[hx-post]");
    if (trigger) clearOtherNotices(trigger);
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.documentElement.classList.add("js");
  });
  document.addEventListener("htmx:load", function () {
    document.documentElement.classList.add("js");
  });
})();
