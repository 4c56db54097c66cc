// The work-queue counts in the navigation of every desktop page (GET /api/colas).
(function () {
  "use strict";
  var total = document.getElementById("colas-total");
  if (!total) { return; }
  fetch("/api/colas", { headers: { "Accept": "application/json" }, credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (data) {
      if (!data) { return; }
      var sum = 0;
      var parts = [];
      data.colas.forEach(function (q) { sum += q.casos; parts.push(q.titulo + ": " + q.casos); });
      total.textContent = "(" + sum + ")";
      total.parentNode.title = parts.join(" · ");
    })
    .catch(function () { /* counts are a convenience; the page works without them */ });
})();
