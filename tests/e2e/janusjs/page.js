// Scenarios driven through the official janus.js, the way Janus's own demos use it. The test
// calls these functions with page.evaluate and reads `window.t` (state from janus.js callbacks,
// RTCPeerConnection.getStats() and the DOM).
"use strict";

window.t = { errors: [] };

function logLine(s) {
  document.getElementById("log").textContent += s + "\n";
}

function fail(e) {
  const s = typeof e === "string" ? e : (e && e.message) || JSON.stringify(e);
  t.errors.push(s);
  logLine("error: " + s);
}

// Initialise janus.js and create a session on `server` ("http://…/janus" or "ws://…").
function connect(server) {
  return new Promise((resolve, reject) => {
    Janus.init({
      debug: false,
      callback: () => {
        const janus = new Janus({
          server,
          success: () => {
            t.janus = janus;
            t.sessionId = janus.getSessionId();
            resolve(t.sessionId);
          },
          error: (e) => { fail(e); reject(new Error(String(e))); },
        });
      },
    });
  });
}

function attach(plugin, callbacks) {
  return new Promise((resolve, reject) => {
    t.janus.attach({
      plugin,
      opaqueId: "e2e-" + Janus.randomString(8),
      success: resolve,
      error: (e) => { fail(e); reject(new Error(String(e))); },
      ...callbacks,
    });
  });
}

async function summary(pc) {
  const out = { pairState: null, dtlsState: null, inbound: [] };
  if (!pc) return out;
  const r = await pc.getStats();
  const byId = new Map();
  r.forEach((s) => byId.set(s.id, s));
  r.forEach((s) => {
    if (s.type === "transport") {
      out.dtlsState = s.dtlsState;
      const p = byId.get(s.selectedCandidatePairId);
      if (p) out.pairState = p.state;
    } else if (s.type === "inbound-rtp" && s.kind === "video") {
      out.inbound.push({ framesDecoded: s.framesDecoded || 0, width: s.frameWidth || 0, height: s.frameHeight || 0 });
    }
  });
  return out;
}

// --- EchoTest ------------------------------------------------------------------------------

async function echo({ simulcast = false } = {}) {
  t.echo = { webrtcup: false, dataOpen: false, dataEcho: [], binaryEcho: [], result: null };
  const e = t.echo;
  const h = await attach("janus.plugin.echotest", {
    webrtcState: (on) => { e.webrtcup = on; },
    ondataopen: () => { e.dataOpen = true; },
    ondata: (data) => {
      if (typeof data === "string") e.dataEcho.push(data);
      else e.binaryEcho.push(Array.from(new Uint8Array(data)));
    },
    onmessage: (msg, jsep) => {
      if (msg.result) e.result = msg.result;
      if (msg.error) fail(msg.error);
      if (jsep) h.handleRemoteJsep({ jsep });
    },
    onremotetrack: (track, mid, on) => {
      if (track.kind === "video" && on) addVideo("echo", track);
    },
  });
  t.echoHandle = h;
  h.createOffer({
    tracks: [
      { type: "audio", capture: true, recv: true },
      { type: "video", capture: { width: 1280, height: 720 }, recv: true, simulcast },
      { type: "data" },
    ],
    success: (jsep) => h.send({ message: { audio: true, video: true }, jsep }),
    error: fail,
  });
  return h.getId();
}

async function echoStats() {
  return { ...t.echo, ...(await summary(t.echoHandle && t.echoHandle.webrtcStuff.pc)) };
}

function echoSend(text) {
  t.echoHandle.data({ text });
}

function echoSendBinary(bytes) {
  t.echoHandle.data({ data: new Uint8Array(bytes).buffer });
}

// --- TextRoom ------------------------------------------------------------------------------

