// Supervisor wallboard: whole snapshots pushed over a WebSocket; the chart is inline SVG.
// No external library (the network is closed); the CSP forbids inline scripts and styles,
// so everything here sets text, attributes and classes only.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const dataEl = document.getElementById("tablero-datos");
  if (!dataEl) return;
  let snap = JSON.parse(dataEl.textContent);
  let receivedAt = Date.now();
  let socket = null;
  let retry = 500;

  const $ = (id) => document.getElementById(id);

  // es-PA through the browser's CLDR data (the server uses Babel with the same data).
  const NUM = new Intl.NumberFormat("es-PA", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const INT = new Intl.NumberFormat("es-PA");
  const PLURAL = new Intl.PluralRules("es-PA");
  function pct(v) {
    return v === null || v === undefined ? "sin datos" : NUM.format(v) + " %";
  }
  function count(n, one, other) {
    return INT.format(n) + " " + (PLURAL.select(n) === "one" ? one : other);
  }

  function duration(s) {
    if (s === null || s === undefined) return "—";
    const total = Math.round(s);
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const sec = total % 60;
    const two = (n) => String(n).padStart(2, "0");
    if (h) return h + " h " + two(m) + " min";
    if (m) return m + " min " + two(sec) + " s";
    return sec + " s";
  }

  function setText(id, value) {
    const el = $(id);
    if (el && el.textContent !== String(value)) el.textContent = String(value);
  }

  function svg(name, attrs, parent) {
    const el = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    if (parent) parent.appendChild(el);
    return el;
  }

  // Service level per 15 minutes against the goal.
  function drawChart(s) {
    const box = $("grafico");
    if (!box) return;
    const W = 1200, H = 250, L = 52, R = 12, T = 12, B = 30;
    const pw = W - L - R, ph = H - T - B;
    const items = s.quarters;
    const n = Math.max(items.length, 1);
    const bw = pw / n;
    const y = (p) => T + ph * (1 - p / 100);
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, "data-intervalos": items.length });
    const defs = svg("defs", {}, root);
    const pattern = svg("pattern", {
      id: "rayado", patternUnits: "userSpaceOnUse", width: 6, height: 6,
      patternTransform: "rotate(45)",
    }, defs);
    svg("rect", { width: 3, height: 6, class: "raya" }, pattern);
    for (const p of [0, 25, 50, 75, 100]) {
      svg("line", { x1: L, x2: W - R, y1: y(p), y2: y(p), class: "rejilla" }, root);
      svg("text", { x: L - 6, y: y(p) + 5, "text-anchor": "end" }, root).textContent = p + " %";
    }
    items.forEach((it, i) => {
      const x = L + i * bw;
      const g = svg("g", { "data-inicio": it.label }, root);
      if (it.incomplete && !it.future) {
        g.setAttribute("data-incompleto", "si");
        svg("rect", { x: x, y: T, width: bw, height: ph, class: "fondo-incompleto" }, g);
        svg("title", {}, g).textContent =
          it.label + ": intervalo incompleto (enlace con la central caído)";
      }
      if (it.percent !== null && !it.future) {
        const top = y(it.percent);
        const bar = svg("rect", {
          x: x + bw * 0.1, y: top, width: bw * 0.8, height: Math.max(T + ph - top, 1),
          class: it.percent >= s.service_level.goal ? "barra-ok" : "barra-bajo",
        }, g);
        svg("title", {}, bar).textContent =
          `${it.label}: ${pct(it.percent)} (${it.numerator} de ${it.denominator})` +
          (it.incomplete ? " · incompleto" : "");
      }
      if (i % 8 === 0) {
        svg("text", { x: x, y: H - 8, "text-anchor": "start" }, root).textContent = it.label;
      }
    });
    svg("line", { x1: L, x2: W - R, y1: T + ph, y2: T + ph, class: "eje" }, root);
    const goal = s.service_level.goal;
    svg("line", { x1: L, x2: W - R, y1: y(goal), y2: y(goal), class: "meta" }, root);
    svg("text", { x: W - R - 2, y: y(goal) - 5, "text-anchor": "end", class: "meta-texto" }, root)
      .textContent = "Meta " + pct(goal);
    box.replaceChildren(root);
  }

  // Calls still waiting at the end of each 15 minutes.
  function drawWaiting(s) {
    const box = $("grafico-espera");
    if (!box) return;
    const W = 1200, H = 170, L = 52, R = 12, T = 10, B = 28;
    const pw = W - L - R, ph = H - T - B;
    const items = s.quarters;
    const bw = pw / Math.max(items.length, 1);
    const top = Math.max(4, ...items.filter((it) => !it.future).map((it) => it.waiting));
    const y = (v) => T + ph * (1 - v / top);
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, "data-intervalos": items.length });
    for (const v of [0, Math.round(top / 2), top]) {
      svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "rejilla" }, root);
      svg("text", { x: L - 6, y: y(v) + 5, "text-anchor": "end" }, root).textContent = INT.format(v);
    }
    items.forEach((it, i) => {
      const x = L + i * bw;
      if (!it.future && it.waiting > 0) {
        const bar = svg("rect", {
          x: x + bw * 0.1, y: y(it.waiting), width: bw * 0.8, height: Math.max(T + ph - y(it.waiting), 1),
          class: "barra-espera",
        }, root);
        svg("title", {}, bar).textContent = `${it.label}: ${count(it.waiting, "llamada en espera", "llamadas en espera")}`;
      }
      if (i % 8 === 0) svg("text", { x: x, y: H - 8, "text-anchor": "start" }, root).textContent = it.label;
    });
    svg("line", { x1: L, x2: W - R, y1: T + ph, y2: T + ph, class: "eje" }, root);
    box.replaceChildren(root);
  }

  function renderAlerts(s) {
    const box = $("alertas");
    if (!box) return;
    const text = (s.alerts || []).map((a) => a.kind + ":" + a.text).join("|");
    if (box.dataset.current === text) return; // unchanged: do not re-announce
    box.dataset.current = text;
    box.replaceChildren(...(s.alerts || []).map((a) => {
      const p = document.createElement("p");
      p.className = "alerta";
      p.dataset.kind = a.kind;
      p.textContent = a.text;
      return p;
    }));
  }

  function renderAgents(s) {
    const counts = $("agentes-conteo");
    if (counts) {
      for (const li of counts.querySelectorAll("li[data-state]")) {
        const n = li.querySelector(".n");
        if (n) n.textContent = String(s.agents.counts[li.dataset.state] ?? 0);
      }
    }
    const body = $("agentes-lista");
    if (!body) return;
    // Agents by name, never by their phone interface; the state with the time in it.
    const rows = s.agents.list.map((a) => {
      const tr = document.createElement("tr");
      tr.dataset.state = a.state;
      const name = document.createElement("td");
      name.textContent = a.name;
      const state = document.createElement("td");
      state.dataset.since = a.since || "";
      state.dataset.label = a.label;
      const spy = document.createElement("td");
      if (a.state === "in_call") {
        for (const [mode, label] of SPY_MODES) {
          const b = document.createElement("button");
          b.type = "button";
          b.textContent = label;
          b.setAttribute("aria-label", label + " la llamada de " + a.name);
          b.addEventListener("click", () => spyOn(a.interface, mode));
          spy.appendChild(b);
        }
      }
      tr.append(name, state, spy);
      return tr;
    });
    body.replaceChildren(...rows);
    tickAgents();
  }

  // Supervisors join an agent's call from here (ChanSpy over AMI; the server checks the role).
  const SPY_MODES = [["escuchar", "Escuchar"], ["susurrar", "Susurrar"], ["intervenir", "Intervenir"]];
  async function spyOn(interface_, mode) {
    const form = new FormData();
    form.append("csrf_token", document.body.dataset.csrf || "");
    form.append("agente", interface_);
    form.append("modo", mode);
    const out = $("resultado-espia");
    const response = await fetch("/supervisor/espiar", { method: "POST", body: form, headers: { Accept: "application/json" } });
    const data = await response.json().catch(() => ({}));
    out.textContent = data.message || data.error || "No se pudo.";
    out.className = response.ok && data.ok ? "exito" : "error";
  }

  function tickAgents() {
    const body = $("agentes-lista");
    if (!body) return;
    for (const td of body.querySelectorAll("td[data-since]")) {
      const label = td.dataset.label || td.textContent;
      td.dataset.label = label;
      const since = Date.parse(td.dataset.since);
      const text = isNaN(since) ? label : label + " · " + duration((Date.now() - since) / 1000);
      if (td.textContent !== text) td.textContent = text;
    }
  }

  function render(s) {
    const sl = s.service_level;
    setText("en-espera", s.waiting.count);
    setText("nivel-servicio", sl.percent === null ? "sin llamadas" : pct(sl.percent));
    const slEl = $("nivel-servicio");
    if (slEl) {
      slEl.dataset.cumple = sl.meets_goal === null ? "" : sl.meets_goal ? "si" : "no";
      slEl.classList.toggle("sin-datos", sl.percent === null);
    }
    setText("nivel-servicio-base", `${INT.format(sl.numerator)} de ${count(sl.denominator, "llamada", "llamadas")}`);
    setText("abandonadas", s.abandoned.count);
    setText("abandono-pct", pct(s.abandoned.percent));
    setText("abandonos-cortos", count(s.abandoned.short, "abandono corto", "abandonos cortos"));
    setText("ofrecidas", count(s.offered, "llamada ofrecida", "llamadas ofrecidas"));
    setText("atendidas", count(s.answered, "llamada atendida", "llamadas atendidas"));
    setText("asa", duration(s.asa_seconds));
    setText("actualizado", (s.generated_at || "").slice(11, 19));
    const warn = $("aviso-incompleto");
    if (warn) warn.hidden = !s.incomplete;
    tick();
    renderAgents(s);
    renderAlerts(s);
    drawChart(s);
    drawWaiting(s);
  }

  // The longest wait grows between snapshots: count it on locally.
  function tick() {
    const w = snap.waiting.longest_seconds;
    const now = w === null ? null : w + (Date.now() - receivedAt) / 1000;
    setText("espera-maxima", now === null ? "—" : duration(now));
    const panel = $("panel-espera");
    if (panel) panel.dataset.alerta = now !== null && now > snap.thresholds.service_level_seconds ? "si" : "no";
    tickAgents();
  }

  function status(text, state) {
    const el = $("conexion");
    if (!el) return;
    el.textContent = text;
    el.dataset.estado = state;
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/supervisor/tablero/ws");
    socket.onopen = () => {
      retry = 500;
      status("En vivo", "vivo");
    };
    socket.onmessage = (event) => {
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      if (msg.type === "snapshot") {
        snap = msg;
        receivedAt = Date.now();
        render(snap);
      }
    };
    socket.onclose = () => {
      status("Sin conexión; reintentando…", "caida");
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }

  render(snap);
  setInterval(tick, 1000);
  connect();
})();
