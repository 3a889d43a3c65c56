// The desktop window's transport: Tauri IPC. The only file in the UI that imports
// @tauri-apps/*; index.ts loads it lazily, so browsers never fetch it.

import { invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
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

  async request(request: Request): Promise<FrontReply> {
    try {
      return await invoke<FrontReply>('request', { request });
    } catch (e) {
      if (isApiError(e)) throw new RequestError(e.kind, e.message);
      throw new RequestError('ipc', 'This window lost touch with the app. Please close it and open it again.');
    }
  }
}
