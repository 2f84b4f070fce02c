// Waits between code attempts, counted down on the page. The server says the wait in
// words ("about 5 minutes"); with scripts, the time left shows as m:ss and the form's
// submit button ([data-wait-button]) stays hidden until the wait is over. The clock is
// not a live region: only the end of the wait is announced, once.
(function () {
  "use strict";

  function format(seconds) {
    var minutes = Math.floor(seconds / 60);
    var rest = seconds % 60;
    return minutes + ":" + (rest < 10 ? "0" : "") + rest;
  }

  function start(element) {
    if (element.hasAttribute("data-countdown-started")) return;
    element.setAttribute("data-countdown-started", "");
    var seconds = parseInt(element.getAttribute("data-wait-seconds"), 10);
    if (!(seconds > 0)) return;
    var end = Date.now() + seconds * 1000;
    var scope = element.closest("form") || document;
    var buttons = scope.querySelectorAll("[data-wait-button]");
    var running = element.querySelector("[data-countdown-running]");
    var clock = element.querySelector("[data-countdown-clock]");
    var done = element.querySelector("[data-countdown-done]");
    var i;
    for (i = 0; i < buttons.length; i++) buttons[i].hidden = true;
    element.hidden = false;

    function tick() {
      if (!document.contains(element)) return;
      var left = Math.ceil((end - Date.now()) / 1000);
      if (left <= 0) {
        running.hidden = true;
        for (i = 0; i < buttons.length; i++) buttons[i].hidden = false;
        done.textContent = "You can try again now.";
        return;
      }
      clock.textContent = format(left);
      setTimeout(tick, ((end - Date.now()) % 1000) || 1000);
    }
    tick();
  }

  function scan(root) {
    var found = root.querySelectorAll ? root.querySelectorAll("[data-wait-seconds]") : [];
    for (var i = 0; i < found.length; i++) start(found[i]);
    if (root.matches && root.matches("[data-wait-seconds]")) start(root);
  }

  document.addEventListener("DOMContentLoaded", function () { scan(document); });
  document.addEventListener("htmx:load", function (event) { scan(event.detail.elt); });
})();