async function textroom(username, room = 1234) {
  t.text = { joined: false, messages: [], participants: [] };
  const s = t.text;
  const h = await attach("janus.plugin.textroom", {
    onmessage: (msg, jsep) => {
      if (msg.error) fail(msg.error);
      if (jsep) {
        h.createAnswer({
          jsep,
          tracks: [{ type: "data" }],
          success: (ours) => h.send({ message: { request: "ack" }, jsep: ours }),
          error: fail,
        });
      }
    },
    ondataopen: () => {
      h.data({ text: JSON.stringify({ textroom: "join", transaction: Janus.randomString(12), room, username, display: username }) });
    },
    ondata: (data) => {
      const m = JSON.parse(data);
      if (m.textroom === "success" && m.participants) {
        s.joined = true;
        s.participants = m.participants.map((p) => p.username);
      } else if (m.textroom === "join") {
        if (!s.participants.includes(m.username)) s.participants.push(m.username);
      } else if (m.textroom === "message") {
        s.messages.push({ from: m.from, text: m.text });
        logLine(`${m.from}: ${m.text}`);
      } else if (m.textroom === "error") {
        fail(m.error);
      }
    },
  });
  t.textHandle = h;
  s.room = room;
  h.send({ message: { request: "setup" } });
  return h.getId();
}

function say(text) {
  t.textHandle.data({ text: JSON.stringify({ textroom: "message", transaction: Janus.randomString(12), room: t.text.room, text }) });
}

// --- VideoRoom -----------------------------------------------------------------------------

async function videoroom(display, { simulcast = false, room = 1234 } = {}) {
  t.room = { joined: false, id: null, publishing: false, webrtcup: false, feeds: {} };
  const r = t.room;
  const pub = await attach("janus.plugin.videoroom", {
    webrtcState: (on) => { r.webrtcup = on; },
    onmessage: (msg, jsep) => {
      if (msg.error) fail(msg.error);
      if (msg.videoroom === "joined") {
        r.joined = true;
        r.id = msg.id;
        r.privateId = msg.private_id;
        for (const p of msg.publishers || []) subscribe(p, room);
        pub.createOffer({
          tracks: [
            { type: "audio", capture: true, recv: false },
            { type: "video", capture: simulcast ? { width: 1280, height: 720 } : true, recv: false, simulcast },
          ],
          success: (jsep) => pub.send({ message: { request: "publish" }, jsep }),
          error: fail,
        });
      } else if (msg.videoroom === "event" && msg.publishers) {
        for (const p of msg.publishers) subscribe(p, room);
      }
      if (msg.configured === "ok") r.publishing = true;
      if (jsep) pub.handleRemoteJsep({ jsep });
    },
  });
  t.pub = pub;
  pub.send({ message: { request: "join", ptype: "publisher", room, display } });
  return pub.getId();
}

async function subscribe(p, room) {
  const r = t.room;
  if (r.feeds[p.id]) return;
  r.feeds[p.id] = { display: p.display, handle: null, substream: null };
  const f = r.feeds[p.id];
  const sub = await attach("janus.plugin.videoroom", {
    onmessage: (msg, jsep) => {
      if (msg.error) fail(msg.error);
      if (msg.substream !== undefined) f.substream = msg.substream;
      if (jsep) {
        sub.createAnswer({
          jsep,
          tracks: [{ type: "data" }],
          success: (ours) => sub.send({ message: { request: "start", room }, jsep: ours }),
          error: fail,
        });
      }
    },
    onremotetrack: (track, mid, on) => {
      if (track.kind === "video" && on) {
        f.mid = mid;
        addVideo(`feed-${p.id}`, track);
      }
    },
  });
  f.handle = sub;
  sub.send({ message: { request: "join", ptype: "subscriber", room, streams: [{ feed: p.id }], private_id: r.privateId } });
}

async function roomStats() {
  const r = t.room;
  const feeds = {};
  for (const [id, f] of Object.entries(r.feeds)) {
    const s = await summary(f.handle && f.handle.webrtcStuff.pc);
    feeds[id] = { display: f.display, substream: f.substream, ...(s.inbound[0] || { framesDecoded: 0, width: 0, height: 0 }) };
  }
  return { joined: r.joined, id: r.id, publishing: r.publishing, webrtcup: r.webrtcup, feeds };
}

function setSubstream(feed, substream) {
  const f = t.room.feeds[feed];
  f.handle.send({ message: { request: "configure", streams: [{ mid: f.mid, substream }] } });
}

