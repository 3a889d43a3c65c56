// Live editing of shared text in a textarea: local typing is sent as splices, and other
// people's splices are woven into what is on screen without moving the caret.
//
// Three copies of the text are kept: `server` (what the laptop has, from events), `base`
// (the local text as of the last send, with other people's changes applied), and the
// textarea's own value (which may have typing not yet sent). Each splice is sent as a pure
// delete or a pure insert, so the laptop's echo of it comes back as exactly the same splice
// and can be recognised.

import { applySplice, diff, shift, toPoints, toUtf16, type Splice } from './splice';

export type SendSplice = (sp: Splice) => Promise<void>;

export class LiveText {
  private server: string;
  private base: string;
  private pending: Splice[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private sending: Promise<void> = Promise.resolve();

  constructor(
    private readonly area: HTMLTextAreaElement,
    text: string,
    private readonly send: SendSplice,
    private readonly onError: (e: unknown) => void,
    private readonly delayMs = 200,
  ) {
    this.server = text;
    this.base = text;
    area.value = text;
  }

  /** Call on every `input` event. */
  typed(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.flush(), this.delayMs);
  }

  /** Sends whatever has been typed and not sent yet. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const sp = diff(this.base, this.area.value);
    if (!sp) return this.sending;
    this.base = this.area.value;
    const parts: Splice[] = [];
    if (sp.delete > 0) parts.push({ index: sp.index, delete: sp.delete, insert: '' });
    if (sp.insert) parts.push({ index: sp.index, delete: 0, insert: sp.insert });
    for (const part of parts) {
      this.pending.push(part);
      this.sending = this.sending.then(() =>
        this.send(part).catch((e: unknown) => {
          // The laptop refused it: show why, and go back to what the laptop has.
          this.pending = [];
          this.base = this.server;
          this.area.value = this.server;
          this.onError(e);
        }),
      );
    }
    return this.sending;
  }

  /** A splice to this text from the laptop (someone else's, or the echo of ours). */
  remote(sp: Splice): void {
    this.server = applySplice(this.server, sp);
    const first = this.pending[0];
    if (first && first.index === sp.index && first.delete === sp.delete && first.insert === sp.insert) {
      this.pending.shift();
      if (this.pending.length === 0 && this.base !== this.server) this.rebase();
      return;
    }
    // Someone else's: move it past our sent-but-unconfirmed splices, then past unsent typing.
    let local: Splice = { ...sp };
    for (const p of this.pending) {
      if (p.index <= local.index) local = { ...local, index: shift(local.index, p) };
    }
    const unsent = diff(this.base, this.area.value);
    this.base = applySplice(this.base, local);
    if (unsent && unsent.index <= local.index) local = { ...local, index: shift(local.index, unsent) };
    this.replaceKeepingCaret(applySplice(this.area.value, local), local);
    if (this.pending.length === 0 && this.base !== this.server) this.rebase();
  }

  /** Our sends and someone else's crossed: take the laptop's text, keeping unsent typing. */
  private rebase(): void {
    const unsent = diff(this.base, this.area.value);
    this.base = this.server;
    const next = unsent ? applySplice(this.server, unsent) : this.server;
    const whole = diff(this.area.value, next);
    if (whole) this.replaceKeepingCaret(next, whole);
  }

  private replaceKeepingCaret(next: string, sp: Splice): void {
    const before = this.area.value;
    if (next === before) return;
    const focused = document.activeElement === this.area;
    const start = toPoints(before, this.area.selectionStart);
    const end = toPoints(before, this.area.selectionEnd);
    this.area.value = next;
    if (focused) {
      this.area.setSelectionRange(toUtf16(next, shift(start, sp)), toUtf16(next, shift(end, sp)));
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }
}
