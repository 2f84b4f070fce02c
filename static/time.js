// Times in the viewer's time zone. The server writes every moment as
// <time datetime="...Z" title="... UTC" data-local>UTC text</time>; this rewrites the text
// in the browser's zone and locale, and says recent and coming moments relatively
// ("5 minutes ago", "in 2 hours"). The UTC value stays in the title. Without scripts the
// UTC text stays as written.
(function () {
  "use strict";

  var MINUTE = 60 * 1000;
  var HOUR = 60 * MINUTE;
  // Nearer than this a moment is said relatively; further, as a date and time.
  var RELATIVE_WITHIN = 12 * HOUR;
  var language = document.documentElement.lang || "en";
  var relative = window.Intl && Intl.RelativeTimeFormat
    ? new Intl.RelativeTimeFormat(language, { numeric: "auto" })
    : null;

  function absolute(date, style) {
    var options = { dateStyle: "medium" };
    if (style !== "date") options.timeStyle = style === "seconds" ? "medium" : "short";
    return new Intl.DateTimeFormat(undefined, options).format(date);
  }

  function near(date, now) {
    var difference = date.getTime() - now;
    var distance = Math.abs(difference);
    if (!relative || distance >= RELATIVE_WITHIN) return null;
    if (distance < MINUTE) return difference <= 0 ? "just now" : "in less than a minute";
    if (distance < HOUR) return relative.format(Math.round(difference / MINUTE), "minute");
    return relative.format(Math.round(difference / HOUR), "hour");
  }

  function localise(root) {
    var now = Date.now();
    var times = (root || document).querySelectorAll("time[data-local]");
    for (var i = 0; i < times.length; i++) {
      var element = times[i];
      var date = new Date(element.getAttribute("datetime"));
      if (isNaN(date.getTime())) continue;
      if (!element.hasAttribute("data-utc")) {
        element.setAttribute("data-utc", element.textContent);
      }
      var utc = element.getAttribute("data-utc");
      var style = element.getAttribute("data-local");
      var full = absolute(date, style);
      // A day alone (such as the day an account was added) is never said relatively, nor is
      // a moment after "until" ("until in 15 minutes" reads wrong): data-exact.
      var said = style === "date" || element.hasAttribute("data-exact") ? null : near(date, now);
      element.textContent = said || full;
      element.setAttribute("title", said ? full + " (" + utc + ")" : utc);
    }
  }

  document.addEventListener("DOMContentLoaded", function () { localise(document); });
  // Panels that htmx swaps in bring their own <time> elements.
  document.addEventListener("htmx:load", function (event) { localise(event.target); });
  // "5 minutes ago" would grow stale on a page left open.
  setInterval(function () { localise(document); }, MINUTE);
})();
