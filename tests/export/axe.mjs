// axe-core in real Chromium over the exported HTML: the values document and its easy-read
// version (the committed snapshots of the fixture workshop, unless files are given).
//
//   node tests/export/axe.mjs [FILE.html ...]
//
// Each page is checked with every axe rule for WCAG 2.x A/AA plus best practice, at a desktop
// width and at 200 % zoom (half the width, twice the scale), where the page must also reflow
// without scrolling sideways. Exits non-zero on any violation. playwright-core and axe-core
// come from ui/node_modules (the UI owns those dependencies); the browser is the system's.

import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(resolve(root, 'ui', 'package.json'));
const { chromium } = require('playwright-core');
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const files = process.argv.slice(2);
if (files.length === 0) {
  const snapshots = resolve(root, 'crates', 'export', 'tests', 'snapshots');
  files.push(resolve(snapshots, 'values.html'), resolve(snapshots, 'easy-read.html'));
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});

let failures = 0;
try {
  for (const file of files) {
    for (const view of [
      { name: 'desktop', viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 },
      { name: '200% zoom', viewport: { width: 640, height: 450 }, deviceScaleFactor: 2 },
    ]) {
      const context = await browser.newContext({ viewport: view.viewport, deviceScaleFactor: view.deviceScaleFactor });
      // The exported page is one self-contained file: it must not need the network.
      await context.route(/^(?!file:)/, (route) => route.abort());
      const page = await context.newPage();
      await page.goto(pathToFileURL(resolve(file)).href);
      await page.addScriptTag({ content: axeSource });
      const result = await page.evaluate(() =>
        window.axe.run(document, {
          runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
        }),
      );
      const sideways = await page.evaluate(
        () => document.documentElement.scrollWidth > document.documentElement.clientWidth + 1,
      );
      const label = `${file} (${view.name})`;
      for (const v of result.violations) {
        failures += 1;
        console.error(`${label}: ${v.id} (${v.impact}): ${v.help}`);
        for (const node of v.nodes.slice(0, 5)) console.error(`    ${node.target.join(' ')}: ${node.failureSummary}`);
      }
      if (sideways) {
        failures += 1;
        console.error(`${label}: the page scrolls sideways; it should reflow`);
      }
      console.log(`${label}: ${result.passes.length} rules passed, ${result.violations.length} violations`);
      await context.close();
    }
  }
} finally {
  await browser.close();
}
if (failures > 0) {
  console.error(`${failures} accessibility problems found.`);
  process.exit(1);
}
console.log(`${files.length} pages checked: no accessibility violations.`);
