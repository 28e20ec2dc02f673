/* Ferry's only script of its own (the CSP allows no inline script). Everything works
   without it: it adds a confirmation before destructive buttons and a sentence when a
   live request gets no usable answer. */
(function () {
  "use strict";

  // <form data-confirm="Disconnect ...?">: ask before a plain or htmx submit.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
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
