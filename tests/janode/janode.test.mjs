// janode (Meetecho's Node.js Janus client) against a running Portunus server.
//
// `run` starts the server and passes its addresses in PORTUNUS_WS_URL and
// PORTUNUS_ADMIN_URL (plus PORTUNUS_ADMIN_SECRET). Each step is bounded by a timeout so
// a server that never answers fails the test instead of hanging it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import Janode from 'janode';
import EchoTestPlugin from 'janode/plugins/echotest';
import TextRoomPlugin from 'janode/plugins/textroom';

const WS_URL = process.env.PORTUNUS_WS_URL;
const ADMIN_URL = process.env.PORTUNUS_ADMIN_URL;
const ADMIN_SECRET = process.env.PORTUNUS_ADMIN_SECRET;
const STEP_MS = 5000;

Janode.Logger.setLevel('warning');

// Rejects when `promise` takes longer than STEP_MS, naming the step.
function bounded(what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${STEP_MS} ms`)), STEP_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// An audio-only offer as a browser writes one (ICE credentials, DTLS fingerprint, BUNDLE,
// rtcp-mux, Opus), enough for the server's JSEP processing to answer it.
const OFFER_SDP = [
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'a=msid-semantic: WMS',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111',
  'c=IN IP4 0.0.0.0',
  'a=rtcp:9 IN IP4 0.0.0.0',
  'a=ice-ufrag:janodeUfrag',
  'a=ice-pwd:janodePasswordJanodePassword',
  'a=ice-options:trickle',
  'a=fingerprint:sha-256 ' +
    '5B:A8:7B:6E:32:41:2C:0A:9D:27:83:1C:3E:5A:F1:58:0E:61:5E:CC:63:48:12:9F:5C:DE:01:D7:29:84:6B:11',
  'a=setup:actpass',
  'a=mid:0',
  'a=sendrecv',
  'a=rtcp-mux',
  'a=rtpmap:111 opus/48000/2',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=ssrc:1001 cname:janode',
  '',
].join('\r\n');

let connection;
let session;

before(async () => {
  assert.ok(WS_URL, 'PORTUNUS_WS_URL is set (run this through ./run)');
  connection = await bounded('connect', Janode.connect({
    address: { url: WS_URL },
    retry_time_secs: 1,
    max_retries: 2,
  }));
  session = await bounded('create session', connection.create());
});

after(async () => {
  if (session) await bounded('destroy session', session.destroy()).catch(() => {});
  if (connection) await bounded('close connection', connection.close()).catch(() => {});
});

test('info names the plugins the server registered', async () => {
  const info = await bounded('info', connection.getInfo());
  assert.equal(info.janus, 'server_info');
  for (const plugin of ['janus.plugin.echotest', 'janus.plugin.textroom', 'janus.plugin.videoroom']) {
    assert.ok(info.plugins[plugin], `${plugin} in ${Object.keys(info.plugins)}`);
  }
});

test('a session gets a numeric id', () => {
  assert.equal(typeof session.id, 'number');
  assert.ok(session.id > 0);
});

test('echotest answers a message without JSEP with result ok', async () => {
  const handle = await bounded('attach echotest', session.attach(EchoTestPlugin));
  assert.equal(typeof handle.id, 'number');
  const reply = await bounded('echotest message', handle.message({ audio: true }));
  assert.equal(reply.janus, 'event');
  assert.equal(reply.sender, handle.id);
  assert.deepEqual(reply.plugindata, {
    plugin: 'janus.plugin.echotest',
    data: { echotest: 'event', result: 'ok' },
  });
  await bounded('detach echotest', handle.detach());
});

test('echotest start with an offer returns an answer for it', async () => {
  const handle = await bounded('attach echotest', session.attach(EchoTestPlugin));
  const result = await bounded('echotest start',
    handle.start({ audio: true, video: false, jsep: { type: 'offer', sdp: OFFER_SDP } }));
  assert.equal(result.result, 'ok');
  assert.equal(result.jsep.type, 'answer');
  const sdp = result.jsep.sdp;
  assert.match(sdp, /^v=0\r\n/);
  assert.match(sdp, /\r\nm=audio \d+ UDP\/TLS\/RTP\/SAVPF 111\r\n/);
  assert.match(sdp, /\r\na=mid:0\r\n/);
  assert.match(sdp, /\r\na=fingerprint:sha-256 [0-9A-F:]+\r\n/);
  assert.match(sdp, /\r\na=setup:(active|passive)\r\n/);
  assert.match(sdp, /\r\na=candidate:.* 127\.0\.0\.1 \d+ typ host/);
  await bounded('hangup echotest', handle.hangup());
  await bounded('detach echotest', handle.detach());
});

test('echotest refuses a malformed request inside plugindata', async () => {
  const handle = await bounded('attach echotest', session.attach(EchoTestPlugin));
  // Janus's EchoTest checks types: `audio` must be a boolean (error 413).
  await assert.rejects(bounded('bad message', handle.message({ audio: 'yes' })), (e) => {
    assert.match(e.message, /413/);
    return true;
  });
  await bounded('detach echotest', handle.detach());
});

test('textroom lists the sample room 1234', async () => {
  const handle = await bounded('attach textroom', session.attach(TextRoomPlugin));
  const list = await bounded('textroom list', handle.list({}));
  const room = list.list.find((r) => r.room === 1234);
  assert.ok(room, `room 1234 in ${JSON.stringify(list.list)}`);
  assert.equal(typeof room.description, 'string');
  assert.equal(typeof room.num_participants, 'number');
  const exists = await bounded('textroom exists', handle.exists({ room: 1234 }));
  assert.equal(exists.exists, true);
  await bounded('detach textroom', handle.detach());
});

test('the admin API lists the session janode holds', async () => {
  const admin = await bounded('admin connect', Janode.connect({
    is_admin: true,
    address: { url: ADMIN_URL, apisecret: ADMIN_SECRET },
    retry_time_secs: 1,
    max_retries: 2,
  }));
  try {
    const sessions = await bounded('list_sessions', admin.listSessions());
    assert.ok(sessions.sessions.includes(session.id), JSON.stringify(sessions));
  } finally {
    await bounded('admin close', admin.close()).catch(() => {});
  }
});
