// The project's own demo pages (served by portunus at /demos/) in headless Chromium.
// Assertions come from each page's `window.demoState` (fed by getStats and the DOM) and the DOM.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { CASE_MS, feedMountpoint, launchBrowser, pluginRequest, startPortunus, waitForState } from "./lib/harness.mjs";

const state = () => window.demoState;

describe("demo pages", { timeout: 10 * CASE_MS }, () => {
  let server, browser;

  before(async () => {
    server = await startPortunus();
    browser = await launchBrowser();
  });

  after(async () => {
    if (browser) await browser.close();
    if (server) await server.stop();
  });

  test("index page links every demo and reads /janus/info", { timeout: CASE_MS }, async () => {
    const page = await browser.page(`${server.base}/`);
    const s = await waitForState(page, state, (s) => s && s.connected !== undefined, 10_000, "info");
    assert.equal(s.connected, true);
    assert.ok(Object.keys(s.info.plugins).includes("janus.plugin.echotest"));
    assert.ok(Object.keys(s.info.plugins).includes("janus.plugin.audiobridge"));
    const links = await page.$$eval("a.demo", (as) => as.map((a) => a.getAttribute("href")));
    assert.deepEqual(links.sort(), [
      "/demos/audiobridge.html", "/demos/echotest.html", "/demos/status.html", "/demos/streaming.html",
      "/demos/textroom.html", "/demos/videoroom.html",
    ]);
    await page.close();
  });

  for (const transport of ["http", "ws"]) {
    test(`portunus.js: session, attach, message, detach over ${transport}`, { timeout: CASE_MS }, async () => {
      const page = await browser.page(`${server.base}/demos/echotest.html?transport=${transport}`);
      const r = await page.evaluate(async () => {
        const session = await Demo.connect();
        const h = await session.attach("janus.plugin.echotest");
        let error;
        try {
          await h.send({}); // EchoTest: no supported attributes -> 413
        } catch (e) {
          error = { code: e.code, reason: e.reason };
        }
        const ok = await h.send({ audio: true });
        await h.detach();
        await session.destroy();
        return { server: Demo.state.server, session: session.id, handle: h.id, error, ok: ok.data };
      });
      assert.ok(Number.isSafeInteger(r.session) && r.session > 0);
      assert.ok(Number.isSafeInteger(r.handle) && r.handle > 0);
      assert.equal(r.server.startsWith("ws://"), transport === "ws");
      assert.equal(r.error.code, 413);
      assert.deepEqual(r.ok, { echotest: "event", result: "ok" });
      await page.close();
    });
  }

  test("textroom: two pages join room 1234 and chat over the data channel", { timeout: CASE_MS }, async () => {
    const alice = await browser.page(`${server.base}/demos/textroom.html`);
    const bob = await browser.page(`${server.base}/demos/textroom.html?transport=ws`);
    for (const [p, name] of [[alice, "alice"], [bob, "bob"]]) {
      await p.fill("#username", name);
      await p.click("#join");
      await waitForState(p, state, (s) => s.joined, 30_000, `${name} joined`);
    }
    await waitForState(alice, state, (s) => s.participants.some((p) => p.username === "bob"), 10_000, "alice sees bob");
    await alice.fill("#text", "hello from alice");
    await alice.press("#text", "Enter");
    await bob.fill("#text", "hi alice, bob here");
    await bob.click("#send");
    for (const p of [alice, bob]) {
      const s = await waitForState(p, state, (s) => s.messages.length >= 2, 10_000, "both messages");
      assert.deepEqual(
        s.messages.map((m) => [m.from, m.text]).sort(),
        [["alice", "hello from alice"], ["bob", "hi alice, bob here"]],
      );
      const shown = await p.$$eval("#chat .msg", (ds) => ds.map((d) => d.textContent));
      assert.ok(shown.some((t) => t.includes("hello from alice")), shown.join("|"));
      assert.equal(s.pcState, "connected");
    }
    await alice.close();
    await bob.close();
  });

  test("echotest: negotiation reaches webrtcup (ICE pair succeeded, DTLS connected)", { timeout: CASE_MS }, async () => {
    const page = await browser.page(`${server.base}/demos/echotest.html`);
    await page.click("#start");
    const s = await waitForState(
      page, state,
      (s) => s.webrtcup && s.pairState === "succeeded" && s.dtlsState === "connected",
      30_000, "webrtcup",
    );
    assert.equal(s.pcState, "connected");
    await page.close();
  });

  test("echotest: echoed video frames are decoded", { timeout: CASE_MS }, async () => {
    const page = await browser.page(`${server.base}/demos/echotest.html`);
    await page.click("#start");
    const s = await waitForState(page, state, (s) => s.echoFramesDecoded > 30, 30_000, "decoded frames");
    assert.ok(s.echoWidth > 0 && s.echoHeight > 0);
    assert.ok(s.media.video, "the server saw video arriving");
    await page.close();
  });

  test("echotest: data channel echoes text and binary", { timeout: CASE_MS }, async () => {
    const page = await browser.page(`${server.base}/demos/echotest.html`);
    await page.click("#start");
    await waitForState(page, state, (s) => s.dataOpen, 30_000, "data channel open");
    await page.fill("#dc-text", "ping 1");
    await page.press("#dc-text", "Enter");
    await page.evaluate(() => demo.sendBinary([0, 1, 2, 254, 255]));
    const s = await waitForState(page, state, (s) => s.dataEcho.length && s.binaryEcho.length, 10_000, "echoes");
    assert.deepEqual(s.dataEcho, ["Janus EchoTest here! You wrote: ping 1"]);
    assert.deepEqual(s.binaryEcho, [[0, 1, 2, 254, 255]]);
    const shown = await page.textContent("#dc-echoes");
    assert.ok(shown.includes("You wrote: ping 1"));
    await page.close();
  });

  test("videoroom: two pages decode each other's video", { timeout: CASE_MS }, async () => {
    const a = await browser.page(`${server.base}/demos/videoroom.html?display=alice`);
    const b = await browser.page(`${server.base}/demos/videoroom.html?display=bob&transport=ws`);
    await a.click("#join");
    await waitForState(a, state, (s) => s.publishing, 30_000, "alice publishing");
    await b.click("#join");
    for (const [p, other] of [[a, "bob"], [b, "alice"]]) {
      const s = await waitForState(
        p, state,
        (s) => Object.values(s.remotes).some((r) => r.display === other && r.framesDecoded > 20),
        40_000, `${other}'s video decoded`,
      );
      const r = Object.values(s.remotes).find((r) => r.display === other);
      assert.ok(r.width > 0 && r.height > 0);
    }
    await a.close();
    await b.close();
  });

  test("audiobridge: two pages in room 1234 hear each other through the mixer", { timeout: CASE_MS }, async () => {
    const a = await browser.page(`${server.base}/demos/audiobridge.html?display=ivy`);
    const b = await browser.page(`${server.base}/demos/audiobridge.html?display=jack&transport=ws`);
    await a.click("#join");
    await b.click("#join");
    for (const [p, other] of [[a, "jack"], [b, "ivy"]]) {
      await waitForState(
        p, state,
        (s) => s.webrtcup && Object.values(s.participants).some((x) => x.display === other && x.setup)
          && s.inboundPackets > 100 && s.inboundEnergy > 0,
        40_000, `${other}'s voice in the mix`,
      );
    }
    // The participant list is rendered for people, too.
    assert.match(await a.textContent("body"), /jack/);
    await a.close();
    await b.close();
  });

  test("simulcast: the subscriber switches substream and the decoded resolution changes", { timeout: CASE_MS }, async () => {
    // Room 1234 caps publishers at 128 kbit/s (Janus's sample), which holds Chrome to its
    // lowest layer; a room without a cap lets its bandwidth estimate climb.
    const created = await pluginRequest(server.base, "janus.plugin.videoroom",
      { request: "create", room: 4321, bitrate: 0, publishers: 4 });
    assert.equal(created.videoroom, "created", JSON.stringify(created));
    const a = await browser.page(`${server.base}/demos/videoroom.html?display=pub&simulcast=1`);
    await a.fill("#room", "4321");
    await a.click("#join");
    await waitForState(a, state, (s) => s.publishing, 30_000, "publishing");
    const b = await browser.page(`${server.base}/demos/videoroom.html?display=sub`);
    await b.fill("#room", "4321");
    await b.click("#join");
    const remote = (s) => Object.values(s.remotes).find((r) => r.display === "pub");
    await waitForState(b, state, (s) => remote(s) && remote(s).framesDecoded > 10, 30_000, "pub's video");
    const feed = await b.evaluate(() => Object.entries(demoState.remotes).find(([, r]) => r.display === "pub")[0]);
    // Low, then high: the decoded width must grow (the encoder may drop its top layer when the
    // CPU is busy, so the test compares the two rather than expecting 1280).
    await b.selectOption(`#feed-${feed} select.substream`, "0");
    // The dataplane's layer switch reaches the page as {"substream":0}; the decoded frames then
    // shrink to the lowest layer (320 wide for a 1280x720 capture).
    await waitForState(b, state, (s) => remote(s).substream === 0, 10_000, "the substream 0 event");
    const low = await waitForState(b, state, (s) => remote(s).width > 0 && remote(s).width <= 320, 10_000, "the lowest layer decoded");
    await b.selectOption(`#feed-${feed} select.substream`, "2");
    const high = await waitForState(b, state, (s) => remote(s).width > remote(low).width, 20_000, "a wider layer");
    assert.ok(remote(high).width >= 2 * remote(low).width, `${remote(low).width} -> ${remote(high).width}`);
    await a.close();
    await b.close();
  });

  test("streaming: a viewer decodes an ffmpeg RTP feed", { timeout: CASE_MS }, async (t) => {
    if (spawnSync("ffmpeg", ["-version"]).status !== 0) throw new Error("ffmpeg is not installed");
    const page = await browser.page(`${server.base}/demos/streaming.html`);
    const list = await waitForState(page, state, (s) => s.mountpoints.length > 0, 15_000, "mountpoints");
    const mp = list.mountpoints.find((m) => (m.media || []).some((x) => x.type === "video")) || list.mountpoints[0];
    const ffmpeg = feedMountpoint();
    t.after(() => ffmpeg.kill("SIGKILL"));
    await page.selectOption("#mountpoints", String(mp.id));
    await page.click("#watch");
    const s = await waitForState(page, state, (s) => s.framesDecoded > 30, 40_000, "decoded frames");
    assert.ok(s.width > 0);
    await page.close();
  });

  test("status page shows sessions and the rooms, and draws the plot", { timeout: CASE_MS }, async () => {
    const page = await browser.page(`${server.base}/demos/status.html`);
    const s = await waitForState(page, state, (s) => s.samples >= 2 && s.videoRooms && s.textRooms, 20_000, "status");
    assert.ok(s.sessions >= 1, "the page's own session is counted");
    assert.ok(s.handles >= 2);
    assert.ok(s.videoRooms.some((r) => r.room === 1234));
    assert.ok(s.textRooms.some((r) => r.room === 1234));
    assert.equal(await page.textContent("#n-sessions"), String(s.sessions));
    const drawn = await page.evaluate(() => {
      const c = document.getElementById("plot");
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let ink = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i]) ink++;
      return ink;
    });
    assert.ok(drawn > 100, "axes and labels are drawn");
    await page.close();
  });

  after(() => {
    if (browser && browser.errors.length) console.log(`page errors:\n${browser.errors.join("\n")}`);
  });
});
