// The state of the link between this window and its laptop, for the calm status indicator.

/** How the link is. `refused`: the door key is no longer valid (new invite, or removed). */
export type LinkState = 'connecting' | 'connected' | 'reconnecting' | 'refused' | 'no_key';

class Link {
  state = $state<LinkState>('connecting');
  /** When the link last stopped being connected (performance.now()), for the 2-second grace. */
  since = $state(0);
  /** Requests written while the link was down, waiting to be sent. */
  queued = $state(0);
}

/** The link, reactive. Only the IPC layer writes to it. */
export const link = new Link();

export function setLink(state: LinkState): void {
  if (state !== link.state) {
    link.state = state;
    link.since = performance.now();
  }
}
