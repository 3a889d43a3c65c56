// The desktop window's transport: Tauri IPC. The only file in the UI that imports
// @tauri-apps/*; index.ts loads it lazily, so browsers never fetch it.

import { invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
import type { ExportFormat } from './bindings/ExportFormat';
import type { FrontReply } from './bindings/FrontReply';
import type { Notice } from './bindings/Notice';
import type { Request } from './bindings/Request';
import { RequestError, isApiError } from './errors';
import { setLink } from './link.svelte';
import type { Transport } from './transport';

export class TauriTransport implements Transport {
  async start(notice: (n: Notice) => void): Promise<void> {
    await listen<Notice>('notice', (e) => notice(e.payload));
    setLink('connected');
  }

  request(request: Request): Promise<FrontReply> {
    return call<FrontReply>('request', { request });
  }

  saveExport(workshop: string, format: ExportFormat): Promise<string | null> {
    return call<string | null>('save_export', { workshop, format });
  }

  chooseFolder(): Promise<string | null> {
    return call<string | null>('choose_folder', {});
  }
}

async function call<T>(command: string, args: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (e) {
    if (isApiError(e)) throw new RequestError(e.kind, e.message);
    throw new RequestError('ipc', 'This window lost touch with the app. Please close it and open it again.');
  }
}
