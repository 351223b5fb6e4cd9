// The official janus.js (npm janus-gateway) against Portunus in headless Chromium. The test page
// (janusjs/) is served from 127.0.0.1 on another port, so requests to Portunus are cross-origin
// (CORS), as for any application that embeds janus.js.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { CASE_MS, E2E_DIR, feedMountpoint, launchBrowser, pluginRequest, serveStatic, startPortunus, waitForState } from "./lib/harness.mjs";

describe("janus.js", { timeout: 10 * CASE_MS }, () => {
  let server, browser, web;

  before(async () => {
    server = await startPortunus();
    browser = await launchBrowser();
    web = await serveStatic({
      "/janus-gateway/": join(E2E_DIR, "node_modules/janus-gateway/npm/src"),
      "/webrtc-adapter/": join(E2E_DIR, "node_modules/webrtc-adapter/out"),
      "/": join(E2E_DIR, "janusjs"),
    });
  });

  after(async () => {
    if (browser) {
      if (browser.errors.length) console.log(`page errors:\n${browser.errors.join("\n")}`);
      await browser.close();
    }
    if (web) await web.close();
    if (server) await server.stop();
  });

  const open = async (transport = "http") => {
    const page = await browser.page(`${web.base}/index.html`);
    const url = transport === "ws" ? server.wsUrl : `${server.base}/janus`;
    await page.evaluate((u) => connect(u), url);
    return page;
  };

  for (const transport of ["http", "ws"]) {
    test(`session and attach over ${transport}`, { timeout: CASE_MS }, async () => {
      const page = await open(transport);
      const r = await page.evaluate(async () => {
        const h = await attach("janus.plugin.echotest", {});
        return { session: t.sessionId, handle: h.getId(), plugin: h.getPlugin(), connected: t.janus.isConnected() };
      });
      assert.ok(Number.isSafeInteger(r.session) && r.session > 0);
      assert.ok(Number.isSafeInteger(r.handle) && r.handle > 0);
      assert.equal(r.plugin, "janus.plugin.echotest");
      assert.equal(r.connected, true);
      await page.close();
    });
  }

  test("textroom: two pages chat", { timeout: CASE_MS }, async () => {
    const a = await open("http");
    const b = await open("ws");
    await a.evaluate(() => textroom("carol"));
    await waitForState(a, () => t.text, (s) => s.joined, 30_000, "carol joined");
    await b.evaluate(() => textroom("dave"));
    await waitForState(b, () => t.text, (s) => s.joined, 30_000, "dave joined");
    await waitForState(a, () => t.text, (s) => s.participants.includes("dave"), 10_000, "carol sees dave");
    await a.evaluate(() => say("hello dave"));
    await b.evaluate(() => say("hello carol"));
    for (const p of [a, b]) {
      const s = await waitForState(p, () => t.text, (s) => s.messages.length >= 2, 10_000, "messages");
      assert.deepEqual(s.messages.map((m) => `${m.from}: ${m.text}`).sort(), ["carol: hello dave", "dave: hello carol"]);
      assert.match(await p.textContent("#log"), /carol: hello dave/);
    }
    await a.close();
    await b.close();
  });

  test("echotest: negotiation reaches webrtcup (ICE pair succeeded, DTLS connected)", { timeout: CASE_MS }, async () => {
    const page = await open();
    await page.evaluate(() => echo());
    const s = await waitForState(page, () => echoStats(),
      (s) => s.webrtcup && s.pairState === "succeeded" && s.dtlsState === "connected", 30_000, "webrtcup");
    assert.equal(s.result, "ok");
    await page.close();
  });

  test("echotest: echoed video frames are decoded", { timeout: CASE_MS }, async () => {
    const page = await open();
    await page.evaluate(() => echo());
    const s = await waitForState(page, () => echoStats(), (s) => s.inbound.some((v) => v.framesDecoded > 30), 30_000, "frames");
    assert.ok(s.inbound[0].width > 0);
    await page.close();
  });

  test("echotest: data channel echoes text and binary", { timeout: CASE_MS }, async () => {
    const page = await open();
    await page.evaluate(() => echo());
    await waitForState(page, () => echoStats(), (s) => s.dataOpen, 30_000, "data channel open");
    await page.evaluate(() => { echoSend("hi there"); echoSendBinary([9, 8, 7, 0, 255]); });
    const s = await waitForState(page, () => echoStats(), (s) => s.dataEcho.length && s.binaryEcho.length, 10_000, "echoes");
    assert.deepEqual(s.dataEcho, ["Janus EchoTest here! You wrote: hi there"]);
    assert.deepEqual(s.binaryEcho, [[9, 8, 7, 0, 255]]);
    await page.close();
  });

  test("videoroom: two pages decode each other's video", { timeout: CASE_MS }, async () => {
    const a = await open("http");
    const b = await open("ws");
    await a.evaluate(() => videoroom("erin"));
    await waitForState(a, () => roomStats(), (s) => s.publishing, 30_000, "erin publishing");
    await b.evaluate(() => videoroom("frank"));
    for (const [p, other] of [[a, "frank"], [b, "erin"]]) {
      const s = await waitForState(p, () => roomStats(),
        (s) => Object.values(s.feeds).some((f) => f.display === other && f.framesDecoded > 20), 40_000, `${other} decoded`);
      assert.ok(Object.values(s.feeds).find((f) => f.display === other).width > 0);
    }
    await a.close();
    await b.close();
  });

  test("simulcast: the subscriber switches substream and the decoded resolution changes", { timeout: CASE_MS }, async () => {
    // Room 1234 caps publishers at 128 kbit/s (Janus's sample), which holds Chrome to its
    // lowest layer; a room without a cap lets its bandwidth estimate climb.
    const created = await pluginRequest(server.base, "janus.plugin.videoroom",
      { request: "create", room: 4322, bitrate: 0, publishers: 4 });
    assert.equal(created.videoroom, "created", JSON.stringify(created));
    const a = await open();
    await a.evaluate(() => videoroom("simul", { simulcast: true, room: 4322 }));
    await waitForState(a, () => roomStats(), (s) => s.publishing, 30_000, "publishing");
    const b = await open();
    await b.evaluate(() => videoroom("viewer", { room: 4322 }));
    const feed = (s) => Object.entries(s.feeds).find(([, f]) => f.display === "simul");
    const first = await waitForState(b, () => roomStats(), (s) => feed(s) && feed(s)[1].framesDecoded > 10, 30_000, "simul's video");
    const [id] = feed(first);
    await b.evaluate((id) => setSubstream(id, 0), id);
    // The dataplane's layer switch reaches janus.js as {"substream":0}; the decoded frames then
    // shrink to the lowest layer (320 wide for a 1280x720 capture).
    await waitForState(b, () => roomStats(), (s) => feed(s)[1].substream === 0, 10_000, "the substream 0 event");
    const low = await waitForState(b, () => roomStats(), (s) => feed(s)[1].width > 0 && feed(s)[1].width <= 320, 10_000, "the lowest layer decoded");
    await b.evaluate((id) => setSubstream(id, 2), id);
    const high = await waitForState(b, () => roomStats(), (s) => feed(s)[1].width > feed(low)[1].width, 20_000, "a wider layer");
    assert.ok(feed(high)[1].width >= 2 * feed(low)[1].width, `${feed(low)[1].width} -> ${feed(high)[1].width}`);
    await a.close();
    await b.close();
  });

  test("audiobridge: two pages in room 1234 hear each other through the mixer", { timeout: CASE_MS }, async () => {
    const a = await open("http");
    const b = await open("ws");
    await a.evaluate(() => audiobridge("gina"));
    await b.evaluate(() => audiobridge("hank"));
    for (const [p, other] of [[a, "hank"], [b, "gina"]]) {
      const s = await waitForState(p, () => audioStats(),
        (s) => s.webrtcup && Object.values(s.participants).some((x) => x.display === other && x.setup)
          && s.inbound && s.inbound.packets > 100 && s.inbound.energy > 0,
        40_000, `${other}'s voice in the mix`);
      assert.ok(s.joined);
    }
    // Once gina mutes herself, the energy hank receives stops growing (her voice is the only
    // one in his mix).
    await a.evaluate(() => audioMute(true));
    await waitForState(b, () => audioStats(), (s) => Object.values(s.participants).some((x) => x.display === "gina" && x.muted), 10_000, "gina muted");
    await new Promise((r) => setTimeout(r, 1500));
    const before = (await b.evaluate(() => audioStats())).inbound;
    await new Promise((r) => setTimeout(r, 3000));
    const later = (await b.evaluate(() => audioStats())).inbound;
    assert.ok(later.packets > before.packets, "the mix keeps flowing while muted");
    assert.ok(later.energy - before.energy < 1e-3, `energy grew by ${later.energy - before.energy} with gina muted`);
    await a.close();
    await b.close();
  });

  test("streaming: a viewer decodes an ffmpeg RTP feed", { timeout: CASE_MS }, async (tc) => {
    if (spawnSync("ffmpeg", ["-version"]).status !== 0) throw new Error("ffmpeg is not installed");
    const page = await open();
    const list = await page.evaluate(() => streamingList());
    assert.ok(list.length > 0, "a mountpoint exists");
    const mp = list.find((m) => (m.media || []).some((x) => x.type === "video")) || list[0];
    const ffmpeg = feedMountpoint();
    tc.after(() => ffmpeg.kill("SIGKILL"));
    await page.evaluate((id) => watch(id), mp.id);
    const s = await waitForState(page, () => streamStats(), (s) => s.framesDecoded > 30, 40_000, "frames");
    assert.ok(s.width > 0);
    await page.close();
  });
});
