// Announcements (afectaciones) and knowledge-base search on the agent desktop (issue 11).
// Its own WebSocket (/ws/anuncios), kept apart from desktop.js. Each announcement is shown
// until its end time, then removed by itself; a new one appears without reloading.
(function () {
  "use strict";
  var box = document.createElement("section");
  box.id = "afectaciones";
  box.className = "tarjeta afectaciones";
  box.setAttribute("aria-live", "polite");
  box.setAttribute("aria-label", "Afectaciones de servicio vigentes");
  box.hidden = true;
  var title = document.createElement("h2");
  title.textContent = "Afectaciones vigentes";
  var list = document.createElement("ul");
  box.appendChild(title);
  box.appendChild(list);
  var main = document.querySelector("main") || document.body;
  main.insertBefore(box, main.firstChild);

  var shown = {};
  function refresh() {
    var now = Date.now();
    Object.keys(shown).forEach(function (id) {
      var item = shown[id];
      var ended = item.end !== null && item.end <= now;
      item.li.hidden = ended || item.start > now;
      if (ended) { item.li.remove(); delete shown[id]; }
    });
    box.hidden = !list.querySelector("li:not([hidden])");
  }
  function show(m) {
    var item = shown[m.id];
    if (!item) {
      item = { li: document.createElement("li") };
      item.li.dataset.anuncio = m.id;
      list.appendChild(item.li);
      shown[m.id] = item;
    }
    item.start = Date.parse(m.valid_from);
    item.end = m.valid_to ? Date.parse(m.valid_to) : null;
    item.li.textContent = m.entity + " (" + m.area + "): " + m.text;
    refresh();
  }
  setInterval(refresh, 15000);

  var delay = 1000;
  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + location.host + "/ws/anuncios");
    ws.onopen = function () { delay = 1000; };
    ws.onmessage = function (event) {
      var m;
      try { m = JSON.parse(event.data); } catch (e) { return; }
      if (m.type === "announcement") { show(m); }
    };
    ws.onclose = function (event) {
      if (event.code === 1008) { return; }  // session ended: the desktop asks to log in
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  connect();

  // Free-text search of the knowledge base: a consulta answered at once.
  var kb = document.createElement("section");
  kb.className = "tarjeta conocimiento";
  kb.innerHTML =
    '<h2>Base de conocimiento</h2>' +
    '<form role="search" id="buscar-articulos"><label>Buscar artículos ' +
    '<input id="q-articulos" name="q" maxlength="80" autocomplete="off"></label> ' +
    '<button type="submit">Buscar</button></form>' +
    '<div id="resultados-articulos" aria-live="polite"></div>';
  main.insertBefore(kb, box.nextSibling);
  var form = kb.querySelector("form");
  var out = kb.querySelector("#resultados-articulos");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var q = kb.querySelector("#q-articulos").value.trim();
    if (q.length < 2) { out.textContent = "Escriba al menos dos letras."; return; }
    fetch("/api/articulos?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        out.textContent = "";
        if (!data.results || !data.results.length) { out.textContent = "Sin artículos para «" + q + "»."; return; }
        data.results.forEach(function (a) {
          var art = document.createElement("article");
          art.className = "articulo";
          var h = document.createElement("h3");
          h.textContent = a.title + " (" + a.entity + ")";
          var body = document.createElement("div");
          body.innerHTML = a.body;  // sanitized on the server (nh3) when it was proposed
          art.appendChild(h);
          art.appendChild(body);
          out.appendChild(art);
        });
      })
      .catch(function () { out.textContent = "No se pudo buscar. Intente de nuevo."; });
  });
})();
