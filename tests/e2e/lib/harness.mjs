// Shared pieces of the browser tests: start Portunus on free loopback ports, launch headless
// Chromium (the Debian package) through playwright-core, serve a folder over HTTP, and wait for
// a page's state to satisfy a condition.
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const E2E_DIR = resolve(fileURLToPath(import.meta.url), "../..");
export const REPO = resolve(E2E_DIR, "../..");

/** Every case gets at most this long (the node:test timeout of a case). */
export const CASE_MS = 60_000;

/** A free TCP port on 127.0.0.1 (bound then released; the server binds it right after). */
export function freePort() {
  return new Promise((ok, fail) => {
    const s = createNetServer();
    s.on("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/** The server binary: $PORTUNUS_BIN, else target/release/portunus, else target/debug/portunus. */
export function serverBinary() {
  if (process.env.PORTUNUS_BIN) return process.env.PORTUNUS_BIN;
  for (const p of ["target/release/portunus", "target/debug/portunus"]) {
    if (existsSync(join(REPO, p))) return join(REPO, p);
  }
  throw new Error("no portunus binary: build it first (tests/e2e/run does)");
}

/**
 * Start Portunus on free loopback ports with candidates on 127.0.0.1. Resolves once the HTTP
 * port answers `GET /janus/info`. `stop()` ends it by its PID.
 */
export async function startPortunus(extraArgs = []) {
  const [http, ws, admin] = [await freePort(), await freePort(), await freePort()];
  const rtpBase = 20000 + Math.floor(Math.random() * 20000);
  const args = [
    "--http-port", String(http), "--ws-port", String(ws), "--admin-port", String(admin),
    "--bind", "127.0.0.1", "--ice-ip", "127.0.0.1", "--shards", "2",
    "--rtp-port-range", `${rtpBase}-${rtpBase + 99}`,
    ...extraArgs,
  ];
  const child = spawn(serverBinary(), args, { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const keep = (b) => {
    log += b.toString();
    if (log.length > 200_000) log = log.slice(-100_000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const exited = new Promise((r) => child.on("exit", (code, sig) => r({ code, sig })));
  // Never leave the server behind, even if the test process dies.
  const reap = () => child.exitCode === null && child.kill("SIGKILL");
  process.on("exit", reap);
  const base = `http://127.0.0.1:${http}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`portunus exited at start:\n${log}`);
    try {
      const r = await fetch(`${base}/janus/info`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`portunus did not answer within 15 s:\n${log}`);
    }
    await sleep(100);
  }
  return {
    base, http, ws, admin, pid: child.pid,
    wsUrl: `ws://127.0.0.1:${ws}`,
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        process.kill(child.pid, "SIGTERM");
        const t = setTimeout(() => child.exitCode === null && process.kill(child.pid, "SIGKILL"), 5000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

/** Headless Chromium with fake camera and microphone, in a fresh profile. */
export async function launchBrowser() {
  const profile = mkdtempSync(join(tmpdir(), "portunus-e2e-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
      // Loopback candidates (Chromium gathers none by default): the server is on 127.0.0.1.
      "--allow-loopback-in-peer-connection",
      "--autoplay-policy=no-user-gesture-required",
    ],
    viewport: { width: 1280, height: 900 },
  });
  const errors = [];
  context.on("page", (p) => watchPage(p, errors));
  for (const p of context.pages()) watchPage(p, errors);
  return {
    context,
    errors,
    async page(url) {
      const p = await context.newPage();
      await p.goto(url);
      return p;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

function watchPage(p, errors) {
  p.on("pageerror", (e) => errors.push(`${p.url()}: ${e.message}`));
  p.on("console", (m) => {
    if (process.env.E2E_VERBOSE) console.log(`[page ${p.url()}] ${m.type()}: ${m.text()}`);
  });
}

/**
 * Poll `fn` (run in the page, returning demo/test state) until `test(value)` holds; throws with
 * the last value seen after `ms`.
 */
export async function waitForState(page, fn, test, ms = 30_000, what = "condition") {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await page.evaluate(fn);
    if (test(last)) return last;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; last state: ${JSON.stringify(last, null, 1).slice(0, 3000)}`);
    }
    await sleep(250);
  }
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css" };

/**
 * A static HTTP server on 127.0.0.1 for `routes`: URL prefix -> folder. Only files inside each
 * folder are served.
 */
export async function serveStatic(routes) {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    for (const [prefix, dir] of Object.entries(routes)) {
      if (!path.startsWith(prefix)) continue;
      const file = normalize(join(dir, path.slice(prefix.length)));
      if (!file.startsWith(resolve(dir) + sep) || !existsSync(file)) break;
      res.writeHead(200, { "Content-Type": TYPES[extname(file)] || "application/octet-stream" });
      res.end(readFileSync(file));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    base: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((r) => server.close(r)),
  };
}


/**
 * One Janus API round trip over HTTP: `create` a session, `attach` `plugin`, send `body` as a
 * synchronous `message`, `destroy` the session; returns the plugin's data.
 */
export async function pluginRequest(base, plugin, body) {
  const post = async (path, msg) => {
    const r = await fetch(`${base}${path}`, { method: "POST", body: JSON.stringify({ transaction: "e2e", ...msg }) });
    return r.json();
  };
  const session = (await post("/janus", { janus: "create" })).data.id;
  const handle = (await post(`/janus/${session}`, { janus: "attach", plugin })).data.id;
  const reply = await post(`/janus/${session}/${handle}`, { janus: "message", body });
  await post(`/janus/${session}`, { janus: "destroy" });
  return reply.plugindata && reply.plugindata.data;
}

/**
 * ffmpeg's test pattern as VP8 over RTP to a mountpoint's video port (E2E_STREAM_PORT, default
 * 5004: the video port of Janus's sample mountpoint 1).
 */
export function feedMountpoint() {
  const port = process.env.E2E_STREAM_PORT || "5004";
  return spawn("ffmpeg", [
    "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=15",
    "-c:v", "libvpx", "-deadline", "realtime", "-b:v", "300k", "-g", "15", "-payload_type", "100",
    "-f", "rtp", `rtp://127.0.0.1:${port}`,
  ], { stdio: "ignore" });
}
