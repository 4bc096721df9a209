// One small driver interface over the three browser engines the tests run, all from Debian
// packages: Chromium (/usr/bin/chromium) and Firefox ESR (/usr/bin/firefox-esr) through
// puppeteer-core (CDP and WebDriver BiDi), WebKitGTK through WebKitWebDriver (webkit2gtk-driver,
// classic WebDriver, driven by selenium-webdriver) with its MiniBrowser under an X server (Xvfb,
// started here when there is no DISPLAY). Tests act on pages through in-page JavaScript only
// (clicks, typing, files), so one scenario runs unchanged in every engine.
//
//   const browser = await launch('firefox');   // a fresh profile: empty storage and caches
//   const page = await browser.open(url);
//   await page.waitFor(() => document.body.dataset.ready === 'true');
//   const n = await page.evaluate((sel) => document.querySelectorAll(sel).length, 'li');
//   await page.reload(); await page.close(); await browser.close();
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

import puppeteer from 'puppeteer-core';
import { Builder } from 'selenium-webdriver';

export const ENGINES = ['chromium', 'firefox', 'webkit'];
const PATHS = {
  chromium: process.env.VITRINE_CHROMIUM ?? '/usr/bin/chromium',
  firefox: process.env.VITRINE_FIREFOX ?? '/usr/bin/firefox-esr',
  webkitDriver: process.env.VITRINE_WEBKIT_DRIVER ?? '/usr/bin/WebKitWebDriver',
  miniBrowser: process.env.VITRINE_MINIBROWSER ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser',
};

/** The browser's executable (Chromium, Firefox ESR) or WebKitWebDriver. */
export const executable = (engine) => (engine === 'webkit' ? PATHS.webkitDriver : PATHS[engine]);

