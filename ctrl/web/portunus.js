// portunus.js: a small client for the Janus API (as Portunus and Janus 1.x speak it).
//
// One file, no dependencies, no build step. It covers what the demo pages need:
//   * sessions over HTTP long-poll (`/janus`) or WebSocket (`ws://host:8188`, janus-protocol),
//     with keepalives;
//   * plugin handles: attach, message (sync replies and async events matched by transaction),
//     trickle, hangup, detach;
//   * RTCPeerConnection helpers: offer/answer in either direction, trickled candidates, data
//     channels, simulcast through sendEncodings (rids h/m/l, as janus.js does);
//   * a getStats() summary for pages and tests.
//
//   const session = await Portunus.connect({ server: "/janus" });
//   const echo = await session.attach("janus.plugin.echotest");
//   echo.on("webrtcup", () => console.log("up"));
//   const pc = echo.peerConnection();
//   pc.addTrack(track, stream);
//   await echo.offer({ audio: true, video: true });   // sends the offer, applies the answer
//
// Handle events: "event" (data, jsep), "webrtcup", "media", "slowlink", "hangup", "detached",
// "trickle". Session events: "error" (transport failure), "destroyed", "timeout".
(function (global) {
  "use strict";

  const KEEPALIVE_MS = 25000;

  function randomString(n) {
    const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let s = "";
    const bytes = new Uint8Array(n);
    crypto.getRandomValues(bytes);
    for (const b of bytes) s += chars[b % chars.length];
    return s;
  }

  function sleep(ms) {
    return new Promise((r) => setTimeout(r, ms));
  }

  // An error from the Janus core (`janus: "error"`) or a plugin (`error_code` in its data).
  class JanusError extends Error {
    constructor(code, reason) {
      super(`${code}: ${reason}`);
      this.code = code;
      this.reason = reason;
    }
  }

  // A tiny event emitter.
  class Emitter {
    constructor() {
      this._listeners = new Map();
    }
    on(name, fn) {
      if (!this._listeners.has(name)) this._listeners.set(name, []);
      this._listeners.get(name).push(fn);
      return this;
    }
    off(name, fn) {
      const l = this._listeners.get(name);
      if (l) this._listeners.set(name, l.filter((f) => f !== fn));
      return this;
    }
    emit(name, ...args) {
      for (const fn of this._listeners.get(name) || []) {
        try {
          fn(...args);
        } catch (e) {
          console.error(`portunus.js: "${name}" listener failed`, e);
        }
      }
    }
    // A promise for the next `name` event whose arguments pass `test`.
    once(name, test = () => true, timeoutMs = 30000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          this.off(name, fn);
          reject(new Error(`timed out waiting for "${name}"`));
        }, timeoutMs);
        const fn = (...args) => {
          if (!test(...args)) return;
          clearTimeout(timer);
          this.off(name, fn);
          resolve(args);
        };
        this.on(name, fn);
      });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Transports: both expose request(msg) -> reply, and call onEvent(msg) for pushed messages.

  // HTTP: each request is a POST; events come from a long poll on GET <base>/<session>.
  class HttpTransport {
    constructor(base, onEvent, onFailure) {
      this.base = base.replace(/\/$/, "");
      this.onEvent = onEvent;
      this.onFailure = onFailure;
      this.sessionId = null;
      this.closed = false;
    }
    async open() {}
    async request(msg) {
      let path = this.base;
      if (msg.session_id) path += `/${msg.session_id}`;
      if (msg.handle_id) path += `/${msg.handle_id}`;
      const r = await fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(msg),
      });
      if (!r.ok) throw new Error(`HTTP ${r.status} from ${path}`);
      return r.json();
    }
    // The long-poll loop; events arrive in batches of up to 10.
    startPolling(sessionId, query) {
      this.sessionId = sessionId;
      const loop = async () => {
        let failures = 0;
        while (!this.closed) {
          try {
            const q = new URLSearchParams({ rid: Date.now(), maxev: 10, ...query });
            const r = await fetch(`${this.base}/${sessionId}?${q}`);
            if (r.status === 404) throw new Error("session gone");
            if (!r.ok) throw new Error(`HTTP ${r.status} on long poll`);
            const body = await r.json();
            failures = 0;
            for (const ev of Array.isArray(body) ? body : [body]) this.onEvent(ev);
          } catch (e) {
            if (this.closed) return;
            failures += 1;
            if (failures >= 3) {
              this.onFailure(e);
              return;
            }
            await sleep(500);
          }
        }
      };
      loop();
    }
    close() {
      this.closed = true;
    }
  }

  // WebSocket (subprotocol janus-protocol): replies and events share the socket; replies are
  // matched to requests by transaction (an async plugin message gets an `ack` first).
  class WsTransport {
    constructor(url, onEvent, onFailure) {
      this.url = url;
      this.onEvent = onEvent;
      this.onFailure = onFailure;
      this.pending = new Map();
      this.closed = false;
    }
    open() {
      return new Promise((resolve, reject) => {
        const ws = new WebSocket(this.url, "janus-protocol");
        this.ws = ws;
        ws.onopen = () => resolve();
        ws.onerror = () => reject(new Error(`WebSocket ${this.url} failed`));
        ws.onclose = () => {
          for (const p of this.pending.values()) p.reject(new Error("WebSocket closed"));
          this.pending.clear();
          if (!this.closed) this.onFailure(new Error("WebSocket closed"));
        };
        ws.onmessage = (m) => {
          let msg;
          try {
            msg = JSON.parse(m.data);
          } catch (e) {
            return;
          }
          const p = msg.transaction && this.pending.get(msg.transaction);
          // An async plugin event carries the transaction of its request too, but its request
          // was already answered with an ack: only replies settle a pending request.
          if (p && msg.janus !== "event") {
            this.pending.delete(msg.transaction);
            p.resolve(msg);
          } else {
            this.onEvent(msg);
          }
        };
      });
    }
    request(msg) {
      return new Promise((resolve, reject) => {
        if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
          reject(new Error("WebSocket not open"));
          return;
        }
        this.pending.set(msg.transaction, { resolve, reject });
        this.ws.send(JSON.stringify(msg));
      });
    }
    startPolling() {}
    close() {
      this.closed = true;
      if (this.ws) this.ws.close();
    }
  }

  // ---------------------------------------------------------------------------------------------

  // A Janus session: owns the transport, the keepalive timer and the handles.
  class Session extends Emitter {
    constructor(opts) {
      super();
      this.opts = opts;
      this.id = null;
      this.handles = new Map();
      // Async plugin replies waiting for their event, by transaction.
      this.waiting = new Map();
      const server = opts.server || "/janus";
      const onEvent = (m) => this._dispatch(m);
      const onFailure = (e) => this.emit("error", e);
      this.transport = /^wss?:/.test(server)
        ? new WsTransport(server, onEvent, onFailure)
        : new HttpTransport(server, onEvent, onFailure);
    }

    // Send a core request; `error` replies reject with JanusError.
    async request(janus, fields = {}) {
      const msg = { janus, transaction: randomString(12), ...fields };
      if (this.id && !("session_id" in msg)) msg.session_id = this.id;
      if (this.opts.apisecret) msg.apisecret = this.opts.apisecret;
      if (this.opts.token) msg.token = this.opts.token;
      const reply = await this.transport.request(msg);
      if (reply.janus === "error") throw new JanusError(reply.error.code, reply.error.reason);
      return { msg, reply };
    }

    async _create() {
      await this.transport.open();
      const { reply } = await this.request("create");
      this.id = reply.data.id;
      const q = {};
      if (this.opts.apisecret) q.apisecret = this.opts.apisecret;
      if (this.opts.token) q.token = this.opts.token;
      this.transport.startPolling(this.id, q);
      this.keepalive = setInterval(() => {
        this.request("keepalive").catch((e) => this.emit("error", e));
      }, this.opts.keepaliveMs || KEEPALIVE_MS);
    }

    // Attach to a plugin (package name such as "janus.plugin.echotest").
    async attach(plugin, opaqueId) {
      const fields = { plugin };
      if (opaqueId) fields.opaque_id = opaqueId;
      const { reply } = await this.request("attach", fields);
      const h = new Handle(this, plugin, reply.data.id);
      this.handles.set(h.id, h);
      return h;
    }

    // Core server info (GET-style `info` request).
    async info() {
      const { reply } = await this.request("info", { session_id: undefined });
      return reply;
    }

    async destroy() {
      clearInterval(this.keepalive);
      for (const h of this.handles.values()) h._closePc();
      try {
        await this.request("destroy");
      } finally {
        this.transport.close();
        this.emit("destroyed");
      }
    }

    // Route a pushed message to its handle.
    _dispatch(m) {
      if (m.janus === "keepalive" || m.janus === "ack") return;
      if (m.janus === "timeout") {
        clearInterval(this.keepalive);
        this.transport.close();
        this.emit("timeout");
        return;
      }
      const h = this.handles.get(m.sender);
      if (!h) return;
      switch (m.janus) {
        case "event": {
          const pd = m.plugindata || {};
          const w = m.transaction && this.waiting.get(m.transaction);
          if (w) {
            this.waiting.delete(m.transaction);
            w(pd.data || {}, m.jsep);
          }
          h.emit("event", pd.data || {}, m.jsep, m);
          break;
        }
        case "webrtcup":
          h.emit("webrtcup");
          break;
        case "media":
          h.emit("media", m);
          break;
        case "slowlink":
          h.emit("slowlink", m);
          break;
        case "hangup":
          h.emit("hangup", m.reason);
          break;
        case "trickle":
          h.emit("trickle", m.candidate);
          break;
        case "detached":
          this.handles.delete(h.id);
          h.emit("detached");
          break;
        default:
          h.emit(m.janus, m);
      }
    }
  }

  // A plugin handle, optionally with one RTCPeerConnection.
  class Handle extends Emitter {
    constructor(session, plugin, id) {
      super();
      this.session = session;
      this.plugin = plugin;
      this.id = id;
      this.pc = null;
      // Candidates wait until the SDP that they belong to has been sent.
      this.sdpSent = null;
    }

    // Send a plugin message. Resolves with {data, jsep}: the `success` plugindata of a
    // synchronous request, or the event with the same transaction for an asynchronous one.
    // A plugin error (`error_code` in the data) rejects with JanusError.
    async send(body, jsep) {
      const fields = { handle_id: this.id, body };
      if (jsep) fields.jsep = jsep;
      const transaction = randomString(12);
      let resolveEvent;
      const event = new Promise((r) => (resolveEvent = r));
      this.session.waiting.set(transaction, (data, j) => resolveEvent({ data, jsep: j }));
      let reply;
      try {
        ({ reply } = await this.session.request("message", { ...fields, transaction }));
      } catch (e) {
        this.session.waiting.delete(transaction);
        throw e;
      }
      let result;
      if (reply.janus === "success") {
        this.session.waiting.delete(transaction);
        result = { data: (reply.plugindata || {}).data || {}, jsep: reply.jsep };
      } else {
        result = await event;
      }
      if (result.data && result.data.error_code) {
        throw new JanusError(result.data.error_code, result.data.error);
      }
      return result;
    }

    // The handle's RTCPeerConnection, created on first use; local candidates are trickled.
    peerConnection(config = {}) {
      if (this.pc) return this.pc;
      const pc = new RTCPeerConnection({ iceServers: [], ...config });
      this.pc = pc;
      pc.onicecandidate = (e) => {
        const candidate = e.candidate
          ? {
              candidate: e.candidate.candidate,
              sdpMid: e.candidate.sdpMid,
              sdpMLineIndex: e.candidate.sdpMLineIndex,
            }
          : { completed: true };
        (this.sdpSent || Promise.resolve())
          .then(() => this.session.request("trickle", { handle_id: this.id, candidate }))
          .catch((err) => console.warn("portunus.js: trickle failed", err));
      };
      return pc;
    }

    // Add a video track with simulcast: three encodings (rids h, m, l; m at half and l at a
    // quarter of the resolution), the layout janus.js uses.
    addSimulcastVideo(track, stream, maxBitrates = [900000, 300000, 100000]) {
      const pc = this.peerConnection();
      return pc.addTransceiver(track, {
        direction: "sendrecv",
        streams: [stream],
        sendEncodings: [
          { rid: "h", active: true, maxBitrate: maxBitrates[0] },
          { rid: "m", active: true, maxBitrate: maxBitrates[1], scaleResolutionDownBy: 2 },
          { rid: "l", active: true, maxBitrate: maxBitrates[2], scaleResolutionDownBy: 4 },
        ],
      });
    }

    // Create an offer, send it with `body`, apply the answer. Resolves with the event data.
    async offer(body, options = {}) {
      const pc = this.peerConnection();
      const offer = await pc.createOffer(options);
      await pc.setLocalDescription(offer);
      const sent = this.send(body, { type: offer.type, sdp: offer.sdp });
      this.sdpSent = sent.catch(() => {});
      const { data, jsep } = await sent;
      if (jsep) await pc.setRemoteDescription(jsep);
      return data;
    }

    // Apply a server offer, answer it with `body` (e.g. {request: "start"}). `prepare(pc)` runs
    // between the two (to add tracks or open a data channel on the offered m-lines). Resolves
    // with the event data.
    async answer(remoteJsep, body, prepare) {
      const pc = this.peerConnection();
      await pc.setRemoteDescription(remoteJsep);
      if (prepare) await prepare(pc);
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      const sent = this.send(body, { type: answer.type, sdp: answer.sdp });
      this.sdpSent = sent.catch(() => {});
      const { data } = await sent;
      return data;
    }

    // Trickle one candidate by hand ({candidate, sdpMid, sdpMLineIndex} or {completed: true}).
    trickle(candidate) {
      return this.session.request("trickle", { handle_id: this.id, candidate });
    }

    async hangup() {
      this._closePc();
      await this.session.request("hangup", { handle_id: this.id });
    }

    async detach() {
      this._closePc();
      await this.session.request("detach", { handle_id: this.id });
      this.session.handles.delete(this.id);
    }

    _closePc() {
      if (this.pc) {
        this.pc.close();
        this.pc = null;
      }
      this.sdpSent = null;
    }
  }

  // Open a session. `opts.server`: "/janus" (HTTP, the default) or "ws://host:8188";
  // `opts.apisecret`, `opts.token` when the server wants them.
  async function connect(opts = {}) {
    const s = new Session(opts);
    await s._create();
    return s;
  }

  // A summary of pc.getStats(): the selected candidate pair, DTLS state and per-kind inbound
  // and outbound RTP counters (frames decoded and their size for video).
  async function stats(pc) {
    const out = {
      pairState: null,
      availableOutgoingBitrate: undefined,
      dtlsState: null,
      iceState: pc ? pc.iceConnectionState : null,
      inbound: [],
      outbound: [],
      dataChannels: [],
    };
    if (!pc) return out;
    const report = await pc.getStats();
    const byId = new Map();
    report.forEach((s) => byId.set(s.id, s));
    report.forEach((s) => {
      if (s.type === "transport") {
        out.dtlsState = s.dtlsState;
        const pair = byId.get(s.selectedCandidatePairId);
        if (pair) {
          out.pairState = pair.state;
          // The sender's bandwidth estimate: it stays low without congestion feedback.
          out.availableOutgoingBitrate = pair.availableOutgoingBitrate;
        }
      } else if (s.type === "inbound-rtp") {
        out.inbound.push({
          kind: s.kind,
          mid: s.mid,
          packetsReceived: s.packetsReceived || 0,
          bytesReceived: s.bytesReceived || 0,
          framesDecoded: s.framesDecoded || 0,
          frameWidth: s.frameWidth || 0,
          frameHeight: s.frameHeight || 0,
        });
      } else if (s.type === "outbound-rtp") {
        out.outbound.push({
          kind: s.kind,
          rid: s.rid,
          packetsSent: s.packetsSent || 0,
          framesEncoded: s.framesEncoded || 0,
          frameWidth: s.frameWidth || 0,
          frameHeight: s.frameHeight || 0,
          qualityLimitationReason: s.qualityLimitationReason,
        });
      } else if (s.type === "data-channel") {
        out.dataChannels.push({
          label: s.label,
          state: s.state,
          messagesSent: s.messagesSent || 0,
          messagesReceived: s.messagesReceived || 0,
        });
      }
    });
    return out;
  }

  global.Portunus = { connect, stats, randomString, JanusError, Session, Handle };
})(typeof window !== "undefined" ? window : globalThis);
