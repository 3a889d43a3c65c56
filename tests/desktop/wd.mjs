// A small WebDriver client for the real desktop window: it starts tauri-driver for one app
// binary and data folder, speaks W3C WebDriver over HTTP with Node's fetch (no npm packages),
// and finds elements the way a person does, by role and accessible name or by label.
//
// Used by tests/desktop/e2e.mjs and tests/desktop/bench.mjs, which run under Xvfb.

import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every child process started here, killed (with its process group) on the way out. */
const children = new Set();

export function track(child) {
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

export function killAll() {
  for (const child of children) {
    try {
      // Children are started in their own process group, so this also ends what they
      // started (WebKitWebDriver, the app and its WebKit processes).
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      try {
        child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  children.clear();
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}
process.on('exit', killAll);

/** Polls `check` until it returns something truthy, or fails with `what` after `ms`. */
export async function until(what, check, ms = 15000, every = 100) {
  const deadline = Date.now() + ms;
  let lastError;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`Gave up after ${ms} ms waiting for ${what}${lastError ? `: ${lastError.message}` : ''}`);
    }
    await sleep(every);
  }
}

/** Starts tauri-driver with `env` added, and waits until its native driver answers. */
export async function startDriver({ port, nativePort, env = {}, log }) {
  const child = track(
    spawn('tauri-driver', ['--port', String(port), '--native-port', String(nativePort)], {
      env: { ...process.env, ...env },
      detached: true,
      stdio: ['ignore', log ?? 'ignore', log ?? 'ignore'],
    }),
  );
  await until(
    'the WebDriver to start',
    async () => (await fetch(`http://127.0.0.1:${nativePort}/status`, { signal: AbortSignal.timeout(1000) })).ok,
    15000,
  );
  return child;
}

/** One WebDriver session on the app window. Always `quit()` it (one session at a time). */
export class Window {
  constructor(base, id) {
    this.base = base;
    this.id = id;
  }

  static async open({ port, application, timeoutMs = 60000 }) {
    const base = `http://127.0.0.1:${port}`;
    const reply = await call(base, 'POST', '/session', {
      capabilities: { alwaysMatch: { 'tauri:options': { application } } },
    }, timeoutMs);
    return new Window(base, reply.sessionId);
  }

  async cmd(method, path, body) {
    return call(this.base, method, `/session/${this.id}${path}`, body);
  }

  async quit() {
    try {
      await this.cmd('DELETE', '');
    } catch {
      /* the process group is killed anyway */
    }
  }

  /** Runs `body` (a function body; `arguments` holds `args`) in the page. */
  async run(body, ...args) {
    return this.cmd('POST', '/execute/sync', { script: body, args });
  }

  /** Runs an async function body in the page; it resolves by calling `arguments[arguments.length - 1]`. */
  async runAsync(body, ...args) {
    return this.cmd('POST', '/execute/async', { script: body, args });
  }

  /**
   * The visible element with this role (button, link, textbox, heading) and accessible name
   * (its aria-label, its label or its text), or null. `name` may be a RegExp.
   */
  async byRole(role, name) {
    const found = await this.run(FIND_BY_ROLE, role, name instanceof RegExp ? name.source : escapeRegExp(name));
    return found ? found[ELEMENT] : null;
  }

  /** Waits for `byRole` to find something. */
  async waitRole(role, name, ms = 15000) {
    return until(`a ${role} called "${name}"`, () => this.byRole(role, name), ms);
  }

  async click(element) {
    await this.cmd('POST', `/element/${element}/click`, {});
  }

  async type(element, text) {
    await this.cmd('POST', `/element/${element}/clear`, {}).catch(() => {});
    await this.cmd('POST', `/element/${element}/value`, { text });
  }

  /** The text of the whole page, as a person would read it. */
  async pageText() {
    return this.run('return document.body.innerText;');
  }

  /** Waits until the page shows `text` (a string or RegExp). */
  async waitText(text, ms = 15000) {
    return until(
      `the window to show "${text}"`,
      async () => {
        const page = await this.pageText();
        return text instanceof RegExp ? text.test(page) : page.includes(text);
      },
      ms,
    );
  }

  async title() {
    return this.cmd('GET', '/title');
  }

  /** Saves a screenshot of the web view as PNG; returns its path. */
  async screenshot(dir, name) {
    mkdirSync(dir, { recursive: true });
    const path = join(dir, name);
    writeFileSync(path, Buffer.from(await this.cmd('GET', '/screenshot'), 'base64'));
    return path;
  }
}

async function call(base, method, path, body, timeoutMs = 30000) {
  const response = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const json = await response.json().catch(() => ({}));
  if (!response.ok || (json.value && json.value.error)) {
    const v = json.value ?? {};
    throw new Error(`WebDriver ${method} ${path}: ${v.error ?? response.status} ${v.message ?? ''}`.trim());
  }
  return json.value;
}

function escapeRegExp(text) {
  return `^\\s*${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`;
}

// Runs in the page: a small stand-in for Testing Library's getByRole.
const FIND_BY_ROLE = `
  const [role, pattern] = arguments;
  const wanted = new RegExp(pattern, 'i');
  const selectors = {
    button: 'button, [role="button"], input[type="submit"], input[type="button"]',
    link: 'a[href], [role="link"]',
    textbox: 'input:not([type]), input[type="text"], input[type="search"], textarea, [role="textbox"], [contenteditable="true"]',
    heading: 'h1, h2, h3, h4, h5, h6, [role="heading"]',
    checkbox: 'input[type="checkbox"], [role="checkbox"]',
    radio: 'input[type="radio"], [role="radio"]',
  };
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden';
  };
  const nameOf = (el) => {
    if (el.getAttribute('aria-label')) return el.getAttribute('aria-label');
    const by = el.getAttribute('aria-labelledby');
    if (by) return by.split(/\\s+/).map((id) => document.getElementById(id)?.innerText ?? '').join(' ');
    if (el.labels && el.labels.length) return Array.from(el.labels).map((l) => l.innerText).join(' ');
    if (el.placeholder && !el.value) return el.placeholder;
    return el.innerText ?? el.value ?? '';
  };
  for (const el of document.querySelectorAll(selectors[role] ?? '[role="' + role + '"]')) {
    if (visible(el) && wanted.test(nameOf(el).replace(/\\s+/g, ' '))) return el;
  }
  return null;
`;
