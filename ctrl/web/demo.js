// demo.js: what every demo page shares: choosing the server, a log pane, a status badge, and
// `window.demoState`, the page's state as tests and curious people read it.
//
// Query parameters understood by every page:
//   ?transport=ws      use the WebSocket port (read from /portunus/status) instead of HTTP
//   ?server=<url>      an explicit Janus API URL ("/janus", "ws://host:8188", ...)
//   ?apisecret=<s>     the API secret, if the server has one
(function (global) {
  "use strict";

  const params = new URLSearchParams(location.search);

  // The Janus API URL this page talks to.
  async function serverUrl() {
    if (params.get("server")) return params.get("server");
    if (params.get("transport") === "ws") {
      const r = await fetch(statusUrl());
      const s = await r.json();
      if (s.ws_port) {
        const scheme = location.protocol === "https:" ? "wss" : "ws";
        return `${scheme}://${location.hostname}:${s.ws_port}`;
      }
    }
    return "/janus";
  }

  function statusUrl() {
    const secret = params.get("apisecret");
    return "/portunus/status" + (secret ? `?apisecret=${encodeURIComponent(secret)}` : "");
  }

  async function connect() {
    const server = await serverUrl();
    const session = await Portunus.connect({
      server,
      apisecret: params.get("apisecret") || undefined,
    });
    state.server = server;
    state.sessionId = session.id;
    session.on("error", (e) => {
      log(`transport error: ${e.message}`, "error");
      setStatus("disconnected", "error");
    });
    session.on("timeout", () => setStatus("session timed out", "error"));
    return session;
  }

  // The page state, updated by the page and read by tests (`window.demoState`).
  const state = { connected: false, errors: [] };
  global.demoState = state;

  function el(id) {
    return document.getElementById(id);
  }

  function log(text, kind = "info") {
    const pane = el("log");
    if (kind === "error") state.errors.push(text);
    if (!pane) return;
    const line = document.createElement("div");
    line.className = `log-${kind}`;
    line.textContent = `${new Date().toLocaleTimeString()}  ${text}`;
    pane.appendChild(line);
    pane.scrollTop = pane.scrollHeight;
  }

  function setStatus(text, kind = "ok") {
    const b = el("status");
    if (!b) return;
    b.textContent = text;
    b.className = `badge badge-${kind}`;
  }

  // Run `fn` every `ms` while the page lives, logging (once) rather than throwing.
  function every(ms, fn) {
    let failing = false;
    const tick = async () => {
      try {
        await fn();
        failing = false;
      } catch (e) {
        if (!failing) log(`${e.message}`, "error");
        failing = true;
      }
    };
    tick();
    return setInterval(tick, ms);
  }

  // Wire a PeerConnection's states into demoState and the badge.
  function watchPc(pc) {
    const update = () => {
      state.iceState = pc.iceConnectionState;
      state.pcState = pc.connectionState;
      if (pc.connectionState === "connected") setStatus("connected", "ok");
      else if (pc.connectionState === "failed") setStatus("failed", "error");
      else setStatus(pc.connectionState, "wait");
    };
    pc.addEventListener("connectionstatechange", update);
    pc.addEventListener("iceconnectionstatechange", update);
    update();
  }

  // Copy a getStats() summary into demoState (pairState, dtlsState, inbound, outbound).
  async function statsInto(pc, prefix = "") {
    const s = await Portunus.stats(pc);
    state[prefix + "pairState"] = s.pairState;
    state[prefix + "dtlsState"] = s.dtlsState;
    state[prefix + "inbound"] = s.inbound;
    state[prefix + "outbound"] = s.outbound;
    return s;
  }

  function videoOf(s) {
    return (s.inbound || []).filter((i) => i.kind === "video");
  }

  global.Demo = { params, serverUrl, statusUrl, connect, state, el, log, setStatus, every, watchPc, statsInto, videoOf };
})(window);
