// The IPC layer: the only way the screens reach the laptop, and the only place that knows
// about Tauri. Everything crossing it is typed by the generated bindings.

import type { Command } from './bindings/Command';
import type { FrontReply } from './bindings/FrontReply';
import type { Notice } from './bindings/Notice';
import type { Reply } from './bindings/Reply';
import type { Request } from './bindings/Request';
import { decodeDoorKey } from './door-crypto';
import { RequestError } from './errors';
import { link, setLink } from './link.svelte';
import type { Transport } from './transport';

export { link } from './link.svelte';
export type { LinkState } from './link.svelte';
export { RequestError, toApiError } from './errors';

declare global {
  interface Window {
    __TAURI_INTERNALS__?: unknown;
    /** When the last notice arrived (performance.now()), for the UI benchmark. */
    __cgLastNoticeAt?: number;
  }
}

let transport: Transport | null = null;
const noticeListeners = new Set<(n: Notice) => void>();
const reconnectListeners = new Set<() => void>();

function deliver(notice: Notice): void {
  window.__cgLastNoticeAt = performance.now();
  for (const cb of noticeListeners) cb(notice);
}

function reconnected(): void {
  for (const cb of reconnectListeners) cb();
}

/** Whether this window is the desktop app (as opposed to a browser). */
export function inDesktopApp(): boolean {
  return typeof window !== 'undefined' && window.__TAURI_INTERNALS__ !== undefined;
}

/** The door key from the page address (`#door=…`), if there is a valid one. */
function doorKeyFromLocation(): Uint8Array | null {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  const text = params.get('door');
  return text ? decodeDoorKey(text) : null;
}

/** Connects to the laptop. Resolves once listening; the link state says how it is going. */
export async function connect(): Promise<void> {
  if (transport) return;
  if (inDesktopApp()) {
    const { TauriTransport } = await import('./tauri');
    transport = new TauriTransport();
  } else {
    const key = doorKeyFromLocation();
    if (!key) {
      setLink('no_key');
      return;
    }
    const { DoorTransport } = await import('./door');
    const url = new URL('ws', location.href.replace(/#.*$/, ''));
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    url.pathname = '/ws';
    transport = new DoorTransport(key, url.toString());
  }
  await transport.start(deliver, reconnected);
}

/** Sends a request to the laptop. Rejects with a RequestError ({ kind, message }). */
export function request(r: Request): Promise<FrontReply> {
  if (!transport) {
    return Promise.reject(
      new RequestError('not_connected', 'This page is not connected to a laptop yet. Please scan the QR code again.'),
    );
  }
  return transport.request(r);
}

/** Runs a command in a workshop and gives back its reply. */
export async function command(workshop: string, c: Command): Promise<Reply> {
  const reply = await request({ type: 'workshop', workshop, command: c });
  if (reply.type !== 'workshop') {
    throw new RequestError('unexpected_reply', 'The laptop gave an answer this screen did not expect. Please try again.');
  }
  return reply.reply;
}

/** Calls `cb` with every notice; returns a function that stops it. */
export function onNotice(cb: (n: Notice) => void): () => void {
  noticeListeners.add(cb);
  return () => noticeListeners.delete(cb);
}

/** Calls `cb` after the link comes back from a drop; returns a function that stops it. */
export function onReconnect(cb: () => void): () => void {
  reconnectListeners.add(cb);
  return () => reconnectListeners.delete(cb);
}

