// The browser's transport: the laptop's web front door, over an encrypted WebSocket
// (protocol v1; see door-crypto.ts). Used by phones and tablets, and by this laptop's own
// browser.

import type { ApiError } from './bindings/ApiError';
import type { FrontReply } from './bindings/FrontReply';
import type { Notice } from './bindings/Notice';
import type { Request } from './bindings/Request';
import { Direction, NONCE_BYTES, doorId, randomHex, sessionKeys } from './door-crypto';
import { RequestError } from './errors';
import { link, setLink } from './link.svelte';
import type { Transport } from './transport';

/** The close code the laptop uses for a door key it no longer knows. */
export const CLOSE_UNKNOWN_DOOR = 4001;
const HANDSHAKE_TIMEOUT_MS = 10_000;
// Quick at first (a Wi-Fi blip), then every 5 s: a room can't wait long for a laptop that's back.
const BACKOFF_MS = [300, 1000, 2000, 3000, 5000];

type Waiter = { resolve: (r: FrontReply) => void; reject: (e: RequestError) => void };
type Queued = Waiter & { request: Request };
type ServerMessage =
  | { id: number; ok: FrontReply }
  | { id: number; err: ApiError }
  | { notice: Notice };

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** The per-browser seat: the same person after a reload, as long as the door is the same. */
function seatFor(door: string): string {
  const key = `cg-seat:${door}`;
  try {
    const existing = localStorage.getItem(key);
    if (existing && /^[0-9a-f]{32}$/.test(existing)) return existing;
    const seat = randomHex(16);
    localStorage.setItem(key, seat);
    return seat;
  } catch {
    // Storage can be switched off (some private modes): this visit is still one person.
    return randomHex(16);
  }
}

export class DoorTransport implements Transport {
  private readonly door: string;
  private readonly seat: string;
  private socket: WebSocket | null = null;
  private send: Direction | null = null;
  private receive: Direction | null = null;
  private nextId = 1;
  private readonly inFlight = new Map<number, Waiter>();
  private readonly queue: Queued[] = [];
  private attempt = 0;
  private everOpen = false;
  private stopped = false;
  private notice: (n: Notice) => void = () => {};
  private reconnected: () => void = () => {};

  constructor(
    private readonly key: Uint8Array,
    private readonly url: string,
  ) {
    this.door = doorId(key);
    this.seat = seatFor(this.door);
  }

  start(notice: (n: Notice) => void, reconnected: () => void): Promise<void> {
    this.notice = notice;
    this.reconnected = reconnected;
    this.open();
    return Promise.resolve();
  }

  request(request: Request): Promise<FrontReply> {
    if (this.stopped) return Promise.reject(refusedError());
    return new Promise((resolve, reject) => {
      if (this.send && this.socket?.readyState === WebSocket.OPEN) {
        this.transmit({ request, resolve, reject });
      } else {
        // Written while the link is down: kept here and sent when it comes back.
        this.queue.push({ request, resolve, reject });
        link.queued = this.queue.length;
      }
    });
  }

  private transmit(q: Queued): void {
    const id = this.nextId++;
    this.inFlight.set(id, { resolve: q.resolve, reject: q.reject });
    this.sendSealed({ id, request: q.request });
  }

  private sendSealed(message: unknown): void {
    if (!this.send || !this.socket) return;
    // A copy, so the frame is backed by a plain ArrayBuffer as WebSocket.send wants.
    this.socket.send(new Uint8Array(this.send.seal(encoder.encode(JSON.stringify(message)))));
  }

  private open(): void {
    const ws = new WebSocket(this.url);
    ws.binaryType = 'arraybuffer';
    this.socket = ws;
    this.send = null;
    this.receive = null;
    const clientNonce = randomHex(NONCE_BYTES);
    const timeout = setTimeout(() => ws.close(), HANDSHAKE_TIMEOUT_MS);

    ws.onopen = () => {
      ws.send(JSON.stringify({ v: 1, door: this.door, nonce: clientNonce }));
    };
    ws.onmessage = (ev: MessageEvent<unknown>) => {
      if (ws !== this.socket) return;
      try {
        if (!this.receive) {
          clearTimeout(timeout);
          this.finishHandshake(ev.data, clientNonce);
        } else {
          this.handleFrame(ev.data);
        }
      } catch {
        // Anything that doesn't decrypt or parse ends this connection; a new one starts.
        ws.close();
      }
    };
    ws.onclose = (ev: CloseEvent) => {
      clearTimeout(timeout);
      if (ws !== this.socket) return;
      this.socket = null;
      this.send = null;
      this.receive = null;
      this.failInFlight();
      if (ev.code === CLOSE_UNKNOWN_DOOR) {
        this.stopped = true;
        for (const q of this.queue.splice(0)) q.reject(refusedError());
        link.queued = 0;
        setLink('refused');
        return;
      }
      setLink(this.everOpen ? 'reconnecting' : 'connecting');
      const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)] ?? 5000;
      this.attempt += 1;
      setTimeout(() => this.open(), delay);
    };
  }

  private finishHandshake(data: unknown, clientNonce: string): void {
    if (typeof data !== 'string') throw new Error('expected the greeting');
    const hello = JSON.parse(data) as { v?: unknown; nonce?: unknown };
    if (hello.v !== 1 || typeof hello.nonce !== 'string' || !/^[0-9a-fA-F]{32}$/.test(hello.nonce)) {
      throw new Error('unexpected greeting');
    }
    const keys = sessionKeys(this.key, clientNonce, hello.nonce.toLowerCase());
    this.send = new Direction(keys.c2s);
    this.receive = new Direction(keys.s2c);
    this.sendSealed({ seat: this.seat });
    this.attempt = 0;
    const wasOpen = this.everOpen;
    this.everOpen = true;
    setLink('connected');
    for (const q of this.queue.splice(0)) this.transmit(q);
    link.queued = 0;
    if (wasOpen) this.reconnected();
  }

  private handleFrame(data: unknown): void {
    if (!(data instanceof ArrayBuffer) || !this.receive) throw new Error('expected a sealed frame');
    const message = JSON.parse(decoder.decode(this.receive.open(new Uint8Array(data)))) as ServerMessage;
    if ('notice' in message) {
      this.notice(message.notice);
      return;
    }
    const waiter = this.inFlight.get(message.id);
    if (!waiter) return;
    this.inFlight.delete(message.id);
    if ('ok' in message) waiter.resolve(message.ok);
    else waiter.reject(new RequestError(message.err.kind, message.err.message));
  }

  private failInFlight(): void {
    // These may or may not have reached the laptop, so they are not sent again by themselves
    // (a note could end up on the board twice); the person is told to check.
    for (const w of this.inFlight.values()) {
      w.reject(
        new RequestError(
          'disconnected',
          "Lost touch with the laptop before this was confirmed. Please check whether it's there once it reconnects, and try again if not.",
        ),
      );
    }
    this.inFlight.clear();
  }
}

function refusedError(): RequestError {
  return new RequestError(
    'door_refused',
    'This invite has changed, so this page can no longer reach the workshop. Please ask the facilitator for a new QR code.',
  );
}
