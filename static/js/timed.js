// Response duration: the time from page load to submit, sent with a timed form (optional).
(function () {
  var started = Date.now();
  document.querySelectorAll("form.js-timed").forEach(function (form) {
    form.addEventListener("submit", function () {
      var field = form.querySelector("input[name=duration_ms]");
      if (field) { field.value = String(Date.now() - started); }
    });
  });
})();
