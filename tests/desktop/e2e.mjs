// End to end on the real desktop window (run by tests/desktop/webdriver.sh, under Xvfb):
// start a workshop and add a note through the UI, then see a note written on a second laptop
// (the `commonground` CLI, a separate process with its own data folder) appear in the window.
//
// Environment: CG_APP (the app binary), CG_CLI (the CLI binary), CG_ARTIFACTS (screenshots),
// CG_WORK (a fresh scratch folder).

import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Window, startDriver, until, sleep, track, killAll } from './wd.mjs';

const app = must('CG_APP');
const cli = must('CG_CLI');
const artifacts = must('CG_ARTIFACTS');
const work = must('CG_WORK');
const appData = join(work, 'laptop-1');
const cliData = join(work, 'laptop-2');
const saved = join(work, 'saved');
mkdirSync(artifacts, { recursive: true });

const FACILITATOR = 'Ali';
const TITLE = 'Living Well design team';
const MY_NOTE = 'Evening sessions, so carers can come';
const THEIR_NOTE = 'Peer support in the waiting room';

const started = Date.now();
const step = (what) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${what}`);

let window;
let failed = false;
try {
  const log = openSync(join(artifacts, 'desktop-e2e-app.log'), 'w');
  // COMMONGROUND_SAVE_TO stands in for the native save and folder dialogs (WebDriver can't
  // press their buttons); COMMONGROUND_CLI is the program the app asks to typeset PDFs.
  mkdirSync(saved, { recursive: true });
  await startDriver({
    port: 4600,
    nativePort: 4601,
    env: { COMMONGROUND_DATA: appData, COMMONGROUND_SAVE_TO: saved, COMMONGROUND_CLI: cli },
    log,
  });
  window = await Window.open({ port: 4600, application: app });
  // The page names the screen in its title ("Welcome – Common Ground"); the window itself is
  // "Common Ground" (tauri.conf.json), checked with xwininfo where it is installed.
  const title = await window.title();
  const native = nativeTitles();
  step(`window open: page "${title}", window ${native ? JSON.stringify(native) : '(xwininfo not installed)'}`);
  if (!/Common Ground$/.test(title)) throw new Error(`The page is titled "${title}".`);
  if (native && !native.some((t) => /Common Ground$/.test(t))) throw new Error('No window is titled "Common Ground".');

  // Welcome → Start a workshop → the title and the facilitator's first name → the board.
  await window.click(await window.waitRole('button', /^Start a workshop\b/, 30000));
  await window.type(await window.waitRole('textbox', 'Workshop title'), TITLE);
  await window.type(await window.waitRole('textbox', 'Your first name'), FACILITATOR);
  await window.click(await window.waitRole('button', 'Start the workshop'));
  await window.waitRole('heading', TITLE);
  step('workshop started through the UI');

  // A note, through the UI, in the first area of the board.
  await window.type(await window.waitRole('textbox', /^Write a note/), MY_NOTE);
  await window.click(await window.waitRole('button', 'Add note'));
  await window.waitText(MY_NOTE);
  step('note added through the UI');
  await window.screenshot(artifacts, 'desktop-e2e-1-own-note.png');

  // The invite link and this laptop's port, from the app itself (the invite screen shows the
  // same view; its QR codes are for people, not tests).
  const invite = await ask({ type: 'hello' }).then(({ workshops }) => ask({ type: 'invite', workshop: workshops[0].id }));
  const port = Number(invite.addresses[0]?.split(':').pop());
  if (!invite.link.startsWith('commonground:') || !port) throw new Error(`Unexpected invite view: ${JSON.stringify(invite.addresses)}`);
  step(`invite link from the app; it listens on port ${port}`);

  // The second laptop: join with the link, then serve connected to this one, adding a note.
  execFileSync(cli, ['--data', cliData, 'join', invite.link, '--name', 'Sam', '--address', `127.0.0.1:${port}`], {
    timeout: 30000,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  step('second laptop joined');
  const workshopId = (await ask({ type: 'hello' })).workshops[0].id;
  const serve = track(
    spawn(
      cli,
      ['--data', cliData, 'serve', '--listen', '127.0.0.1:0', '--no-mdns', '--no-beacon', '--connect', `127.0.0.1:${port}`, '--exec', workshopId],
      { detached: true, stdio: ['pipe', 'pipe', openSync(join(artifacts, 'desktop-e2e-cli.log'), 'w')] },
    ),
  );
  const replies = createInterface({ input: serve.stdout });
  const pending = [];
  replies.on('line', (line) => pending.shift()?.(JSON.parse(line)));
  const exec = (command) =>
    new Promise((resolve) => {
      pending.push(resolve);
      serve.stdin.write(`${JSON.stringify(command)}\n`);
    });

  // Once the second laptop has the board (with the area the UI's note went into), it adds
  // its note there.
  const prompt = await until(
    "the second laptop to receive the workshop's board",
    async () => {
      const reply = await exec({ type: 'get_snapshot' });
      const board = (reply.snapshot ?? reply).board;
      return board?.prompts?.find((p) => p.notes?.some((n) => n.text === MY_NOTE))?.id ?? board?.prompts?.[0]?.id;
    },
    30000,
    500,
  );
  const added = await exec({ type: 'add_note', prompt, text: THEIR_NOTE, colour: 'leaf', x: 40, y: 40, private: false, anonymous: false });
  if (added.kind) throw new Error(`The second laptop couldn't add its note: ${added.message}`);
  step('second laptop added its note');

  await window.waitText(THEIR_NOTE, 30000);
  step("the second laptop's note is in the window");
  // Bring both notes into view for the screenshot.
  await window.run(
    `const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
     while (walker.nextNode()) if (walker.currentNode.data.includes(arguments[0])) {
       walker.currentNode.parentElement.scrollIntoView({ block: 'center' }); break;
     }`,
    THEIR_NOTE,
  );
  await sleep(1000);
  const shot = await window.screenshot(artifacts, 'desktop-e2e-2-their-note.png');
  execFileSync('import', ['-window', 'root', join(artifacts, 'desktop-e2e-3-screen.png')]);
  step(`screenshots in ${artifacts} (${shot})`);
  serve.stdin.end();

  // The values document as a PDF, through the save command (the PDF typeset by the CLI).
  await window.click(await window.waitRole('button', 'Export'));
  await window.waitRole('heading', 'Export the values document');
  await window.click(await window.waitRole('button', /^Save/));
  await window.waitText('Saved to', 60000);
  const pdf = join(saved, 'living-well-design-team-values.pdf');
  if (!existsSync(pdf) || readFileSync(pdf).subarray(0, 5).toString() !== '%PDF-') throw new Error(`No PDF at ${pdf}`);
  step('exported the values document as a PDF through the window');
  await window.screenshot(artifacts, 'desktop-e2e-4-export.png');

  // Carrying on from home: the folder "chosen" in the folder dialog is used at once.
  await window.click(await window.waitRole('button', 'From home'));
  await window.click(await window.waitRole('button', /^Choose a folder/));
  await window.waitText('Working. Changes go into the folder as you make them.', 30000);
  if (!readdirSync(saved).some((f) => f.startsWith('commonground-'))) throw new Error('Nothing was written to the folder.');
  step('syncing through a shared folder chosen in the window');
  await window.screenshot(artifacts, 'desktop-e2e-5-from-home.png');
} catch (e) {
  failed = true;
  console.error(`FAILED: ${e.message}`);
  if (window) {
    await window.screenshot(artifacts, 'desktop-e2e-failure.png').catch(() => {});
    const text = await window.pageText().catch(() => '(unreadable)');
    console.error(`The window showed:\n${text}`);
  }
} finally {
  if (window) await window.quit();
  killAll();
}
console.log(failed ? '0 passed, 1 failed' : '1 passed, 0 failed');
process.exit(failed ? 1 : 0);

/** Asks the app a front-door request through the window's own IPC, as the UI would. */
async function ask(request) {
  const reply = await window.runAsync(
    `const done = arguments[arguments.length - 1];
     window.__TAURI_INTERNALS__.invoke('request', { request: arguments[0] })
       .then((r) => done({ ok: r }), (e) => done({ err: e }));`,
    request,
  );
  if (reply.err) throw new Error(`The app refused ${request.type}: ${JSON.stringify(reply.err)}`);
  const { type, ...rest } = reply.ok;
  void type;
  return rest;
}

/** The names of the top-level windows on the display, or null without xwininfo. */
function nativeTitles() {
  try {
    const tree = execFileSync('xwininfo', ['-root', '-children'], { timeout: 5000 }).toString();
    return [...tree.matchAll(/^\s+0x[0-9a-f]+ "([^"]*)"/gm)].map((m) => m[1]).filter(Boolean);
  } catch {
    return null;
  }
}

function must(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set; run tests/desktop/webdriver.sh`);
    process.exit(2);
  }
  return value;
}
