// Unit tests for the parts of the UI that are pure logic: the web front door's encryption
// (golden values computed independently, with Python's `cryptography`, from the protocol
// text) and live text editing. Vite loads the TypeScript sources as they are.

import assert from 'node:assert/strict';
import { createServer } from 'vite';
import { UI_DIR, runTests } from './lib.mjs';

const vite = await createServer({ root: UI_DIR, logLevel: 'error', server: { middlewareMode: true, hmr: false }, appType: 'custom' });
const crypto = await vite.ssrLoadModule('/src/lib/ipc/door-crypto.ts');
const splice = await vite.ssrLoadModule('/src/lib/text/splice.ts');
const { LiveText } = await vite.ssrLoadModule('/src/lib/text/live-text.ts');
const { suggestedName } = await vite.ssrLoadModule('/src/lib/words.ts');

const hex = (b) => Buffer.from(b).toString('hex');
const bytes = (n, v) => new Uint8Array(n).fill(v);

/** A stand-in for a focused textarea. */
function fakeArea(value, caret) {
  const area = {
    value,
    selectionStart: caret,
    selectionEnd: caret,
    setSelectionRange(a, b) {
      this.selectionStart = a;
      this.selectionEnd = b;
    },
  };
  globalThis.document = { activeElement: area };
  return area;
}

await runTests([
  // Guards the door protocol v1 byte for byte (crates/protocol/src/door.rs uses the same inputs).
  ['door id and sealed frames match the protocol', () => {
    const key = bytes(32, 7);
    assert.equal(crypto.doorId(key), '4b0a6c61af0ea8e9d695d91701359c24');
    const k = crypto.sessionKeys(key, hex(bytes(16, 1)), hex(bytes(16, 2)));
    const client = new crypto.Direction(k.c2s);
    assert.equal(hex(client.seal(new TextEncoder().encode('{"seat":"x"}'))), '8458340cf31c13b7b05511f35bedd8d81503a2fd47457127a8bc332e');
    assert.equal(hex(client.seal(new TextEncoder().encode('two'))), '08684a0bb29849d5cfcb811ad8350ecd4284b0');
    const fromServer = new crypto.Direction(k.s2c);
    assert.equal(new TextDecoder().decode(fromServer.open(Buffer.from('edcf8f880883624ba1e2bf22393395257c01', 'hex'))), 'ok');
  }],
  // Guards against a replayed or altered frame being accepted.
  ['a frame out of order or altered is refused', () => {
    const k = crypto.sessionKeys(bytes(32, 7), hex(bytes(16, 1)), hex(bytes(16, 2)));
    const send = new crypto.Direction(k.c2s);
    const first = send.seal(new Uint8Array([1]));
    const second = send.seal(new Uint8Array([2]));
    const receive = new crypto.Direction(k.c2s);
    assert.throws(() => receive.open(second));
    const again = new crypto.Direction(k.c2s);
    first[0] ^= 1;
    assert.throws(() => again.open(first));
  }],
  ['door keys are unpadded base64url of 32 bytes', () => {
    const key = Buffer.from(bytes(32, 250)).toString('base64url');
    assert.equal(crypto.decodeDoorKey(key)?.length, 32);
    assert.equal(crypto.decodeDoorKey(key + '='), null);
    assert.equal(crypto.decodeDoorKey(key.slice(0, -2)), null);
    assert.equal(crypto.decodeDoorKey('not a key!'), null);
  }],
  ['the nonce is 4 zero bytes and a big-endian counter', () => {
    assert.equal(hex(crypto.frameNonce(0)), '000000000000000000000000');
    assert.equal(hex(crypto.frameNonce(258)), '000000000000000000000102');
    assert.equal(hex(crypto.frameNonce(2 ** 32 + 1)), '000000000000000100000001');
  }],
  // Guards emoji and other astral characters: the laptop counts code points.
  ['splices count code points, not UTF-16 units', () => {
    assert.equal(splice.applySplice('a😀b', { index: 2, delete: 1, insert: 'c' }), 'a😀c');
    assert.deepEqual(splice.diff('a😀b', 'a😀xb'), { index: 2, delete: 0, insert: 'x' });
    assert.equal(splice.toPoints('😀x', 2), 1);
    assert.equal(splice.toUtf16('😀x', 1), 2);
  }],
  // Guards the caret: someone else's typing earlier in the note must not move it.
  ['remote typing keeps the local caret in place', async () => {
    const area = fakeArea('hello world', 11);
    const sent = [];
    const live = new LiveText(area, 'hello world', async (sp) => void sent.push(sp), () => {}, 0);
    live.remote({ index: 0, delete: 0, insert: '>> ' });
    assert.equal(area.value, '>> hello world');
    assert.equal(area.selectionStart, 14);
    area.value = '>> hello world!';
    await live.flush();
    assert.deepEqual(sent, [{ index: 14, delete: 0, insert: '!' }]);
    // The echo of our own splice is recognised, not applied twice.
    live.remote({ index: 14, delete: 0, insert: '!' });
    assert.equal(area.value, '>> hello world!');
  }],
  // Guards typing that crosses someone else's edit while ours is still on its way.
  ['crossing edits end up the same as the laptop', async () => {
    const area = fakeArea('abc', 3);
    const live = new LiveText(area, 'abc', async () => {}, () => {}, 0);
    area.value = 'abcd';
    await live.flush(); // we send insert "d" at 3
    live.remote({ index: 0, delete: 0, insert: 'X' }); // someone else's, before our echo
    assert.equal(area.value, 'Xabcd');
    live.remote({ index: 3, delete: 0, insert: 'd' }); // the laptop applied ours as sent
    assert.equal(area.value, 'Xabdc', 'takes what the laptop has once our echo is in');
  }],
  ['a replace is sent as a delete then an insert', async () => {
    const area = fakeArea('cat', 3);
    const sent = [];
    const live = new LiveText(area, 'cat', async (sp) => void sent.push(sp), () => {}, 0);
    area.value = 'cot';
    await live.flush();
    assert.deepEqual(sent, [
      { index: 1, delete: 1, insert: '' },
      { index: 1, delete: 0, insert: 'o' },
    ]);
  }],
  ['the suggested name is read from the refusal', () => {
    assert.equal(suggestedName('We use first names only here, with no titles, so everyone is equal in the room. How about "Sarah"?'), 'Sarah');
    assert.equal(suggestedName('Please type your first name.'), null);
  }],
]);
await vite.close();
