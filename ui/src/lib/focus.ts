// Small helpers for moving focus where a keyboard or screen-reader user expects it.

import { tick } from 'svelte';

/** Focuses an element once it is on the page (use on a screen's heading, with tabindex -1). */
export function focusOnMount(node: HTMLElement): void {
  void tick().then(() => node.focus({ preventScroll: false }));
}

/** Focuses the first element matching `selector` after the next update. */
export async function focusLater(selector: string): Promise<void> {
  await tick();
  const el = document.querySelector<HTMLElement>(selector);
  el?.focus();
}

/** Sets the page title, so a screen reader (and the tab) says where you are. */
export function pageTitle(words: string): void {
  document.title = `${words} – Common Ground`;
}
