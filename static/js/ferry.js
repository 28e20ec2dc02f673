/* Ferry's only script of its own (the CSP allows no inline script). Everything works
   without it: it adds a confirmation before destructive buttons and a sentence when a
   live request gets no usable answer. */
(function () {
  "use strict";

  // <form data-confirm="Disconnect ...?"> (or a submit button with it, which htmx's
  // hx-confirm does not see): ask before a plain or htmx submit. Once asked here, the
  // post says confirmed=1 so the server does not ask again with its page (what a
  // browser without JavaScript gets instead).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = event.submitter;
    var question = (button && button.getAttribute("data-confirm")) ||
      (form.getAttribute && form.getAttribute("data-confirm"));
    if (!question) { return; }
    if (!window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
      return;
    }
    if (!form.querySelector("input[name=confirmed]")) {
      var confirmed = document.createElement("input");
      confirmed.type = "hidden";
      confirmed.name = "confirmed";
      confirmed.value = "1";
      form.appendChild(confirmed);
    }
  }, true);

  function say(text) {
    var box = document.getElementById("request-problem");
    if (!box) { return; }
    box.textContent = text;
    box.hidden = !text;
  }

  // 4xx answers are swapped in (layout.html's htmx-config); these are the rest.
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    say("Ferry could not finish that (error " + status + "). Nothing was lost: reload " +
        "the page and try again; if it keeps happening, the web log says why.");
  });
  document.addEventListener("htmx:sendError", function () {
    say("Ferry is not answering. Check that it is running, then reload the page; " +
        "nothing you typed was saved meanwhile.");
  });
  // A refused form comes back with its sentence (role="alert"): bring it into view.
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    var where = (target && target.id && document.getElementById(target.id)) || target;
    var alert = where && where.querySelector && where.querySelector("[role=alert]");
    if (alert && alert.scrollIntoView) { alert.scrollIntoView({block: "nearest"}); }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.successful) { say(""); }
  });
}());
