// Browser tests of the parts of a workshop beyond the board: helpful challenges, agreeing
// values by consent, reflection and actions, and catching up — two people (Sam, facilitating,
// on the laptop's own page; Sarah on a phone) against the real `commonground serve --web`.
// Keyboard only, axe-core on every new screen, screenshots to $CG_ARTIFACTS/screenshots.
//
// Needs what tests/browser.mjs needs (the built UI, CG_BIN, /usr/bin/chromium).

import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DESKTOP,
  PHONE,
  axe,
  newWorkshop,
  person,
  runInBrowser,
  sees,
  serve,
  shot,
  tabTo,
  tabToText,
  tempDir,
  type,
  until,
} from './lib.mjs';

const TITLE = 'Living Well design team';
const VALUE = 'Everyone is listened to, whatever their role.';
let b;

/** Tabs to a button (by its words) and presses it. */
async function press(page, text, options) {
  await tabToText(page, text, options);
  await page.keyboard.press('Enter');
}

/** Tabs to a field (by its label) and types into it. */
async function fill(page, label, text) {
  await tabToText(page, label, { role: 'field' });
  await page.keyboard.press('Control+A');
  await type(page, text);
}

/** Picks an option of a radio group (named `name`) with the arrow keys. */
async function choose(page, name, label) {
  await tabTo(page, `input[type=radio][name="${name}"]`);
  for (let i = 0; i < 8; i++) {
    const now = await page.evaluate(
      () => /** @type {HTMLInputElement} */ (document.activeElement)?.closest('label')?.textContent ?? '',
    );
    if (now.includes(label)) {
      await page.keyboard.press('Space');
      return;
    }
    await page.keyboard.press('ArrowDown');
  }
  throw new Error(`No option "${label}" in the radio group ${name}`);
}

/** Moves to a part of the workshop with the navigation. */
async function goTo(page, part) {
  await press(page, part);
  await until(page, (p) => document.querySelector('nav [aria-current=page]')?.textContent?.includes(p), part);
}

/** The radio group name of the open consent round's stance on this page. */
async function stanceGroup(page) {
  return await page.evaluate(() => document.querySelector('input[type=radio][name$="-stance"]')?.getAttribute('name'));
}

/** Gives a stance in the open round, with a reason if given. */
async function giveStance(page, stance, reason) {
  await until(page, () => !!document.querySelector('input[type=radio][name$="-stance"]'));
  await choose(page, await stanceGroup(page), stance);
  if (reason) await fill(page, 'Your reason', reason);
  await press(page, 'my view');
}

async function joinAs(url, name) {
  const page = await person(b, PHONE);
  await page.goto(url);
  await sees(page, "You're invited to");
  await tabToText(page, 'Your first name', { role: 'field' });
  await type(page, name);
  await press(page, 'Join the workshop');
  await until(page, () => !!document.getElementById('phase-heading'));
  return page;
}

