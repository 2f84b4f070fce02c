// Administration pages only. A destructive action's form names its question in
// data-confirm-title, data-confirm-text and data-confirm-button; here it is asked in a
// dialog in the page, and the form goes on with confirmed=yes only when the administrator
// confirms. Without this file the route asks on a page of its own.
(function () {
  "use strict";

  var dialog = null;
  var pending = null; // { form, opener, go }

  function build() {
    dialog = document.createElement("dialog");
    dialog.className = "confirm-dialog";
    dialog.id = "confirm-dialog";
    dialog.setAttribute("aria-labelledby", "confirm-dialog-title");
    dialog.setAttribute("aria-describedby", "confirm-dialog-text");

    var title = document.createElement("h2");
    title.id = "confirm-dialog-title";
    var text = document.createElement("p");
    text.id = "confirm-dialog-text";
    var actions = document.createElement("div");
    actions.className = "actions";
    var confirm = document.createElement("button");
    confirm.type = "button";
    confirm.className = "button button--danger";
    confirm.setAttribute("data-confirm-ok", "");
    var cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "button";
    cancel.textContent = "Cancel";
    cancel.setAttribute("data-confirm-cancel", "");
    actions.appendChild(confirm);
    actions.appendChild(cancel);
    dialog.appendChild(title);
    dialog.appendChild(text);
    dialog.appendChild(actions);
    document.body.appendChild(dialog);

    confirm.addEventListener("click", function () {
      dialog.close("confirm");
    });
    cancel.addEventListener("click", function () {
      dialog.close("cancel");
    });
    // Escape closes a modal dialog by itself, as a cancel.
    dialog.addEventListener("close", function () {
      var asked = pending;
      pending = null;
      if (!asked) return;
      if (asked.opener && document.contains(asked.opener)) asked.opener.focus();
      if (dialog.returnValue === "confirm") asked.go();
    });
  }

  function ask(form, opener, go) {
    if (!dialog) build();
    dialog.querySelector("#confirm-dialog-title").textContent = form.getAttribute("data-confirm-title");
    dialog.querySelector("#confirm-dialog-text").textContent = form.getAttribute("data-confirm-text");
    dialog.querySelector("[data-confirm-ok]").textContent = form.getAttribute("data-confirm-button");
    pending = { form: form, opener: opener, go: go };
    dialog.returnValue = "";
    dialog.showModal();
    // The safe answer has the focus, so that Enter pressed by habit changes nothing.
    dialog.querySelector("[data-confirm-cancel]").focus();
  }

  // A form with an empty field goes on unasked: the server says what is missing and
  // changes nothing.
  function incomplete(form) {
    var fields = form.querySelectorAll("input[type='text'], input:not([type]), textarea");
    for (var i = 0; i < fields.length; i++) {
      if (!fields[i].value.trim()) return true;
    }
    return false;
  }

  document.addEventListener("htmx:confirm", function (event) {
    var form = event.detail.elt;
    if (!form || form.tagName !== "FORM" || !form.hasAttribute("data-confirm-title")) return;
    if (form.querySelector("input[name='confirmed']") || incomplete(form)) return;
    event.preventDefault();
    var trigger = event.detail.triggeringEvent;
    var opener = (trigger && trigger.submitter) || form.querySelector("button[type='submit']");
    ask(form, opener, function () {
      var confirmed = document.createElement("input");
      confirmed.type = "hidden";
      confirmed.name = "confirmed";
      confirmed.value = "yes";
      form.appendChild(confirmed);
      event.detail.issueRequest(true);
    });
  });
})();
