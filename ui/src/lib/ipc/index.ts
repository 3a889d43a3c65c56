// The IPC layer: the only way the screens reach the laptop, and the only place that knows
// about Tauri. Everything crossing it is typed by the generated bindings.

import type { Command } from './bindings/Command';
import type { ExportFormat } from './bindings/ExportFormat';
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
  for (const cb of noticeListeners) {
    // A screen that trips over a notice must not cost everyone else theirs, nor the link.
    try {
      cb(notice);
    } catch (e) {
      console.error('A screen could not apply an update from the laptop:', e);
    }
  }
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


/** What happened to an export: saved somewhere (desktop), downloaded (browser), or cancelled. */
export type ExportResult = { kind: 'saved'; path: string } | { kind: 'downloaded'; fileName: string } | { kind: 'cancelled' };

/** Exports the values document: the desktop app asks where to save it; a browser downloads it. */
export async function exportDocument(workshop: string, format: ExportFormat): Promise<ExportResult> {
  if (transport?.saveExport) {
    const path = await transport.saveExport(workshop, format);
    return path ? { kind: 'saved', path } : { kind: 'cancelled' };
  }
  const reply = await request({ type: 'export', workshop, format });
  if (reply.type !== 'exported') {
    throw new RequestError('unexpected_reply', 'The laptop gave an answer this screen did not expect. Please try again.');
  }
  const bytes = Uint8Array.from(atob(reply.base64), (c) => c.charCodeAt(0));
  const url = URL.createObjectURL(new Blob([bytes], { type: reply.media_type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = reply.file_name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return { kind: 'downloaded', fileName: reply.file_name };
}

/** Whether this window can show a folder dialog (otherwise the folder is typed in). */
export function canChooseFolder(): boolean {
  return !!transport?.chooseFolder;
}

/** Shows the folder dialog; null if cancelled or this window can't. */
export async function chooseFolder(): Promise<string | null> {
  return transport?.chooseFolder ? await transport.chooseFolder() : null;
}
