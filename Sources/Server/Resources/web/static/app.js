// Medical Records: small progressive enhancements. Every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Live search: a GET form marked data-live refreshes its page's #results as the user types,
  // by fetching the same page the form would load (same URL, same server-side rendering) and
  // taking its #results. Submitting the form still works the ordinary way.
  document.querySelectorAll("form[data-live]").forEach(function (form) {
    var results = document.getElementById("results");
    if (!results || form.method.toLowerCase() !== "get") { return; }
    var timer = null;
    var latest = 0;
    form.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () {
        var params = new URLSearchParams(new FormData(form));
        var url = form.action + "?" + params.toString();
        var ticket = ++latest;
        fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
          .then(function (response) { return response.ok ? response.text() : null; })
          .then(function (html) {
            if (html === null || ticket !== latest) { return; }
            var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("results");
            if (fresh) { results.replaceWith(fresh); results = fresh; window.history.replaceState(null, "", url); }
          })
          .catch(function () { /* keep the current results; the form still submits normally */ });
      }, 300);
    });
  });
});
