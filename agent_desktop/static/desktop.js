// Agent desktop: live pop and agent state over a WebSocket, case form with plain fetch.
// All data is written with textContent (never innerHTML), so nothing a caller typed runs.
"use strict";
(function () {
  const body = document.body;
  const csrf = body.dataset.csrf;
  const $ = (id) => document.getElementById(id);
  let socket = null;
  let retry = 500;
  let currentPopId = null;

  function el(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    return node;
  }

  // ---- WebSocket -------------------------------------------------------------------------
  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/ws");
    socket.onopen = () => { retry = 500; setConnection("En línea"); };
    socket.onmessage = (event) => {
      let msg;
      try { msg = JSON.parse(event.data); } catch (e) { return; }
      handle(msg);
    };
    socket.onclose = (event) => {
      setConnection("Sin conexión; reintentando…");
      if (event.code === 1008) { location.href = "/login"; return; }
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }

  function setConnection(text) { const c = $("conexion"); if (c) c.textContent = text; }

  function handle(msg) {
    if (msg.type === "pop") showPop(msg.pop_id, msg.pop);
    else if (msg.type === "pop_closed") { if (msg.pop_id === currentPopId) $("pop-fin").hidden = false; }
    else if (msg.type === "agent_state") showState(msg);
    else if (msg.type === "result") { const r = $("resultado-cola"); if (r) r.textContent = msg.message; }
    else if (msg.type === "expired") location.href = "/login";
  }

  function showState(state) {
    const node = $("estado-agente");
    if (!node) return;
    node.textContent = state.label;
    node.dataset.state = state.state;
  }

  // ---- Queue actions -------------------------------------------------------------------------
  document.querySelectorAll("button[data-accion]").forEach((button) => {
    button.addEventListener("click", () => {
      const action = button.dataset.accion;
      const reason = action === "pause" ? $("motivo-pausa").value : "";
      if (socket && socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify({ type: "queue", action: action, reason: reason, csrf: csrf }));
      } else {
        $("resultado-cola").textContent = "Sin conexión con el servidor; intente de nuevo.";
      }
    });
  });

  // ---- Pop -------------------------------------------------------------------------------------
  function showPop(popId, pop) {
    const samePop = popId === currentPopId;
    currentPopId = popId;
    $("pop").hidden = false;
    $("sin-llamada").hidden = true;
    $("pop-fin").hidden = true;
    $("pop_id").value = popId;
    $("pop-hora").textContent = pop.call.connected_at_local ? "· " + pop.call.connected_at_local : "";
    $("pop-numero").textContent = pop.call.caller_number || "—";
    const ivr = pop.ivr || {};
    $("pop-intencion").textContent = ivr.intent_label || "—";
    $("pop-caso-consultado").textContent = ivr.case_number || "—";
    const identity = pop.identity;
    $("pop-identidad-estado").textContent = identity.label;
    $("pop-candidatos").hidden = identity.status !== "multiple";
    $("pop-busqueda").hidden = !(identity.status === "unknown" || identity.status === "multiple");
    const list = $("pop-candidatos-lista");
    list.replaceChildren();
    for (const candidate of identity.candidates || []) {
      const button = el("button", (candidate.full_name || "(sin nombre)") + " · " + (candidate.cedula || "sin cédula"), { type: "button" });
      button.addEventListener("click", () => chooseCitizen(candidate.id));
      list.appendChild(el("li")).appendChild(button);
    }
    if (identity.citizen) setCitizen(identity.citizen, pop.cases || []);
    else {
      $("pop-nombre").textContent = identity.status === "anonymous" ? "Denuncia anónima" : "No identificado";
      $("pop-cedula").textContent = identity.cedula || "—";
      showCases([]);
      if (!samePop) clearCitizenFields(identity.cedula);
    }
    if (!samePop && ivr.intent && $("tipo").querySelector('option[value="' + ivr.intent + '"]')) {
      $("tipo").value = ivr.intent;
      typeChanged();
    }
    if (!samePop && identity.status === "anonymous") { $("anonimo").checked = true; typeChanged(); }
  }

  function clearCitizenFields(cedula) {
    $("ciudadano_id").value = "";
    $("cedula").value = cedula || "";
    for (const id of ["nombre", "apellido", "telefono"]) $(id).value = "";
  }

  function setCitizen(citizen, cases) {
    $("pop-nombre").textContent = citizen.full_name || "(sin nombre)";
    $("pop-cedula").textContent = citizen.cedula || "—";
    $("ciudadano_id").value = citizen.id;
    $("cedula").value = citizen.cedula || "";
    $("nombre").value = citizen.first_name || "";
    $("apellido").value = citizen.last_name || "";
    $("telefono").value = (citizen.phones || [])[0] || "";
    if (citizen.province) $("provincia").value = citizen.province;
    $("distrito").value = citizen.district || "";
    $("corregimiento").value = citizen.corregimiento || "";
    showCases(cases);
  }

  function showCases(cases) {
    const tbody = $("pop-casos").querySelector("tbody");
    tbody.replaceChildren();
    for (const k of cases) {
      const row = el("tr", null, k.overdue ? { class: "vencido" } : {});
      for (const text of [k.number, k.type_label, k.status_label, k.entity || "—", k.due]) row.appendChild(el("td", text));
      tbody.appendChild(row);
    }
    $("pop-sin-casos").hidden = cases.length > 0;
  }

  async function chooseCitizen(id) {
    const response = await fetch("/api/ciudadanos/" + encodeURIComponent(id), { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const card = await response.json();
    setCitizen(card.citizen, card.cases);
    $("pop-candidatos").hidden = true;
  }

  let searchTimer = null;
  $("buscar-ciudadano").addEventListener("input", (event) => {
    clearTimeout(searchTimer);
    const q = event.target.value.trim();
    searchTimer = setTimeout(async () => {
      const results = $("buscar-ciudadano-resultados");
      results.replaceChildren();
      if (q.length < 3) return;
      const response = await fetch("/api/ciudadanos?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      for (const c of (await response.json()).results) {
        const button = el("button", (c.full_name || "(sin nombre)") + " · " + (c.cedula || "sin cédula"), { type: "button" });
        button.addEventListener("click", () => { results.replaceChildren(); chooseCitizen(c.id); });
        results.appendChild(el("li")).appendChild(button);
      }
    }, 250);
  });

  // ---- Case form -------------------------------------------------------------------------------
  function typeChanged() {
    const type = $("tipo").value;
    $("caja-primer-contacto").hidden = type !== "consulta";
    if (type !== "consulta") $("resuelta_primer_contacto").checked = false;
    $("caja-denuncia").hidden = type !== "denuncia";
    if (type !== "denuncia") { $("confidencial").checked = false; $("anonimo").checked = false; }
    const anonymous = type === "denuncia" && $("anonimo").checked;
    if (anonymous) $("confidencial").checked = true;
    $("datos-ciudadano").disabled = anonymous;
  }
  $("tipo").addEventListener("change", typeChanged);
  $("anonimo").addEventListener("change", typeChanged);

  let serviceTimer = null;
  $("servicio").addEventListener("input", (event) => {
    clearTimeout(serviceTimer);
    $("servicio_id").value = "";
    $("entidad_id").value = "";
    $("servicio-elegido").textContent = "";
    const q = event.target.value.trim();
    serviceTimer = setTimeout(async () => {
      const list = $("servicio-sugerencias");
      list.replaceChildren();
      if (q.length < 2) return;
      const response = await fetch("/api/servicios?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      for (const s of (await response.json()).results) {
        const button = el("button", s.label, { type: "button", "data-servicio": s.id });
        button.addEventListener("click", () => chooseService(s));
        list.appendChild(el("li")).appendChild(button);
      }
    }, 200);
  });

  async function chooseService(s) {
    $("servicio_id").value = s.id;
    $("entidad_id").value = s.entity_id;
    $("servicio").value = s.label;
    $("servicio-elegido").textContent = s.entity + " — " + s.name + " (respuesta en " + s.sla_days + " días hábiles)";
    $("servicio-sugerencias").replaceChildren();
    const response = await fetch("/api/servicios/" + s.id + "/articulos", { headers: { Accept: "application/json" } });
    const box = $("articulos-lista");
    box.replaceChildren();
    if (!response.ok) return;
    const articles = (await response.json()).articles;
    $("articulos").hidden = articles.length === 0;
    for (const a of articles) {
      const details = el("details");
      details.appendChild(el("summary", a.title));
      details.appendChild(el("p", a.body));
      box.appendChild(details);
    }
  }

  $("form-caso").addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = $("error-caso");
    error.hidden = true;
    if (!$("servicio_id").value) {
      error.textContent = "Elija el servicio de la lista (escriba unas letras).";
      error.hidden = false;
      return;
    }
    const button = $("btn-guardar");
    button.disabled = true;
    try {
      const response = await fetch("/casos", {
        method: "POST",
        body: new FormData(event.target),
        headers: { Accept: "application/json", "X-CSRF-Token": csrf },
      });
      const data = await response.json().catch(() => ({ error: "Respuesta no válida del servidor." }));
      if (!response.ok) {
        error.textContent = data.error || "No se pudo guardar el caso.";
        error.hidden = false;
        return;
      }
      $("numero-caso").textContent = data.number_spaced;
      $("numero-caso").dataset.numero = data.number;
      $("codigo-seguimiento").textContent = data.tracking_code_spaced;
      $("caso-detalle").textContent = "Estado: " + data.status_label + " · Fecha límite: " + data.due;
      $("btn-leer-numero").hidden = !data.pop_id;
      $("resultado-lectura").textContent = "";
      $("resultado-caso").hidden = false;
      $("resultado-caso").scrollIntoView();
    } finally {
      button.disabled = false;
    }
  });

  $("btn-leer-numero").addEventListener("click", async () => {
    const form = new FormData();
    form.append("csrf_token", csrf);
    form.append("pop_id", $("pop_id").value);
    form.append("numero", $("numero-caso").dataset.numero || "");
    const response = await fetch("/casos/leer", { method: "POST", body: form, headers: { Accept: "application/json" } });
    const data = await response.json().catch(() => ({}));
    $("resultado-lectura").textContent = data.message || data.error || "No se pudo transferir la llamada.";
  });

  $("btn-nuevo-caso").addEventListener("click", () => {
    $("resultado-caso").hidden = true;
    for (const id of ["descripcion", "servicio", "servicio_id", "entidad_id", "direccion"]) $(id).value = "";
    $("servicio-elegido").textContent = "";
    $("articulos").hidden = true;
  });

  if (body.dataset.interface) connect();
})();
