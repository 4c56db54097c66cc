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
  let currentPop = null; // the pop of the call in progress: the only source of form data
  let chosenCitizen = null; // a citizen the agent picked for this call (candidates/search)
  const baseTitle = document.title;

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
    else if (msg.type === "pop_closed") {
      if (msg.pop_id === currentPopId) {
        $("pop-fin").hidden = false;
        $("control-llamada").hidden = true;
        startWrapup(msg.pop_id);
      }
    }
    else if (msg.type === "agent_state") showState(msg);
    else if (msg.type === "result") showResult($("resultado-cola"), msg.ok, msg.message);
    else if (msg.type === "expired") location.href = "/login";
  }

  // Success in green, failure in red (never a success in the error colour).
  function showResult(node, ok, text) {
    if (!node) return;
    node.textContent = text;
    node.className = ok ? "exito" : "error";
  }

  function showState(state) {
    const node = $("estado-agente");
    if (!node) return;
    $("estado-etiqueta").textContent = state.label;
    node.dataset.state = state.state;
    node.dataset.at = state.at || "";
    tickStateTime();
    reflectState(state.state);
  }

  // Buttons follow the state Asterisk reported: no "Conectarse" while a member, etc.
  const ENABLED = {
    logged_out: ["join"],
    unknown: ["join", "leave"],
    available: ["pause", "leave"],
    ringing: ["pause", "leave"],
    in_call: ["pause", "leave"],
    unavailable: ["pause", "leave"],
    paused: ["resume", "leave"],
  };
  function reflectState(state) {
    const enabled = ENABLED[state] || ENABLED.unknown;
    document.querySelectorAll("button[data-accion]").forEach((b) => {
      b.disabled = !enabled.includes(b.dataset.accion);
    });
    const reason = $("motivo-pausa");
    if (reason) reason.disabled = !enabled.includes("pause");
  }

  // "En llamada · 3 min 12 s": time since the state Asterisk reported began.
  function duration(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    if (h) return h + " h " + m + " min";
    if (m) return m + " min " + r + " s";
    return r + " s";
  }
  function tickStateTime() {
    const node = $("estado-agente");
    if (!node || !node.dataset.at) return;
    const since = Date.parse(node.dataset.at);
    if (!isNaN(since)) $("estado-tiempo").textContent = "· " + duration((Date.now() - since) / 1000);
  }
  if ($("estado-agente")) {
    reflectState($("estado-agente").dataset.state);
    tickStateTime();
    setInterval(tickStateTime, 1000);
  }

  // ---- Queue actions -------------------------------------------------------------------------
  document.querySelectorAll("button[data-accion]").forEach((button) => {
    button.addEventListener("click", () => {
      const action = button.dataset.accion;
      const reason = action === "pause" ? $("motivo-pausa").value : "";
      if (socket && socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify({ type: "queue", action: action, reason: reason, csrf: csrf }));
      } else {
        showResult($("resultado-cola"), false, "Sin conexión con el servidor; intente de nuevo.");
      }
    });
  });

  // ---- Pop -------------------------------------------------------------------------------------
  function showPop(popId, pop) {
    const samePop = popId === currentPopId;
    currentPopId = popId;
    currentPop = pop;
    if (!samePop) {
      chosenCitizen = null;
      $("resultado-caso").hidden = true;
      resetForm();
      announceCall(pop);
      setHeld(false);
      $("resultado-llamada").textContent = "";
      $("control-llamada").hidden = false;
      loadTargets();
    }
    $("pop").hidden = false;
    $("sin-llamada").hidden = true;
    $("pop-fin").hidden = true;
    $("pop_id").value = popId;
    $("pop-hora").textContent = (pop.call.connected_at_local ? "· " + pop.call.connected_at_local : "") +
      // Delivered after a database outage (issue 15): say so, the call may be over already.
      (pop.late ? " · ficha entregada con retraso" : "");
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
    if (identity.citizen) showCitizen(identity.citizen, pop.cases || []);
    else {
      $("pop-nombre").textContent = identity.status === "anonymous" ? "Denuncia anónima" : "No identificado";
      $("pop-cedula").textContent = identity.cedula || "—";
      showCases([]);
    }
    if (!samePop) fillFromCall();
  }

  // Fill the (already clean) form from this call only: IVR choice, identified citizen, caller ID.
  function fillFromCall() {
    const pop = currentPop;
    if (!pop) return;
    const identity = pop.identity || {};
    const ivr = pop.ivr || {};
    const citizen = chosenCitizen || identity.citizen;
    if (citizen) fillCitizen(citizen);
    else $("cedula").value = identity.cedula || "";
    if (!$("telefono").value && identity.status !== "anonymous") {
      $("telefono").value = pop.call.caller_number || "";
    }
    if (ivr.intent && $("tipo").querySelector('option[value="' + ivr.intent + '"]')) $("tipo").value = ivr.intent;
    if (identity.status === "anonymous") { $("tipo").value = "denuncia"; typeChanged(); $("anonimo").checked = true; }
    typeChanged();
  }

  // A clean form: nothing of an earlier call or case survives, and a fresh submission key.
  function resetForm() {
    const form = $("form-caso");
    form.reset();
    for (const id of ["ciudadano_id", "servicio_id", "entidad_id"]) $(id).value = "";
    $("pop_id").value = currentPopId || "";
    $("clave_envio").value = newKey();
    $("servicio-elegido").textContent = "";
    closeSuggestions();
    $("articulos").hidden = true;
    $("articulos-lista").replaceChildren();
    $("error-caso").hidden = true;
    typeChanged();
  }

  function newKey() {
    const bytes = new Uint8Array(18);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // Call arrival: page title, a short tone, focus on the pop, a spoken announcement.
  function announceCall(pop) {
    const who = (pop.identity && pop.identity.citizen && pop.identity.citizen.full_name) || "llamante no identificado";
    document.title = "● Llamada entrante · " + baseTitle;
    $("aviso-llamada").textContent = "Llamada entrante: " + who + ".";
    beep();
    requestAnimationFrame(() => $("pop-titulo").focus());
  }
  window.addEventListener("focus", () => { document.title = baseTitle; });
  document.addEventListener("keydown", () => { document.title = baseTitle; }, { once: false, capture: true });

  let audio = null;
  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.value = 0.15;
      osc.connect(gain).connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.25);
    } catch (e) { /* no audio device: the title and the announcement remain */ }
  }

  function fillCitizen(citizen) {
    $("ciudadano_id").value = citizen.id;
    $("cedula").value = citizen.cedula || "";
    $("nombre").value = citizen.first_name || "";
    $("apellido").value = citizen.last_name || "";
    $("telefono").value = (citizen.phones || [])[0] || "";
    $("provincia").value = citizen.province || "";
    $("distrito").value = citizen.district || "";
    $("corregimiento").value = citizen.corregimiento || "";
  }

  function showCitizen(citizen, cases) {
    $("pop-nombre").textContent = citizen.full_name || "(sin nombre)";
    $("pop-cedula").textContent = citizen.cedula || "—";
    showCases(cases);
  }

  function setCitizen(citizen, cases) {
    chosenCitizen = citizen;
    showCitizen(citizen, cases);
    fillCitizen(citizen);
    if (!$("telefono").value && currentPop) $("telefono").value = currentPop.call.caller_number || "";
  }

  function showCases(cases) {
    const tbody = $("pop-casos").querySelector("tbody");
    tbody.replaceChildren();
    for (const k of cases) {
      const row = el("tr", null, k.overdue ? { class: "vencido" } : {});
      const numberCell = el("td");
      const link = el("a", k.number, { href: "/casos/" + encodeURIComponent(k.number), target: "_blank", rel: "noopener" });
      numberCell.appendChild(link);  // the case page opens beside the call
      row.appendChild(numberCell);
      for (const text of [k.type_label, k.status_label, k.entity || "—", k.due]) row.appendChild(el("td", text));
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

  // ---- Service type-ahead: a WAI-ARIA combobox (list autocomplete) ------------------------
  const combo = $("servicio");
  const listbox = $("servicio-sugerencias");
  let serviceTimer = null;
  let options = [];
  let active = -1;
  let searchSeq = 0;

  function closeSuggestions() {
    listbox.replaceChildren();
    listbox.hidden = true;
    options = [];
    active = -1;
    combo.setAttribute("aria-expanded", "false");
    combo.removeAttribute("aria-activedescendant");
  }

  function setActive(index) {
    active = index;
    listbox.querySelectorAll("[role=option]").forEach((node, i) => node.setAttribute("aria-selected", i === index ? "true" : "false"));
    if (index >= 0) {
      const node = $("servicio-opcion-" + index);
      combo.setAttribute("aria-activedescendant", node.id);
      node.scrollIntoView({ block: "nearest" });
    } else combo.removeAttribute("aria-activedescendant");
  }

  function showSuggestions(results) {
    listbox.replaceChildren();
    options = results;
    active = -1;
    results.forEach((s, i) => {
      const li = el("li", s.label, { role: "option", id: "servicio-opcion-" + i, "aria-selected": "false", "data-servicio": s.id });
      li.addEventListener("mousedown", (e) => e.preventDefault()); // keep focus in the input
      li.addEventListener("click", () => chooseService(s));
      listbox.appendChild(li);
    });
    if (results.length === 0) listbox.appendChild(el("li", "Sin resultados; pruebe otra palabra.", { class: "sin-resultados", "aria-disabled": "true" }));
    listbox.hidden = false;
    combo.setAttribute("aria-expanded", results.length ? "true" : "false");
  }

  combo.addEventListener("input", () => {
    clearTimeout(serviceTimer);
    $("servicio_id").value = "";
    $("entidad_id").value = "";
    $("servicio-elegido").textContent = "";
    const q = combo.value.trim();
    if (q.length < 2) { closeSuggestions(); return; }
    serviceTimer = setTimeout(async () => {
      const seq = ++searchSeq;
      const response = await fetch("/api/servicios?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" } });
      if (!response.ok || seq !== searchSeq) return;
      const results = (await response.json()).results;
      if (seq === searchSeq) showSuggestions(results);
    }, 200);
  });

  combo.addEventListener("keydown", (event) => {
    const open = !listbox.hidden && options.length > 0;
    if (event.key === "ArrowDown") {
      event.preventDefault();
      if (open) setActive((active + 1) % options.length);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      if (open) setActive(active <= 0 ? options.length - 1 : active - 1);
    } else if (event.key === "Enter") {
      // Enter picks the highlighted suggestion; it never submits while suggestions show.
      if (!listbox.hidden) {
        event.preventDefault();
        if (open) chooseService(options[active >= 0 ? active : 0]);
      }
    } else if (event.key === "Escape") {
      if (!listbox.hidden) { event.preventDefault(); closeSuggestions(); }
    }
  });
  combo.addEventListener("blur", () => setTimeout(closeSuggestions, 150));

  async function chooseService(s) {
    $("servicio_id").value = s.id;
    $("entidad_id").value = s.entity_id;
    $("servicio").value = s.label;
    $("servicio-elegido").textContent = "Elegido: " + s.entity + " — " + s.name + " (" + s.sla_text + ")";
    closeSuggestions();
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
      const sameCase = $("numero-caso").dataset.numero === data.number;
      $("numero-caso").textContent = data.number_spaced;
      $("numero-caso").dataset.caseId = data.case_id;
      $("numero-caso").dataset.popId = data.pop_id || "";
      $("numero-caso").dataset.numero = data.number;
      // A repeated submission gets the first case back, but its code only exists in clear
      // in the first answer: keep the one on screen.
      if (data.tracking_code_spaced) {
        $("codigo-seguimiento").textContent = data.tracking_code_spaced;
      } else if (!sameCase) {
        $("codigo-seguimiento").textContent = "ya mostrado al guardar (genere uno nuevo desde la ficha del ciudadano)";
      }
      $("caso-detalle").textContent = "Estado: " + data.status_label + " · Fecha límite: " + data.due;
      $("btn-leer-numero").hidden = !data.pop_id;
      $("resultado-lectura").textContent = "";
      $("resultado-caso").hidden = false;
      $("resultado-caso").scrollIntoView();
      $("resultado-caso-titulo").focus();
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
    showResult($("resultado-lectura"), response.ok && data.ok !== false, data.message || data.error || "No se pudo transferir la llamada.");
  });

  // Another case for the same call: a clean form, filled again from this call only.
  $("btn-nuevo-caso").addEventListener("click", () => {
    $("resultado-caso").hidden = true;
    resetForm();
    fillFromCall();
    $("tipo").focus();
  });

  // ---- After-call work: a wrap-up code for every call, case or no case -------------------
  let wrapupPopId = null;
  let wrapupTimer = null;
  async function startWrapup(popId) {
    if (wrapupPopId === popId) return;
    wrapupPopId = popId;
    $("trabajo-posterior").hidden = false;
    $("codigo-cierre").value = $("numero-caso").dataset.popId === String(popId) ? "caso_registrado" : "";
    $("nota-cierre").value = "";
    $("resultado-cierre").textContent = "";
    const form = new FormData();
    form.append("csrf_token", csrf);
    form.append("pop_id", popId);
    let paused = false;
    fetch("/agente/cierre/inicio", { method: "POST", body: form, headers: { Accept: "application/json" } })
      .then((r) => r.json()).then((d) => { paused = !!d.pause; }).catch(() => {});
    const until = Date.now() + 1000 * Number(body.dataset.wrapupSeconds || 0);
    clearInterval(wrapupTimer);
    const tick = () => {
      const left = Math.max(0, Math.round((until - Date.now()) / 1000));
      $("trabajo-posterior-tiempo").textContent = left ? "· quedan " + duration(left) : "· tiempo cumplido";
      if (!left) {
        clearInterval(wrapupTimer);
        // The wrap-up time is over: back in the queue (the code can still be saved after).
        if (paused && socket && socket.readyState === WebSocket.OPEN) {
          socket.send(JSON.stringify({ type: "queue", action: "resume", reason: "", csrf: csrf }));
        }
      }
    };
    tick();
    wrapupTimer = setInterval(tick, 1000);
  }

  $("btn-cierre").addEventListener("click", async () => {
    const out = $("resultado-cierre");
    if (!$("codigo-cierre").value) { showResult(out, false, "Elija cómo terminó la llamada."); $("codigo-cierre").focus(); return; }
    const form = new FormData();
    form.append("csrf_token", csrf);
    form.append("pop_id", wrapupPopId || "");
    form.append("codigo", $("codigo-cierre").value);
    form.append("nota", $("nota-cierre").value);
    if ($("numero-caso").dataset.popId === String(wrapupPopId)) form.append("caso_id", $("numero-caso").dataset.caseId || "");
    const response = await fetch("/agente/cierre", { method: "POST", body: form, headers: { Accept: "application/json" } });
    const data = await response.json().catch(() => ({}));
    showResult(out, response.ok && data.ok, data.message || data.error || "No se pudo guardar el cierre.");
    if (response.ok && data.ok) {
      clearInterval(wrapupTimer);
      $("trabajo-posterior-tiempo").textContent = "";
      setTimeout(() => { $("trabajo-posterior").hidden = true; }, 1500);
    }
  });

  // ---- Call control (AMI through the server): hold, resume, transfer, hang up -------------
  async function loadTargets() {
    const select = $("destino-transferencia");
    if (!select || select.dataset.loaded) return;
    const response = await fetch("/api/transferencias", { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    for (const t of (await response.json()).targets) select.appendChild(el("option", t.label, { value: t.id }));
    select.dataset.loaded = "1";
  }

  function setHeld(held) {
    $("btn-espera").hidden = held;
    $("btn-reanudar-llamada").hidden = !held;
  }

  document.querySelectorAll("button[data-llamada]").forEach((button) => {
    button.addEventListener("click", async () => {
      const action = button.dataset.llamada;
      const out = $("resultado-llamada");
      if ((action === "transferir" || action === "consultar") && !$("destino-transferencia").value) {
        showResult(out, false, "Elija a quién transferir la llamada.");
        $("destino-transferencia").focus();
        return;
      }
      const form = new FormData();
      form.append("csrf_token", csrf);
      form.append("pop_id", currentPopId || "");
      form.append("accion", action);
      form.append("destino", $("destino-transferencia").value);
      button.disabled = true;
      try {
        const response = await fetch("/agente/llamada", { method: "POST", body: form, headers: { Accept: "application/json" } });
        const data = await response.json().catch(() => ({}));
        showResult(out, response.ok && data.ok, data.message || data.error || "No se pudo.");
        if (response.ok && data.ok) {
          if (action === "espera") setHeld(true);
          if (action === "reanudar") setHeld(false);
        }
      } finally {
        button.disabled = false;
      }
    });
  });

  // Visible keyboard shortcuts (Alt+letter), listed under the form.
  const SHORTCUTS = {
    t: () => $("tipo").focus(),
    s: () => combo.focus(),
    d: () => $("descripcion").focus(),
    g: () => $("form-caso").requestSubmit(),
    l: () => { if (!$("resultado-caso").hidden && !$("btn-leer-numero").hidden) $("btn-leer-numero").click(); },
    n: () => { if (!$("resultado-caso").hidden) $("btn-nuevo-caso").click(); },
  };
  document.addEventListener("keydown", (event) => {
    if (!event.altKey || event.ctrlKey || event.metaKey) return;
    const action = SHORTCUTS[(event.code || "").replace("Key", "").toLowerCase()];
    if (action) { event.preventDefault(); action(); }
  });

  if (body.dataset.interface) connect();
})();
