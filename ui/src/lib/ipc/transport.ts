import type { ExportFormat } from './bindings/ExportFormat';
import type { FrontReply } from './bindings/FrontReply';
import type { Notice } from './bindings/Notice';
import type { Request } from './bindings/Request';

/** One way of reaching the laptop: Tauri IPC, or the web front door's WebSocket. */
export interface Transport {
  /** Sends one request; rejects with a RequestError. */
  request(request: Request): Promise<FrontReply>;
  /** Starts listening; `notice` is called for each unasked update, `reconnected` after the
   * link comes back (when a full re-read of the workshop is the right thing to do). */
  start(notice: (n: Notice) => void, reconnected: () => void): Promise<void>;
  /** Saves the values document where the person chooses, if this window can show a save
   * dialog (the desktop app). Resolves with where it went, or null if they cancelled. */
  saveExport?(workshop: string, format: ExportFormat): Promise<string | null>;
  /** Lets the person choose a folder, if this window can show a folder dialog. */
  chooseFolder?(): Promise<string | null>;
}
