// Shared helpers for the browser tests and the UI benchmark: the real `commonground` binary,
// Debian's Chromium through playwright-core, axe-core, screenshots and a tiny test runner.

import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const run = promisify(execFile);

// Everything to clean up when the process ends, however it ends.
const atExit = new Set();
process.on('exit', () => {
  for (const fn of atExit) fn();
});
export const UI_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The CLI binary: $CG_BIN, or the usual debug build. */
export function binary() {
  const target = process.env.CARGO_TARGET_DIR ?? join(process.env.HOME ?? '/root', '.cache/commonground/target');
  return process.env.CG_BIN ?? join(target, 'debug/commonground');
}

/** A fresh, empty data folder, removed when the process exits. */
export function tempDir(prefix = 'cg-ui-') {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  atExit.add(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** `commonground new`: creates a workshop, returns its id (the first line printed). */
export async function newWorkshop(data, { title, name, colour = 'sky', purpose } = {}) {
  const args = ['--data', data, 'new', '--title', title, '--name', name, '--colour', colour];
  if (purpose) args.push('--purpose', purpose);
  const { stdout } = await run(binary(), args);
  const id = stdout.trim().split('\n')[0]?.trim();
  if (!id) throw new Error(`commonground new printed no workshop id: ${stdout}`);
  return id;
}

/** `commonground exec WORKSHOP -`: runs commands (objects) in order, returns the parsed replies. */
export async function exec(data, workshop, commands) {
  return await new Promise((resolvePromise, reject) => {
    const child = spawn(binary(), ['--data', data, 'exec', workshop, '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`exec failed (${code}): ${err}`));
      resolvePromise(out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)));
    });
    for (const c of commands) child.stdin.write(JSON.stringify(c) + '\n');
    child.stdin.end();
  });
}

/**
 * `commonground serve --web`: starts the laptop's web front door. Resolves once it has
 * printed its addresses (including the phone page of each of `workshops`): { web, owner, phones: Map(workshop → url), send(cmd), reply(), stop() }.
 */
export async function serve(data, { exec: execWorkshop, web: webAddress = '127.0.0.1:0', workshops = [] } = {}) {
  const expected = [...workshops, ...(execWorkshop ? [execWorkshop] : [])];
  const args = ['--data', data, 'serve', '--listen', '127.0.0.1:0', '--no-mdns', '--no-beacon', '--web', webAddress];
  if (execWorkshop) args.push('--exec', execWorkshop);
  const child = spawn(binary(), args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const phones = new Map();
  const replies = [];
  const waiting = [];
  let web = null;
  let owner = null;
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
    if (stderr.length > 20000) stderr = stderr.slice(-10000);
  });
  const lines = createInterface({ input: child.stdout });
  const ready = new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not print its addresses in time.\n${stderr}`)), 30000);
    child.on('exit', (code) => reject(new Error(`serve exited early (${code}).\n${stderr}`)));
    lines.on('line', (line) => {
      let m;
      if ((m = /^web: (\S+)/.exec(line))) web = m[1];
      else if ((m = /^this laptop: (\S+)/.exec(line))) owner = m[1];
      else if ((m = /^phones for (\S+): (\S+)/.exec(line))) phones.set(m[1], m[2]);
      else if (line.startsWith('{')) {
        const reply = JSON.parse(line);
        const w = waiting.shift();
        if (w) w(reply);
        else replies.push(reply);
      }
      if (web && owner && expected.every((w) => phones.has(w))) {
        clearTimeout(timer);
        resolveReady();
      }
    });
  });
  const server = {
    get web() {
      return web;
    },
    get owner() {
      return owner;
    },
    phones,
    /** Sends one command through `serve --exec`; resolves with its printed reply. */
    send(command) {
      return new Promise((r) => {
        waiting.push(r);
        child.stdin.write(JSON.stringify(command) + '\n');
      });
    },
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null) return;
      child.stdin.end();
      child.kill('SIGTERM');
      await new Promise((r) => {
        const t = setTimeout(() => {
          child.kill('SIGKILL');
          r();
        }, 5000);
        child.on('exit', () => {
          clearTimeout(t);
          r();
        });
      });
    },
  };
  const kill = () => child.kill('SIGKILL');
  atExit.add(kill);
  child.on('exit', () => atExit.delete(kill));
  await ready;
  return server;
}

/** Debian's Chromium, headless, with a fresh profile (playwright gives each launch its own). */
export async function browser() {
  return await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export const PHONE = { viewport: { width: 360, height: 740 }, deviceScaleFactor: 1, hasTouch: true, isMobile: true };
export const DESKTOP = { viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 };

/** A new page in its own context (its own storage: another person). Collects page errors. */
export async function person(b, options) {
  const context = await b.newContext({ ...options, reducedMotion: 'reduce', locale: 'en-GB' });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.errors = errors;
  return page;
}

const SHOTS = process.env.CG_ARTIFACTS
  ? join(process.env.CG_ARTIFACTS, 'screenshots')
  : join(UI_DIR, 'test-results', 'screenshots');

/** Saves a full-page screenshot; returns its path. */
export async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  const path = join(SHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

const AXE = join(UI_DIR, 'node_modules', 'axe-core', 'axe.min.js');

/** Runs axe-core on the page as it is now; throws listing any violation. */
export async function axe(page, label) {
  // Evaluated through DevTools rather than added as a <script>: the page's CSP (rightly)
  // allows only its own scripts.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(readFileSync(AXE, 'utf8'));
  const violations = await page.evaluate(async () => {
    // @ts-ignore -- injected above
    const result = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
      resultTypes: ['violations'],
    });
    return result.violations.map((v) => ({
      id: v.id,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')} — ${n.failureSummary?.split('\n').slice(0, 3).join(' ')}`),
    }));
  });
  if (violations.length > 0) {
    const text = violations.map((v) => `  ${v.id}: ${v.help}\n${v.nodes.map((n) => `    ${n}`).join('\n')}`).join('\n');
    throw new Error(`axe found ${violations.length} problem(s) on "${label}":\n${text}`);
  }
}