const tests = [
  [
    'a challenge, a value agreed by consent, version 2, reflections to an action, and catching up',
    async () => {
      const data = tempDir();
      const id = await newWorkshop(data, { title: TITLE, name: 'Sam', colour: 'leaf', purpose: 'Designing a service together.' });
      const server = await serve(data, { workshops: [id], exec: id });
      try {
        const snap = await server.send({ type: 'get_snapshot' });
        const area = snap.board.prompts[0].id;
        for (const text of ['Being listened to', 'Plain words, no jargon']) {
          await server.send({ type: 'add_note', prompt: area, text, colour: 'sun', x: 0, y: 0, private: false, anonymous: false });
        }

        const sam = await person(b, DESKTOP);
        await sam.goto(server.owner);
        await sees(sam, TITLE);
        await press(sam, 'Open');
        await sees(sam, 'Being listened to');
        const sarah = await joinAs(server.phones.get(id), 'Sarah');
        await sees(sarah, 'Being listened to');

        // 1. Sarah challenges one of Sam's notes.
        await until(sarah, () => [...document.querySelectorAll('[data-note-text]')].some((n) => n.textContent === 'Being listened to'));
        const noteId = await sarah.evaluate(
          () =>
            /** @type {HTMLElement | undefined} */ ([...document.querySelectorAll('[data-note-id]')].find(
              (li) => li.querySelector('[data-note-text]')?.textContent === 'Being listened to',
            ))?.dataset.noteId,
        );
        await tabTo(sarah, `#note-${noteId}-options`);
        await sarah.keyboard.press('Enter');
        await press(sarah, 'Challenge this note');
        await sees(sarah, 'Challenge the idea, not the person');
        await axe(sarah, 'raise a challenge (phone)');
        await choose(sarah, await sarah.evaluate(() => document.querySelector('input[type=radio][name$="-kind"]')?.getAttribute('name')), 'A question');
        await fill(sarah, 'Your challenge', 'Listened to by whom: staff, or each other?');
        await shot(sarah, 'together-01-raise-challenge-phone');
        await press(sarah, 'Raise challenge');

        // Sam sees it, replies and marks it heard.
        await until(sam, () => document.querySelector('nav')?.textContent?.includes('1 open'));
        await goTo(sam, 'Challenges');
        await sees(sam, 'Listened to by whom: staff, or each other?');
        await sees(sam, 'About the note “Being listened to”');
        await axe(sam, 'challenges');
        await fill(sam, 'Reply', 'Both, we hope.');
        await press(sam, 'Send reply');
        await sees(sam, 'Both, we hope.');
        await press(sam, 'Mark as heard');
        await sees(sam, 'No challenges are open right now.');

        // 2. Sam drafts a value from the two notes.
        await goTo(sam, 'Values');
        await press(sam, 'Draft a value');
        await fill(sam, 'The value, in one sentence', VALUE);
        await tabToText(sam, 'Being listened to', { role: 'any' });
        await sam.keyboard.press('Space');
        await tabToText(sam, 'Plain words, no jargon', { role: 'any' });
        await sam.keyboard.press('Space');
        await sees(sam, '2 notes chosen.');
        await axe(sam, 'draft a value');
        await press(sam, 'Draft the value');
        await until(sam, (v) => document.querySelector('h1')?.textContent?.includes(v), VALUE);
        await fill(sam, 'Add a behaviour', 'We will listen without interrupting.');
        await press(sam, 'Add behaviour');
        await sees(sam, 'We will listen without interrupting.');
        await sees(sam, 'From 2 notes on the board.');

        // 3. A consent round: Sarah objects (which opens a challenge), Sam agrees; not agreed.
        await press(sam, 'Open a consent round');
        await sees(sam, 'Consent round on version 1');
        await until(sarah, () => document.querySelector('nav')?.textContent?.includes('1 to decide'));
        await goTo(sarah, 'Values');
        await press(sarah, VALUE);
        await sees(sarah, 'Consent round on version 1');
        await axe(sarah, 'consent round (phone)');
        await choose(sarah, await stanceGroup(sarah), 'Object');
        await press(sarah, 'Give my view');
        await sees(sarah, 'Please add a reason with “Object”');
        await fill(sarah, 'Your reason', 'It should say how we will check.');
        await press(sarah, 'Give my view');
        await sees(sarah, 'Object — “It should say how we will check.”');
        await shot(sarah, 'together-02-objection-phone');
        await giveStance(sam, 'Agree');
        await sees(sam, '2 views given: 1 agree, 0 with reservations, 0 standing aside, 1 objection.');
        await axe(sam, 'consent round with views');
        await shot(sam, 'together-03-round-tally');
        await press(sam, 'Close the round');
        await sees(sam, 'Not agreed: an objection is still open');

        // The objection is a challenge on the value; Sarah says it changed her view.
        await sees(sarah, 'This is an objection in a consent round.');
        await press(sarah, 'This changed my view');
        await sees(sarah, 'Status: Changed my view');

        // 4. A second round: reservations (with a reason) and stand aside; agreed.
        await press(sam, 'Open a consent round');
        await giveStance(sam, 'Agree with reservations', 'We should check it with the wider group.');
        await sees(sam, 'Agree with reservations — “We should check it with the wider group.”');
        await giveStance(sarah, 'Stand aside');
        await sees(sam, '2 views given: 0 agree, 1 with reservations, 1 standing aside, 0 objections.');
        await press(sam, 'Close the round');
        await sees(sam, 'Version 1 agreed');
        await until(sam, () => document.querySelector('.badge')?.textContent === 'Agreed');

        // 5. Editing the agreed wording starts version 2.
        await press(sam, 'Change the value\'s wording');
        await sees(sam, 'Changing it starts version 2');
        await sam.keyboard.press('End');
        await sam.keyboard.press('Backspace');
        await type(sam, ', and we show it.');
        await press(sam, 'Save');
        await sees(sam, 'Version 2');
        await until(sam, () => document.querySelector('.badge')?.textContent === 'Draft');
        await sees(sam, 'whatever their role, and we show it.');
        await axe(sam, 'value page, version 2');
        await shot(sam, 'together-04-value-version-2');

        // 6. Sarah catches up, then goes away.
        await goTo(sarah, 'What’s new');
        await sees(sarah, 'The journey so far');
        await sees(sarah, 'The group agreed “Everyone is listened to, whatever their role.” (version 1).');
        await axe(sarah, 'what’s new (phone)');
        await press(sarah, 'I’ve caught up');
        await sees(sarah, 'Nothing new since you last caught up.');
        // Her phone's page closes (her identity stays in the phone's storage).
        const phone = sarah.context();
        await sarah.close();

        // 7. Meanwhile Sam reflects and turns a reflection into an action for Sarah.
        await goTo(sam, 'Reflect');
        await fill(sam, 'Add to “What worked”', 'Hearing everyone’s views first');
        await press(sam, 'Add', { max: 10 });
        await sees(sam, 'Hearing everyone’s views first');
        await axe(sam, 'reflect');
        await press(sam, 'Make this an action');
        await fill(sam, 'What will be done?', 'Start each session with a go-round');
        await tabToText(sam, 'Who will do it?', { role: 'field' });
        await sam.keyboard.press('ArrowDown');
        await sam.keyboard.press('ArrowDown');
        await press(sam, 'Add the action');
        await until(sam, () => document.querySelector('.actions-list')?.textContent?.includes('Start each session with a go-round'));
        await sees(sam, 'Sarah');
        await shot(sam, 'together-05-reflect-action');

        // 8. Sarah comes back: what's new lists what Sam did while she was away.
        const back = await phone.newPage();
        await back.goto(server.phones.get(id));
        await until(back, () => !!document.getElementById('phase-heading'));
        await goTo(back, 'What’s new');
        await sees(back, 'Sam reflected on “What worked”: “Hearing everyone’s views first”');
        await sees(back, 'A new action: “Start each session with a go-round”');
        const lines = await back.evaluate(() => [...document.querySelectorAll('.since li')].map((l) => l.textContent ?? ''));
        assert.ok(lines.every((l) => !l.includes('raised a challenge')), 'only what changed since she caught up');
        await shot(back, 'together-06-catch-up-phone');
        await goTo(back, 'Reflect');
        await sees(back, 'Start each session with a go-round');
        await axe(back, 'reflect (phone)');
      } finally {
        await server.stop();
      }
    },
  ],
  [
    'everyone’s voice: counts without ranking, a go-round with a right to pass, and a quiet break',
    async () => {
      const data = tempDir();
      const id = await newWorkshop(data, { title: TITLE, name: 'Sam', colour: 'leaf' });
      const server = await serve(data, { workshops: [id] });
      try {
        const sam = await person(b, DESKTOP);
        await sam.goto(server.owner);
        await sees(sam, TITLE);
        await press(sam, 'Open');
        const sarah = await joinAs(server.phones.get(id), 'Sarah');

        await press(sam, 'Everyone’s voice');
        await sees(sam, '0 of 2 people have added something so far');
        await tabToText(sarah, 'Write a note', { role: 'field' });
        await type(sarah, 'Somewhere quiet to wait');
        await press(sarah, 'Add note');
        await sees(sam, '1 of 2 people has added something so far');
        await press(sam, 'Not heard from in writing yet (1)');
        await sees(sam, 'Invite, don’t press');
        await axe(sam, 'everyone’s voice');

        // A go-round in the order people joined: Sam, then Sarah, who passes from her phone.
        await choose(sam, 'goround-order', 'The order people joined');
        await press(sam, 'Start a go-round');
        await sees(sam, 'It’s your turn.');
        await sees(sarah, 'It’s Sam’s turn.');
        await axe(sarah, 'go-round (phone)');
        await press(sarah, 'Pass when it’s my turn');
        await until(sam, () => document.querySelector('.order')?.textContent?.includes('will pass'));
        await shot(sam, 'together-07-go-round');
        // Her turn comes, marked as passed (the room can see it without her saying so), and
        // the facilitator moves on.
        await press(sam, 'Next person');
        await sees(sam, 'It’s Sarah’s turn.');
        await until(sam, () => document.querySelector('.order .current')?.textContent?.includes('passed'));
        await press(sam, 'Next person');
        await sees(sam, 'Everyone has had a turn.');
        await sees(sarah, 'Everyone has had a turn.');
        await press(sam, 'End the go-round');
        await until(sarah, () => !document.getElementById('goround-h'));

        // A quiet break: only the facilitator sees it.
        await press(sarah, 'I need a break');
        await sees(sarah, 'The facilitator knows you’d like a break.');
        await sees(sam, 'Sarah would like a break.');
        await axe(sam, 'a break asked for');
        await shot(sam, 'together-08-break');
        await press(sam, 'Noted');
        await until(sam, () => !document.querySelector('.breaks'));
        await until(sarah, () => [...document.querySelectorAll('button')].some((b) => b.textContent?.includes('I need a break')));
      } finally {
        await server.stop();
      }
    },
  ],
  [
    'export the values document, and carry on from home through a folder',
    async () => {
      const data = tempDir();
      const shared = tempDir('cg-shared-');
      const id = await newWorkshop(data, { title: TITLE, name: 'Sam', colour: 'leaf', purpose: 'Designing a service together.' });
      const server = await serve(data, { workshops: [id], exec: id });
      try {
        const value = await server.send({ type: 'draft_value', statement: VALUE, sources: [] });
        await server.send({ type: 'open_consent_round', value: value.id, quorum: 1 });
        await server.send({ type: 'give_stance', value: value.id, stance: 'agree', reason: null });
        await server.send({ type: 'close_consent_round', value: value.id });

        const sam = await person(b, DESKTOP);
        await sam.goto(server.owner);
        await sees(sam, TITLE);
        await press(sam, 'Open');
        await goTo(sam, 'Export');
        await sees(sam, '1 value is agreed');
        await axe(sam, 'export');
        await choose(sam, 'format', 'Web page');
        let download = sam.waitForEvent('download');
        await press(sam, 'Download');
        let file = await download;
        assert.equal(file.suggestedFilename(), 'living-well-design-team-values.html');
        const html = await readFile(await file.path(), 'utf8');
        assert.ok(html.includes(VALUE), 'the web page has the agreed value');
        await sees(sam, 'Downloaded “living-well-design-team-values.html”');
        await choose(sam, 'format', 'PDF');
        download = sam.waitForEvent('download', { timeout: 60000 });
        await press(sam, 'Download');
        file = await download;
        assert.equal(file.suggestedFilename(), 'living-well-design-team-values.pdf');
        assert.equal((await readFile(await file.path())).subarray(0, 5).toString(), '%PDF-');
        await shot(sam, 'together-09-export');

        // From home: a folder, refused kindly when it isn't there, then used.
        await goTo(sam, 'From home');
        await sees(sam, 'Such a server can read everything in this workshop');
        await axe(sam, 'from home');
        await fill(sam, 'The folder’s full path', `${shared}/not-here`);
        await press(sam, 'Use this folder');
        await sees(sam, 'There is no folder at');
        await fill(sam, 'The folder’s full path', shared);
        await press(sam, 'Use this folder');
        await sees(sam, `Syncing through: ${shared}`);
        await sees(sam, 'Working. Changes go into the folder as you make them.');
        const inside = await readdir(shared);
        assert.equal(inside.length, 1, `one folder for the workshop: ${inside}`);
        const files = await readdir(join(shared, inside[0]));
        assert.ok(files.length >= 1, 'this laptop wrote its changes');
        const sealed = await readFile(join(shared, inside[0], files[0]));
        assert.ok(!sealed.includes(Buffer.from('listened')), 'only ciphertext in the folder');

        // A server address that can't work is refused; one that is down is kept and retried.
        await fill(sam, 'The server’s address', 'wss://sync.example.org');
        await tabToText(sam, 'The group has agreed', { role: 'any' });
        await sam.keyboard.press('Space');
        await press(sam, 'Sync through this server');
        await sees(sam, 'wss://');
        await fill(sam, 'The server’s address', 'ws://127.0.0.1:9');
        await press(sam, 'Sync through this server');
        await sees(sam, 'Not connected yet');
        await shot(sam, 'together-10-from-home');
        await press(sam, 'Stop using this server');
        await sees(sam, 'The server’s address');
        await press(sam, 'Stop using this folder');
        await until(sam, () => !document.body.innerText.includes('Syncing through:'));

        // A phone can download the easy-read version, and is told how to carry on from home.
        const sarah = await joinAs(server.phones.get(id), 'Sarah');
        await goTo(sarah, 'Export');
        await choose(sarah, 'format', 'Easy read');
        download = sarah.waitForEvent('download');
        await press(sarah, 'Download');
        file = await download;
        assert.equal(file.suggestedFilename(), 'living-well-design-team-values-easy-read.html');
        await goTo(sarah, 'From home');
        await sees(sarah, 'You’re taking part through the facilitator’s laptop');
        await axe(sarah, 'from home (phone)');
      } finally {
        await server.stop();
      }
    },
  ],
];

await runInBrowser(tests, 'together', (browser) => (b = browser));
