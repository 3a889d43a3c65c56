// Browser tests against the real laptop: `commonground serve --web` and Debian's Chromium.
// Every flow here is done with the keyboard only (Tab, Shift+Tab, Enter, Space, arrow keys
// and typing); axe-core checks every screen; screenshots go to $CG_ARTIFACTS/screenshots or
// ui/test-results/screenshots, phone-sized (360×740) for participants and 1280×800 for the
// facilitator's laptop.
//
// Needs: the built UI served by the binary (npm run build first), CG_BIN (or the debug build
// in $CARGO_TARGET_DIR), /usr/bin/chromium.

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import {
  DESKTOP,
  PHONE,
  assertFocusVisible,
  axe,
  doesNotSee,
  exec,
  newWorkshop,
  person,
  runInBrowser,
  sees,
  serve,
  shot,
  shows,
  tabTo,
  tabToText,
  tempDir,
  type,
  until,
} from './lib.mjs';

const TITLE = 'Living Well design team';
let b;

/** No sideways scrolling: everything fits the width (320 px screens, 200 % zoom). */
async function fitsWidth(page, label) {
  const { scroll, width } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    width: document.documentElement.clientWidth,
  }));
  assert.ok(scroll <= width + 1, `${label}: the page scrolls sideways (${scroll} px content in ${width} px)`);
}

