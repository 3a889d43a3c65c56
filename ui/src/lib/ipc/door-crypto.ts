// The web front door's encryption, protocol v1. Venue Wi-Fi is usually open, so every frame
// after the greeting is sealed with a key that only people holding the door key (from the QR
// code's `#door=` fragment, which browsers never send over the network) can derive.
//
// WebCrypto is not available on plain-http LAN pages, so this uses the audited noble
// implementations instead.

import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, randomBytes, utf8ToBytes } from '@noble/hashes/utils.js';

/** The length of a door key, in bytes. */
export const DOOR_KEY_BYTES = 32;
/** The length of each side's handshake nonce, in bytes. */
export const NONCE_BYTES = 16;

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Decodes unpadded base64url; returns null for anything that is not exactly a door key. */
export function decodeDoorKey(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return null;
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  let binary: string;
  try {
    binary = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  } catch {
    return null;
  }
  if (binary.length !== DOOR_KEY_BYTES) return null;
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** The door's public name: hex of the first 16 bytes of SHA-256("commonground door id v1" ‖ key). */
export function doorId(key: Uint8Array): string {
  return bytesToHex(sha256(concat(utf8ToBytes('commonground door id v1'), key)).subarray(0, 16));
}

/** A fresh random value of `n` bytes, as hex. */
export function randomHex(n: number): string {
  return bytesToHex(randomBytes(n));
}

/** The two directions' session keys. */
export function sessionKeys(
  key: Uint8Array,
  clientNonceHex: string,
  serverNonceHex: string,
): { c2s: Uint8Array; s2c: Uint8Array } {
  const cn = hexToBytes(clientNonceHex);
  const sn = hexToBytes(serverNonceHex);
  if (cn.length !== NONCE_BYTES || sn.length !== NONCE_BYTES) {
    throw new Error('handshake nonce has the wrong length');
  }
  const derive = (label: string) => sha256(concat(utf8ToBytes(label), key, cn, sn));
  return { c2s: derive('commonground door c2s v1'), s2c: derive('commonground door s2c v1') };
}

/** The 12-byte AEAD nonce for message `counter`: 4 zero bytes, then the counter as u64 big-endian. */
export function frameNonce(counter: number): Uint8Array {
  const nonce = new Uint8Array(12);
  const view = new DataView(nonce.buffer);
  view.setUint32(4, Math.floor(counter / 2 ** 32));
  view.setUint32(8, counter >>> 0);
  return nonce;
}

/** One direction of the channel: seals or opens frames in order, counting them. */
export class Direction {
  private counter = 0;
  constructor(private readonly key: Uint8Array) {}

  seal(plaintext: Uint8Array): Uint8Array {
    const out = chacha20poly1305(this.key, frameNonce(this.counter)).encrypt(plaintext);
    this.counter += 1;
    return out;
  }

  /** Throws if the frame was not sealed with this key and counter. */
  open(frame: Uint8Array): Uint8Array {
    const out = chacha20poly1305(this.key, frameNonce(this.counter)).decrypt(frame);
    this.counter += 1;
    return out;
  }
}