/** Whether `engine`'s browser is installed here (scripts/bootstrap.sh installs all three). */
export function available(engine) {
  const files = engine === 'webkit' ? [PATHS.webkitDriver, PATHS.miniBrowser] : [PATHS[engine]];
  return files.every((f) => fs.existsSync(f));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function poll(check, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** Launches `engine` ('chromium' | 'firefox' | 'webkit') with a fresh profile. */
export async function launch(engine) {
  if (engine === 'chromium' || engine === 'firefox') return launchPuppeteer(engine);
  if (engine === 'webkit') return launchWebKit();
  throw new Error(`unknown engine ${engine}`);
}

async function launchPuppeteer(engine) {
  const browser = await puppeteer.launch(engine === 'firefox'
    ? { browser: 'firefox', executablePath: PATHS.firefox, headless: true }
    : { executablePath: PATHS.chromium, headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  const version = await browser.version();
  return {
    engine,
    version,
    pid: browser.process()?.pid,
    // cpuThrottling (Chromium only): DevTools' CPU slowdown factor, set before the navigation.
    async open(url, { cpuThrottling } = {}) {
      const page = await browser.newPage();
      if (cpuThrottling) await page.emulateCPUThrottling(cpuThrottling);
      await page.goto(url, { waitUntil: 'load' });
      return {
        evaluate: (fn, ...args) => page.evaluate(fn, ...args),
        async waitFor(fn, arg, timeoutMs = 60_000) {
          const handle = await page.waitForFunction(fn, { timeout: timeoutMs, polling: 100 }, arg);
          const value = await handle.jsonValue();
          await handle.dispose();
          return value;
        },
        reload: () => page.reload({ waitUntil: 'load' }),
        close: () => page.close(),
      };
    },
    close: () => browser.close(),
  };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

// An X server for the MiniBrowser when the tests run without a display (CI): Xvfb picks a free
// display number and writes it to the descriptor we read.
let xvfb = null;
async function display() {
  if (process.env.DISPLAY) return process.env.DISPLAY;
  if (!xvfb) {
    xvfb = new Promise((resolve, reject) => {
      const x = spawn('Xvfb', ['-displayfd', '1', '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'], { stdio: ['ignore', 'pipe', 'ignore'] });
      x.on('error', reject);
      x.unref();
      process.on('exit', () => x.kill());
      let out = '';
      x.stdout.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve(`:${out.trim()}`);
      });
    });
  }
  return xvfb;
}

// A script the page does not answer within this time is an error (the tests' own waits poll with
// short scripts), so that a stuck page fails with a message well inside a test's time limit.
const SCRIPT_TIMEOUT_MS = 30_000;

// WebKitWebDriver (2.50) now and then never answers a new-session request: it starts no
// MiniBrowser and waits forever, before any page is loaded (seen in two CI runs, and in 1 of 92
// sessions opened in a loop here). A
// session that has not started within this time is given up, and the driver restarted.
const SESSION_TIMEOUT_MS = 20_000;
const SESSION_ATTEMPTS = 3;

async function startWebKitDriver(env) {
  const port = await freePort();
  const driver = spawn(PATHS.webkitDriver, [`--port=${port}`], { env, stdio: 'ignore' });
  const base = `http://127.0.0.1:${port}`;
  try {
    await poll(() => fetch(`${base}/status`).then((r) => r.ok, () => false), 10_000, 'WebKitWebDriver');
  } catch (e) {
    driver.kill();
    throw e;
  }
  return { driver, base };
}

async function launchWebKit() {
  const env = { ...process.env, DISPLAY: await display() };
  let { driver, base } = await startWebKitDriver(env);
  let session = null;
  // 'eager': navigation returns at DOMContentLoaded (tests wait for the page's own signals), so a
  // frame that never loads does not hold the driver until its page-load timeout.
  const newSession = async () => {
    for (let attempt = 1; ; attempt++) {
      const s = new Builder().usingServer(base).withCapabilities({
        browserName: 'MiniBrowser',
        pageLoadStrategy: 'eager',
        'webkitgtk:browserOptions': { binary: PATHS.miniBrowser, args: ['--automation'] },
      }).build();
      s.catch(() => {});  // an abandoned request fails once its driver is gone
      const started = s.getSession().then(() => true);
      started.catch(() => {});
      if (await Promise.race([started, sleep(SESSION_TIMEOUT_MS).then(() => false)])) return s;
      driver.kill('SIGKILL');
      if (attempt === SESSION_ATTEMPTS) throw new Error(`WebKitWebDriver started no browser session within ${SESSION_TIMEOUT_MS / 1000} s, ${attempt} times`);
      console.warn(`[drivers] WebKitWebDriver started no session within ${SESSION_TIMEOUT_MS / 1000} s; restarting it`);
      ({ driver, base } = await startWebKitDriver(env));
    }
  };
  // Async-aware script evaluation: the function's result (awaited) or its error comes back as JSON.
  const evaluate = async (fn, ...args) => {
    const script = `const done = arguments[arguments.length - 1];
      const args = Array.prototype.slice.call(arguments, 0, -1);
      Promise.resolve().then(() => (${fn}).apply(null, args))
        .then((value) => done({ value: value === undefined ? null : value }), (e) => done({ error: String(e && e.stack || e) }));`;
    let r;
    try {
      r = await session.executeAsyncScript(script, ...args);
    } catch (e) {
      if (e?.name !== 'ScriptTimeoutError') throw e;
      throw new Error(`the page did not answer a script within ${SCRIPT_TIMEOUT_MS / 1000} s (its main thread is blocked, or WebKit's automation is stuck)`);
    }
    if (r.error) throw new Error(`in page: ${r.error}`);
    return r.value;
  };
  let version = 'WebKitGTK';
  return {
    engine: 'webkit',
    get version() { return version; },
    get pid() { return driver.pid; },  // the MiniBrowser and its web processes run below the driver
    async open(url, { cpuThrottling } = {}) {
      if (cpuThrottling) throw new Error('CPU throttling is a Chromium (DevTools) feature');
      if (session) throw new Error('one page at a time in WebKit');
      session = await newSession();
      const caps = await session.getCapabilities();
      version = `WebKitGTK ${caps.get('browserVersion') ?? ''}`.trim();
      await session.manage().setTimeouts({ script: SCRIPT_TIMEOUT_MS, pageLoad: 60_000 });
      await session.get(url);
      return {
        evaluate,
        waitFor: (fn, arg, timeoutMs = 60_000) => poll(() => evaluate(fn, arg), timeoutMs, String(fn)),
        reload: () => session.navigate().refresh(),
        async close() { await session.quit(); session = null; },
      };
    },
    async close() {
      if (session) await session.quit().catch(() => {});
      driver.kill();
    },
  };
}