/** A free TCP port on this machine, for restarting the laptop on the same address. */
async function freePort() {
  return await new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

/** Sets up a workshop with Sam as facilitator, serving it; returns the server and id. */
async function roomWithSam() {
  const data = tempDir();
  const id = await newWorkshop(data, {
    title: TITLE,
    name: 'Sam',
    colour: 'leaf',
    purpose: 'Designing a mental-health service together, as equals.',
  });
  const server = await serve(data, { workshops: [id] });
  return { data, id, server };
}

/** Opens the facilitator's laptop page and the workshop, keyboard only. */
async function openAsFacilitator(server) {
  const page = await person(b, DESKTOP);
  await page.goto(server.owner);
  await sees(page, TITLE);
  if (await shows(page, 'Your workshops')) {
    await tabToText(page, 'Open');
    await page.keyboard.press('Enter');
  }
  await until(page, () => document.querySelector('h1')?.textContent?.includes('Living Well'));
  await sees(page, 'Facilitator tools');
  return page;
}

/** Joins from a phone with the keyboard: a titled name first, then the suggestion. */
async function joinFromPhone(url, { name = 'Sarah', titled = 'Dr Sarah', label = 'participant' } = {}) {
  const page = await person(b, PHONE);
  await page.goto(url);
  await sees(page, "You're invited to");
  await axe(page, 'join (phone)');
  await shot(page, `${label}-01-join-phone`);
  await tabToText(page, 'Your first name', { role: 'field' });
  await type(page, titled);
  // The colour: arrow keys move through the radio group.
  await tabTo(page, 'input[type=radio]');
  await page.keyboard.press('ArrowRight');
  await tabToText(page, 'Join the workshop');
  await page.keyboard.press('Enter');
  if (titled !== name) {
    await sees(page, 'first names only');
    await sees(page, `How about "${name}"?`);
    // The field keeps what they typed.
    assert.equal(await page.inputValue('#me-name'), titled);
    await axe(page, 'join with a titled name (phone)');
    await shot(page, `${label}-02-title-refused-phone`);
    await tabToText(page, `Use “${name}”`, { shift: true });
    await page.keyboard.press('Enter');
    assert.equal(await page.inputValue('#me-name'), name);
    await tabToText(page, 'Join the workshop');
    await page.keyboard.press('Enter');
  }
  await until(page, () => !!document.getElementById('phase-heading'));
  return page;
}

/** Writes a note in the first area and waits for it to be on the board, keyboard only. */
async function addNote(page, text, options = {}) {
  await writeNote(page, text, options);
  await until(page, (t) => [...document.querySelectorAll('[data-note-text]')].some((n) => n.textContent === t), text);
}

/** Writes a note in the first area and sends it, keyboard only. */
async function writeNote(page, text, { privately = false } = {}) {
  await tabToText(page, 'Write a note', { role: 'field' });
  await type(page, text);
  if (privately && (await page.$('.add input[type=checkbox]'))) {
    await tabToText(page, 'Keep it private', { role: 'any' });
    await page.keyboard.press('Space');
  }
  await tabToText(page, 'Add note');
  await page.keyboard.press('Enter');
}

/** Opens the facilitator tools (a disclosure) if closed. */
async function openTools(page) {
  const open = await page.evaluate(() => document.querySelector('details.tools')?.open ?? false);
  if (!open) {
    await tabToText(page, 'Facilitator tools');
    await page.keyboard.press('Enter');
  }
}

/** Moves the room to a phase with the select and its button (keyboard only). */
async function choosePhase(page, label) {
  await openTools(page);
  await tabToText(page, 'Or choose a phase', { role: 'field' });
  const { from, to } = await page.evaluate((l) => {
    const sel = /** @type {HTMLSelectElement} */ (document.getElementById('tools-phase-choice'));
    return { from: sel.selectedIndex, to: [...sel.options].findIndex((o) => o.textContent === l) };
  }, label);
  assert.ok(to >= 0, `there is a phase called ${label}`);
  for (let i = 0; i < Math.abs(to - from); i++) await page.keyboard.press(to > from ? 'ArrowDown' : 'ArrowUp');
  await tabToText(page, 'Go to this phase');
  await page.keyboard.press('Enter');
  await sees(page, `The room is now on: ${label}`);
}

const tests = [
  [
    'first run: start a workshop from the laptop page, keyboard only',
    async () => {
      const data = tempDir();
      const server = await serve(data);
      try {
        const page = await person(b, DESKTOP);
        await page.goto(server.owner);
        await sees(page, 'Welcome to Common Ground');
        await axe(page, 'first run welcome');
        await shot(page, 'facilitator-01-first-run-desktop');

        await tabToText(page, 'Start a workshop');
        await assertFocusVisible(page);
        await page.keyboard.press('Enter');
        await sees(page, 'Ground rules');
        await axe(page, 'start a workshop');
        // The default ground rules are there, and can be edited.
        assert.ok(await shows(page, 'Add a ground rule'));
        assert.equal(await page.inputValue('#workshop-title'), '');

        await tabToText(page, 'Workshop title', { role: 'field' });
        await type(page, TITLE);
        await page.keyboard.press('Tab');
        await type(page, 'Designing a mental-health service together, as equals.');
        // Remove the fourth rule, then add one of our own.
        await tabToText(page, 'Remove ground rule 4');
        await page.keyboard.press('Enter');
        await tabToText(page, 'Add a ground rule');
        await page.keyboard.press('Enter');
        await type(page, 'Phones on silent, please.');
        await tabToText(page, 'Your first name', { role: 'field' });
        await type(page, 'Nurse Sam');
        await page.keyboard.press('Enter'); // submits the form
        await sees(page, 'How about "Sam"?');
        await axe(page, 'start a workshop, titled name refused');
        await shot(page, 'facilitator-02-title-refused-desktop');
        await tabToText(page, 'Use “Sam”', { shift: true });
        await page.keyboard.press('Enter');
        assert.equal(await page.inputValue('#me-name'), 'Sam');
        await tabTo(page, 'input[type=radio]');
        await page.keyboard.press('ArrowRight');
        await page.keyboard.press('ArrowRight');
        await tabToText(page, 'Start the workshop');
        await page.keyboard.press('Enter');

        await until(page, () => document.querySelector('h1')?.textContent?.includes('Living Well'));
        await sees(page, 'Our ideas');
        await tabToText(page, 'Our ground rules');
        await page.keyboard.press('Enter');
        await sees(page, 'Phones on silent, please.');
        assert.ok(!(await shows(page, 'fine to take a break')), 'the removed rule is gone');
        await axe(page, 'board (facilitator, new workshop)');
        await shot(page, 'facilitator-03-new-board-desktop');
        assert.deepEqual(page.errors, []);
      } finally {
        await server.stop();
      }
    },
  ],
  [
    'the laptop page: its workshops, start another, and both ways to join — keyboard only',
    async () => {
      const { server } = await roomWithSam();
      try {
        const page = await person(b, DESKTOP);
        await page.goto(server.owner);
        await sees(page, 'Your workshops');
        await axe(page, 'your workshops');
        await shot(page, 'facilitator-08-home-desktop');

        // Join with a link: an invite that isn't one is explained, and nothing is lost.
        await tabToText(page, 'Join with a link');
        await page.keyboard.press('Enter');
        await sees(page, 'Invite link');
        await axe(page, 'join with a link');
        await tabToText(page, 'Invite link', { role: 'field' });
        await type(page, 'commonground://join/not-a-real-invite');
        await tabToText(page, 'Your first name', { role: 'field' });
        await type(page, 'Alex');
        await tabToText(page, 'Join the workshop');
        await page.keyboard.press('Enter');
        await until(page, () => !!document.querySelector('[role=alert]'));
        await axe(page, 'join with a link, refused');
        await shot(page, 'facilitator-09-join-link-refused-desktop');
        assert.equal(await page.inputValue('#join-link'), 'commonground://join/not-a-real-invite');
        await tabToText(page, 'Back', { shift: true });
        await page.keyboard.press('Enter');

        // Join nearby: the list of laptops, or an address typed in, and the code.
        await tabToText(page, 'Join a workshop nearby');
        await page.keyboard.press('Enter');
        await sees(page, 'The 6-digit code');
        await until(page, () => !document.body.innerText.includes('Looking for laptops'));
        await axe(page, 'join nearby');
        await shot(page, 'facilitator-10-join-nearby-desktop');
        await tabToText(page, 'Back', { shift: true });
        await page.keyboard.press('Enter');

        // Start another workshop.
        await tabToText(page, 'Start a workshop');
        await page.keyboard.press('Enter');
        await tabToText(page, 'Workshop title', { role: 'field' });
        await type(page, 'Carers’ evening group');
        await tabToText(page, 'Your first name', { role: 'field' });
        await type(page, 'Sam');
        await page.keyboard.press('Enter');
        await until(page, () => document.querySelector('h1')?.textContent?.includes('Carers'));
        await tabToText(page, 'All workshops', { shift: true });
        await page.keyboard.press('Enter');
        await sees(page, 'Carers’ evening group');
        await sees(page, TITLE);
        assert.deepEqual(page.errors, []);
      } finally {
        await server.stop();
      }
    },
  ],
  [
    'two people: join, notes, edits, private writing and reveal, votes, timer — keyboard only',
    async () => {
      const { id, server } = await roomWithSam();
      try {
        const sam = await openAsFacilitator(server);
        await axe(sam, 'board (facilitator)');
        const phoneUrl = server.phones.get(id);
        assert.ok(phoneUrl, 'serve printed the phone page for the workshop');
        const sarah = await joinFromPhone(phoneUrl);
        await axe(sarah, 'board (phone)');
        await shot(sarah, 'participant-03-board-phone');
        // The laptop's person is told (politely, through the live region) when someone joins.
        await sees(sam, 'Sarah has joined', 5000);

        // Sarah writes; Sam sees it.
        await addNote(sarah, 'More evening sessions for people who work');
        await sees(sam, 'More evening sessions for people who work');
        // Sam writes; Sarah sees it.
        await addNote(sam, 'Peer support in the waiting room');
        await sees(sarah, 'Peer support in the waiting room');

        // Sam edits Sarah's note (shared notes are everyone's to improve); Sarah sees the change.
        await tabTo(sam, `[data-note-id] button[aria-describedby][id$="-options"]`);
        await tabToText(sam, 'Options');
        const noteId = await sam.evaluate(() => document.activeElement?.closest('[data-note-id]')?.getAttribute('data-note-id'));
        const isSarahs = await sam.evaluate((nid) => document.querySelector(`[data-note-id="${nid}"] [data-note-text]`)?.textContent, noteId);
        assert.equal(isSarahs, 'More evening sessions for people who work');
        await sam.keyboard.press('Enter');
        await tabToText(sam, 'Edit the words');
        await sam.keyboard.press('Enter');
        await sam.keyboard.press('End');
        await type(sam, ' and weekends');
        await axe(sam, 'editing a note');
        await tabToText(sam, 'Done');
        await sam.keyboard.press('Enter');
        await sees(sarah, 'More evening sessions for people who work and weekends');

        // Presence: Sarah sees who's here.
        await tabToText(sarah, "Who's here");
        await sarah.keyboard.press('Enter');
        await until(sarah, () => document.querySelectorAll('#people-panel li').length === 2);
        await sees(sarah, 'here now');
        await axe(sarah, "who's here (phone)");
        await shot(sarah, 'participant-04-whos-here-phone');
        await sarah.keyboard.press('Enter'); // closes it again

        // Private writing: Sarah's note stays hers until Sam reveals.
        await choosePhase(sam, 'Writing on our own');
        await sees(sarah, 'only you can see your notes until the facilitator reveals them');
        await addNote(sarah, 'I felt rushed at my last appointment');
        await sees(sarah, 'Private — only you can see it');
        await axe(sarah, 'private writing (phone)');
        await shot(sarah, 'participant-05-private-writing-phone');
        await new Promise((r) => setTimeout(r, 700));
        assert.ok(!(await shows(sam, 'I felt rushed')), "Sam can't see Sarah's private note");
        await shot(sam, 'facilitator-04-private-phase-desktop');
        await openTools(sam);
        await tabToText(sam, "Reveal everyone's notes");
        await sam.keyboard.press('Enter');
        await sees(sam, 'Revealed 1 note');
        await sees(sam, 'I felt rushed at my last appointment');
        await doesNotSee(sarah, 'Private — only you can see it');

        // Voting: Sarah puts a dot on the first note.
        await choosePhase(sam, 'Voting');
        await sees(sarah, 'You have 5 dots left');
        // Following the facilitator (on by default): Sarah's focus moves to the new phase.
        await until(sarah, () => document.activeElement?.id === 'phase-heading');
        await tabToText(sarah, 'Add a dot');
        await sarah.keyboard.press('Enter');
        await sees(sarah, 'You have 4 dots left');
        await sees(sam, '1 dot');
        await axe(sarah, 'voting (phone)');
        await shot(sarah, 'participant-06-voting-phone');

        // Not following: the phase changes, but Sarah's place on the page stays put.
        await tabToText(sarah, 'Follow the facilitator', { role: 'any' });
        await sarah.keyboard.press('Space');
        assert.equal(await sarah.evaluate(() => document.activeElement?.checked), false);
        await choosePhase(sam, 'Talking it through');
        await sees(sarah, 'Talking it through');
        assert.equal(await sarah.evaluate(() => document.activeElement?.getAttribute('type')), 'checkbox', 'focus stayed put');
        await tabToText(sarah, 'Follow the facilitator', { role: 'any', shift: true });
        await sarah.keyboard.press('Space');
        await choosePhase(sam, 'Voting');

        // The timer: Sam starts it, everyone sees it.
        await openTools(sam);
        await tabToText(sam, 'Minutes', { role: 'field' });
        await sam.keyboard.press('Control+A');
        await type(sam, '3');
        await tabToText(sam, 'Start the timer');
        await sam.keyboard.press('Enter');
        await until(sarah, () => /Time left\s*[23]:\d\d/.test(document.body.innerText));
        await tabToText(sam, 'Pause the timer');
        await sam.keyboard.press('Enter');
        await sees(sarah, 'Timer paused');
        await axe(sam, 'board with tools and timer (facilitator)');
        await shot(sam, 'facilitator-05-board-voting-desktop');

        // A group: Sam starts one, Sarah puts her note in it from its Options menu.
        await tabToText(sam, 'Start a group of notes');
        await sam.keyboard.press('Enter');
        await tabToText(sam, 'Group name', { role: 'field' });
        await type(sam, 'Getting there');
        await sam.keyboard.press('Enter');
        await sees(sarah, 'Getting there');
        await tabTo(sarah, `[data-note-id="${noteId}"] button[id$="-options"]`);
        await sarah.keyboard.press('Enter');
        await tabToText(sarah, 'Group', { role: 'field' });
        await sarah.keyboard.press('ArrowDown');
        await tabToText(sarah, 'Put in group');
        await sarah.keyboard.press('Enter');
        await until(sam, (nid) => !!document.querySelector(`.group [data-note-id="${nid}"]`), noteId);
        await axe(sarah, 'note options (phone)');
        await shot(sarah, 'participant-07-note-options-phone');

        // The invite screen.
        await tabToText(sam, 'Invite people');
        await sam.keyboard.press('Enter');
        await sees(sam, 'Phones and tablets: scan this');
        await until(sam, () => /\d{3} \d{3}/.test(document.querySelector('.code')?.textContent ?? ''));
        const alts = await sam.evaluate(() => [...document.querySelectorAll('img')].map((i) => i.alt));
        assert.ok(alts.some((a) => a.includes('phone')), 'the phone QR code has alt text');
        await axe(sam, 'invite');
        await shot(sam, 'facilitator-06-invite-desktop');
        await tabToText(sam, 'Back to the board', { shift: true });
        await sam.keyboard.press('Enter');
        await sees(sam, 'Facilitator tools');

        assert.deepEqual(sarah.errors, []);
        assert.deepEqual(sam.errors, []);
      } finally {
        await server.stop();
      }
    },
  ],
  [
    'a phone that loses the laptop keeps what it writes and sends it on reconnecting',
    async () => {
      const data = tempDir();
      const id = await newWorkshop(data, { title: TITLE, name: 'Sam' });
      const port = await freePort();
      // serve() takes its address from the CLI's --web; the test restarts on the same one.
      let server = await serve(data, { web: `127.0.0.1:${port}`, workshops: [id] });
      const url = server.phones.get(id);
      const sarah = await joinFromPhone(url, { name: 'Sarah', titled: 'Sarah', label: 'reconnect' });
      await server.stop();
      await sees(sarah, 'Lost touch with the laptop — trying again', 10000);
      await writeNote(sarah, 'Written while the laptop was away');
      await sees(sarah, '1 change waiting to be sent');
      await axe(sarah, 'lost touch (phone)');
      await shot(sarah, 'participant-08-lost-touch-phone');
      server = await serve(data, { web: `127.0.0.1:${port}`, workshops: [id] });
      try {
        await doesNotSee(sarah, 'Lost touch with the laptop', 30000).catch(async (e) => {
          await shot(sarah, 'reconnect-failed');
          throw new Error(`${e}\nThe laptop said:\n${server.stderr().slice(-3000)}`);
        });
        await until(sarah, () =>
          [...document.querySelectorAll('[data-note-text]')].some((n) => n.textContent === 'Written while the laptop was away'),
        );
      } finally {
        await server.stop();
      }
    },
  ],
  [
    'a long board shows a page of notes at a time; "Show more" with the keyboard',
    async () => {
      // Guards the bounded board (components/NoteList.svelte): 95 notes in one area show 40,
      // "Show 40 more notes" shows the next 40 and moves focus to the first of them, counts
      // stay right as others write, and your own new note is never put away.
      const { data, id, server: first } = await roomWithSam();
      await first.stop();
      const [snap] = await exec(data, id, [{ type: 'get_snapshot' }]);
      const area = snap.board.prompts[0].id;
      const many = Array.from({ length: 95 }, (_, i) => ({
        type: 'add_note',
        prompt: area,
        text: `Idea number ${i + 1} from the wall`,
        colour: 'sun',
        x: 0,
        y: i,
        private: false,
        anonymous: false,
      }));
      await exec(data, id, many);
      const server = await serve(data, { workshops: [id] });
      try {
        const sam = await openAsFacilitator(server);
        const inArea = (page) =>
          page.evaluate(
            (a) => [...document.querySelectorAll(`[data-area-id="${a}"] [data-note-id]`)].map((e) => e.getAttribute('data-note-id')),
            area,
          );
        await sees(sam, 'Showing 40 of 95 notes.');
        const before = await inArea(sam);
        assert.equal(before.length, 40);
        await axe(sam, 'long board (facilitator)');

        await tabToText(sam, 'Show 40 more notes');
        await assertFocusVisible(sam);
        await sam.keyboard.press('Enter');
        await sees(sam, 'Showing 80 of 95 notes.');
        const after = await inArea(sam);
        assert.equal(after.length, 80);
        assert.deepEqual(after.slice(0, 40), before, 'the notes already shown stay where they were');
        const focused = await sam.evaluate(() => document.activeElement?.getAttribute('data-note-id'));
        assert.equal(focused, after[40], 'focus moves to the first newly shown note');
        await assertFocusVisible(sam);
        await sam.keyboard.press('Tab');
        assert.equal(await sam.evaluate(() => document.activeElement?.id), `note-${focused}-options`);
        await axe(sam, 'long board after "Show more" (facilitator)');
        await shot(sam, 'facilitator-11-long-board-show-more-desktop');

        // Someone else writes: the count goes up, what Sam sees stays put.
        const sarah = await joinFromPhone(server.phones.get(id), { name: 'Sarah', titled: 'Sarah', label: 'long-board' });
        await sees(sarah, 'Showing 40 of 95 notes.');
        await addNote(sarah, 'A note from Sarah at the end of a long list');
        await sees(sarah, 'Showing 41 of 96 notes.');
        await sees(sam, 'Showing 80 of 96 notes.');
        assert.deepEqual((await inArea(sam)).slice(0, 80), after);
        await axe(sarah, 'long board (phone)');
        await shot(sarah, 'long-board-own-note-phone');

        // Sam's own note is shown at once, however far down the list it goes.
        await tabToText(sam, 'Write a note', { role: 'field', shift: true });
        await addNote(sam, 'A note from Sam, kept in view');
        await sees(sam, 'Showing 81 of 97 notes.');

        // The last few: the buttons have nothing left to do and go.
        await tabToText(sam, 'Show 16 more notes', { max: 200 });
        await sam.keyboard.press('Enter');
        await doesNotSee(sam, 'Showing 81 of 97');
        assert.equal((await inArea(sam)).length, 97);
        assert.ok(await sam.evaluate(() => !!document.activeElement?.closest('[data-note-id]')));

        // "Show all" on the phone, with more than a page still to come.
        await sees(sarah, 'Showing 41 of 97 notes.');
        await tabToText(sarah, 'Show all 97 notes', { max: 200 });
        await sarah.keyboard.press('Enter');
        await doesNotSee(sarah, 'Showing 41 of 97');
        assert.equal((await inArea(sarah)).length, 97);
        assert.ok(await sarah.evaluate(() => !!document.activeElement?.closest('[data-note-id]')));
        assert.deepEqual(sam.errors, []);
        assert.deepEqual(sarah.errors, []);
      } finally {
        await server.stop();
      }
    },
  ],
  [
    'fits 320 px wide and 200 % zoom, with large targets',
    async () => {
      const { id, server } = await roomWithSam();
      try {
        const narrow = await person(b, { viewport: { width: 320, height: 640 }, isMobile: true, hasTouch: true });
        await narrow.goto(server.phones.get(id));
        await sees(narrow, "You're invited to");
        await fitsWidth(narrow, 'join at 320 px');
        await shot(narrow, 'participant-09-join-320px');
        const sarah = await joinFromPhone(server.phones.get(id), { name: 'Sarah', titled: 'Sarah', label: 'narrow' });
        await addNote(sarah, 'A quiet room to wait in');
        await narrow.reload();
        await sees(narrow, "You're invited to");
        // 200 % zoom on a 1280 × 800 laptop is a 640 × 400 page.
        const sam = await person(b, { viewport: { width: 640, height: 400 }, deviceScaleFactor: 2 });
        await sam.goto(server.owner);
        await sees(sam, TITLE);
        await tabToText(sam, 'Open');
        await sam.keyboard.press('Enter');
        await sees(sam, 'A quiet room to wait in');
        await fitsWidth(sam, 'board at 200 % zoom');
        await axe(sam, 'board at 200 % zoom');
        await shot(sam, 'facilitator-07-board-200-percent');
        const small = await sam.evaluate(() =>
          [...document.querySelectorAll('button, input, select, textarea, summary, a[href]')]
            .filter((el) => !el.closest('.visually-hidden') && el.getClientRects().length > 0)
            .map((el) => ({ el: el.outerHTML.slice(0, 80), r: el.getBoundingClientRect() }))
            .filter(({ r }) => r.width < 24 || r.height < 24)
            .map(({ el, r }) => `${el} (${Math.round(r.width)}×${Math.round(r.height)})`),
        );
        assert.deepEqual(small, [], 'every control is at least 24 × 24 px');
      } finally {
        await server.stop();
      }
    },
  ],
];

await runInBrowser(tests, 'browser', (browser) => (b = browser));