// --- Streaming -----------------------------------------------------------------------------

async function streamingList() {
  const h = await attach("janus.plugin.streaming", {});
  return new Promise((resolve) => {
    h.send({ message: { request: "list" }, success: (r) => resolve(r.list || []), error: (e) => { fail(e); resolve([]); } });
  });
}

async function watch(id) {
  t.stream = { status: null };
  const s = t.stream;
  const h = await attach("janus.plugin.streaming", {
    onmessage: (msg, jsep) => {
      if (msg.error) fail(msg.error);
      if (msg.result && msg.result.status) s.status = msg.result.status;
      if (jsep) {
        h.createAnswer({
          jsep,
          tracks: [{ type: "data" }],
          success: (ours) => h.send({ message: { request: "start" }, jsep: ours }),
          error: fail,
        });
      }
    },
    onremotetrack: (track, mid, on) => {
      if (track.kind === "video" && on) addVideo("stream", track);
    },
  });
  t.streamHandle = h;
  h.send({ message: { request: "watch", id } });
}

async function streamStats() {
  const s = await summary(t.streamHandle && t.streamHandle.webrtcStuff.pc);
  return { ...t.stream, ...(s.inbound[0] || { framesDecoded: 0, width: 0 }) };
}

// --- AudioBridge ---------------------------------------------------------------------------

// Joins `room` as Janus's audiobridge demo does: `join`, then on `joined` an audio-only offer
// sent with `configure`; the mixed audio of the others plays in an <audio> element so that
// Chromium decodes it (getStats then reports its energy).
async function audiobridge(display, room = 1234) {
  t.audio = { joined: false, id: null, webrtcup: false, participants: {}, talking: {} };
  const a = t.audio;
  const h = await attach("janus.plugin.audiobridge", {
    webrtcState: (on) => { a.webrtcup = on; },
    onmessage: (msg, jsep) => {
      if (msg.error) fail(msg.error);
      const ab = msg.audiobridge;
      if (ab === "joined" && msg.id) {
        a.joined = true;
        a.id = msg.id;
        h.createOffer({
          tracks: [{ type: "audio", capture: true, recv: true }],
          success: (ours) => h.send({ message: { request: "configure", muted: false }, jsep: ours }),
          error: fail,
        });
      }
      for (const p of msg.participants || []) a.participants[p.id] = { display: p.display, muted: p.muted, setup: p.setup };
      if (msg.leaving) delete a.participants[msg.leaving];
      if (ab === "talking") a.talking[msg.id] = true;
      if (ab === "stopped-talking") a.talking[msg.id] = false;
      if (jsep) h.handleRemoteJsep({ jsep });
    },
    onremotetrack: (track, mid, on) => {
      if (track.kind !== "audio" || !on) return;
      let el = document.getElementById("mix");
      if (!el) {
        el = document.createElement("audio");
        el.id = "mix";
        el.autoplay = true;
        document.body.appendChild(el);
      }
      el.srcObject = new MediaStream([track]);
    },
  });
  t.audioHandle = h;
  h.send({ message: { request: "join", room, display } });
  return h.getId();
}

function audioMute(muted) {
  t.audioHandle.send({ message: { request: "configure", muted } });
}

async function audioStats() {
  const a = t.audio;
  const out = { ...a, inbound: null };
  const pc = t.audioHandle && t.audioHandle.webrtcStuff.pc;
  if (!pc) return out;
  (await pc.getStats()).forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "audio") {
      out.inbound = { packets: s.packetsReceived || 0, energy: s.totalAudioEnergy || 0, samples: s.totalSamplesReceived || 0 };
    }
  });
  return out;
}

// A <video> per remote track, so that Chromium decodes it.
function addVideo(id, track) {
  let v = document.getElementById(id);
  if (!v) {
    v = document.createElement("video");
    v.id = id;
    v.autoplay = true;
    v.muted = true;
    v.playsInline = true;
    document.getElementById("videos").appendChild(v);
  }
  v.srcObject = new MediaStream([track]);
}
