// Desktop benchmark (run by tests/desktop/bench.sh, under Xvfb): idle memory of the real
// window, as total PSS of the app and its WebKit processes, with nothing open, with an empty
// workshop open and with a 2,000-note workshop open, all in the same run; and the release
// binary's size. Prints a table.
//
// Environment: CG_APP (release app binary), CG_CLI (CLI binary), CG_WORK (scratch folder),
// CG_ARTIFACTS (screenshots), BENCH_NOTES (default 2000), BENCH_IDLE_MS (default 5000).

import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync, statSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { Window, startDriver, until, sleep, killAll } from './wd.mjs';

const app = realpathSync(must('CG_APP'));
const cli = must('CG_CLI');
const work = must('CG_WORK');
const artifacts = must('CG_ARTIFACTS');
const NOTES = Number(process.env.BENCH_NOTES ?? 2000);
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 5000);

// The workshops, made with the CLI on data folders the app then opens.
const emptyData = join(work, 'empty-workshop');
const fullData = join(work, 'full-workshop');
const emptyId = newWorkshop(emptyData, 'Empty workshop');
const fullId = newWorkshop(fullData, `${NOTES} notes`);
const prompt = exec(fullData, fullId, [{ type: 'add_prompt', title: 'What would make this service better?', session: null }])[0];
const promptId = prompt.id ?? prompt.prompt ?? Object.values(prompt).find((v) => typeof v === 'string' && v.length === 36);
const t0 = Date.now();
const notes = Array.from({ length: NOTES }, (_, i) => ({
  type: 'add_note',
  prompt: promptId,
  text: `Note ${String(i + 1).padStart(4, '0')}: more time to talk before decisions are made`,
  colour: ['sun', 'sky', 'leaf', 'rose'][i % 4],
  x: (i % 50) * 30,
  y: Math.floor(i / 50) * 30,
  private: false,
  anonymous: false,
}));
const refused = exec(fullData, fullId, notes).filter((r) => r.kind);
if (refused.length) throw new Error(`The CLI refused ${refused.length} notes: ${refused[0].message}`);
console.log(`made a ${NOTES}-note workshop with the CLI in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

const rows = [];
rows.push(await measure('empty window (welcome, no workshops)', join(work, 'fresh'), null));
rows.push(await measure('empty workshop open', emptyData, 'Empty workshop'));
rows.push(await measure(`${NOTES}-note workshop open`, fullData, `${NOTES} notes`, 'Note 0001'));

const base = rows[0].total;
const mib = (kb) => (kb / 1024).toFixed(1).padStart(7);
console.log('');
console.log(`Idle memory, total PSS in MiB (after ${IDLE_MS / 1000} s idle; WEBKIT_DISABLE_COMPOSITING_MODE=${process.env.WEBKIT_DISABLE_COMPOSITING_MODE ?? 'unset'})`);
console.log('| window                                   |     app |  WebKit web | WebKit network |   total | × empty |');
console.log('|------------------------------------------|--------:|------------:|---------------:|--------:|--------:|');
for (const r of rows) {
  console.log(
    `| ${r.name.padEnd(40)} | ${mib(r.app)} | ${mib(r.web).padStart(11)} | ${mib(r.network).padStart(14)} | ${mib(r.total)} | ${(r.total / base).toFixed(2).padStart(6)}× |`,
  );
}
const size = statSync(app).size;
console.log('');
console.log(`| release binary ${app.split('/').pop()} | ${(size / 1024 / 1024).toFixed(1)} MiB (target < 25 MB) |`);
const ratio = rows[2].total / base;
console.log(`${NOTES}-note workshop vs empty window: ${ratio.toFixed(2)}× (target ≤ 1.3×)`);
killAll();
process.exit(0);

/** Opens the app on `data`, opens the workshop called `title` (if any), waits for idle and measures. */
async function measure(name, data, title, waitFor) {
  let window;
  try {
    await startDriver({ port: 4600, nativePort: 4601, env: { COMMONGROUND_DATA: data } });
    window = await Window.open({ port: 4600, application: app });
    if (title) {
      const open = await until(`the workshop "${title}" on the welcome screen`, async () =>
        window.byRole('button', new RegExp(`^Open\\s*${escape(title)}$`)),
        30000);
      await window.click(open);
      await window.waitText(waitFor ?? title, 60000);
    } else {
      await window.waitRole('button', /^Start a workshop\b/, 30000);
    }
    // Idle: the page has stopped changing, then IDLE_MS more.
    let last = -1;
    await until('the window to settle', async () => {
      const size = await window.run('return document.getElementsByTagName("*").length + (window.__cgLastNoticeAt ?? 0);');
      const settled = size === last;
      last = size;
      return settled;
    }, 60000, 1000);
    await sleep(IDLE_MS);
    // The screen, not a WebDriver screenshot: with compositing off, WebKit's hangs.
    const shot = `desktop-bench-${rows.length + 1}.png`;
    execFileSync('import', ['-window', 'root', join(artifacts, shot)], { timeout: 30000 });
    const m = pss();
    // A big board shows a page of notes per list (ui/src/components/NoteList.svelte) while
    // the page holds them all: say how many cards were on screen when measured.
    const cards = await window.run('return document.querySelectorAll("[data-note-id]").length;');
    console.log(`${name}: ${(m.total / 1024).toFixed(1)} MiB, ${cards} note cards on screen (screenshot ${shot})`);
    return { name, ...m };
  } finally {
    if (window) await window.quit();
    killAll();
    await sleep(500);
  }
}

/** PSS (kB) of the app process and its WebKit children, from /proc/PID/smaps_rollup. */
function pss() {
  const procs = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  const exe = (pid) => {
    try {
      return readlinkSync(`/proc/${pid}/exe`);
    } catch {
      return '';
    }
  };
  const ppid = (pid) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[1]);
  const appPids = procs.filter((p) => exe(p) === app);
  if (appPids.length !== 1) throw new Error(`Expected one app process, found ${appPids.length}`);
  const appPid = Number(appPids[0]);
  const kb = (pid) => Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))[1]);
  const children = procs.filter((p) => {
    try {
      return ppid(p) === appPid;
    } catch {
      return false;
    }
  });
  const of = (suffix) => children.filter((p) => exe(p).endsWith(suffix)).reduce((sum, p) => sum + kb(p), 0);
  const m = { app: kb(appPid), web: of('WebKitWebProcess'), network: of('WebKitNetworkProcess') };
  return { ...m, total: m.app + m.web + m.network };
}

function newWorkshop(data, title) {
  return execFileSync(cli, ['--data', data, 'new', '--title', title, '--name', 'Ali'], { timeout: 60000 }).toString().split('\n')[0].trim();
}

function exec(data, id, commands) {
  const out = execFileSync(cli, ['--data', data, 'exec', id, '-'], {
    input: commands.map((c) => JSON.stringify(c)).join('\n') + '\n',
    timeout: 600000,
    maxBuffer: 256 * 1024 * 1024,
  });
  return out.toString().trim().split('\n').map((line) => JSON.parse(line));
}

function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function must(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set; run tests/desktop/bench.sh`);
    process.exit(2);
  }
  return value;
}