/** Waits until `fn` (run in the page) is truthy. */
export async function until(page, fn, arg, timeout = 15000) {
  await page.waitForFunction(fn, arg, { timeout, polling: 50 });
}

/** Presses Tab until the focused element matches `selector` (keyboard-only navigation). */
export async function tabTo(page, selector, { max = 80, shift = false } = {}) {
  for (let i = 0; i < max; i++) {
    const hit = await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector);
    if (hit) return;
    await page.keyboard.press(shift ? 'Shift+Tab' : 'Tab');
  }
  const where = await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 200));
  throw new Error(`Tabbed ${max} times without reaching ${selector}; focus is on ${where}`);
}

/** Types with the keyboard into whatever has focus. */
export async function type(page, text) {
  await page.keyboard.type(text, { delay: 5 });
}

/** Checks that focus is visible: the focused element has an outline or a focus ring. */
export async function assertFocusVisible(page) {
  const ok = await page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return false;
    const s = getComputedStyle(el);
    return (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2) || s.boxShadow !== 'none';
  });
  if (!ok) throw new Error('The focused element has no visible focus style.');
}

/** A tiny test runner: named async tests in order; prints a summary; exits non-zero on failure. */
export async function runTests(tests, { only = process.env.CG_TEST } = {}) {
  let passed = 0;
  let failed = 0;
  for (const [name, fn] of tests) {
    if (only && !name.includes(only)) continue;
    const start = Date.now();
    try {
      await fn();
      passed++;
      console.log(`ok   ${name} (${((Date.now() - start) / 1000).toFixed(1)} s)`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${name}\n${e instanceof Error ? e.stack ?? e.message : e}`);
    }
  }
  console.log(`\n${passed} passed, ${failed} failed`);
  process.exitCode = failed > 0 ? 1 : 0;
}

/** Presses Tab until focus is on the button/control whose accessible text includes `text`. */
export async function tabToText(page, text, { role = 'button', max = 120, shift = false } = {}) {
  for (let i = 0; i < max; i++) {
    const hit = await page.evaluate(
      ([t, r]) => {
        const el = document.activeElement;
        if (!el || el === document.body) return false;
        const tag = el.tagName.toLowerCase();
        const isRole =
          r === 'any' ||
          (r === 'button' && (tag === 'button' || tag === 'summary' || el.getAttribute('role') === 'tab')) ||
          (r === 'field' && ['input', 'textarea', 'select'].includes(tag));
        if (!isRole) return false;
        const label =
          tag === 'button' || tag === 'summary'
            ? el.textContent ?? ''
            : [...(el.labels ?? [])].map((l) => l.textContent).join(' ') + ' ' + (el.getAttribute('aria-label') ?? '');
        return label.replace(/\s+/g, ' ').includes(t);
      },
      [text, role],
    );
    if (hit) return;
    await page.keyboard.press(shift ? 'Shift+Tab' : 'Tab');
  }
  const where = await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 160));
  throw new Error(`Could not reach "${text}" with Tab; focus is on ${where}`);
}

/** Waits until the page shows `text` somewhere. */
export async function sees(page, text, timeout = 15000) {
  await until(page, (t) => document.body.innerText.includes(t), text, timeout);
}

/** Waits until the page no longer shows `text`. */
export async function doesNotSee(page, text, timeout = 15000) {
  await until(page, (t) => !document.body.innerText.includes(t), text, timeout);
}

/** Whether the page shows `text` right now. */
export async function shows(page, text) {
  return await page.evaluate((t) => document.body.innerText.includes(t), text);
}

/**
 * Runs browser tests in one Chromium, handed to `use` first (the tests' `b`): each test's
 * pages are closed after it, and when a test fails every page it left is screenshotted
 * (`<prefix>-failed-N.png`, taken after the test's own clean-up, so a stopped laptop shows as
 * "Reconnecting") and its errors printed.
 */
export async function runInBrowser(tests, prefix, use) {
  const b = await browser();
  use(b);
  try {
    await runTests(
      tests.map(([name, fn]) => [
        name,
        async () => {
          try {
            await fn();
          } catch (e) {
            let n = 0;
            for (const c of b.contexts()) {
              for (const p of c.pages()) {
                await shot(p, `${prefix}-failed-${++n}`).catch(() => {});
                if (p.errors?.length) console.log(`page ${n} errors:\n  ${p.errors.join('\n  ')}`);
              }
            }
            throw e;
          } finally {
            for (const c of b.contexts()) await c.close();
          }
        },
      ]),
    );
  } finally {
    await b.close();
  }
}
