// Notes that stay on the page however long the board gets. A big board shows a page of notes
// at a time (components/NoteList.svelte); these are never put away from under someone: the
// notes this person wrote here, the note they are editing, and any note that has had focus
// (so moving a note to another area or group keeps it in reach, and a note you were on
// doesn't vanish when you Tab away from it).

import { SvelteSet } from 'svelte/reactivity';

class KeepShown {
  /** Notes this person added in this window. */
  readonly added = new SvelteSet<string>();
  /** Notes whose words are being edited here. */
  readonly editing = new SvelteSet<string>();
  /** Notes that have had focus in this window. */
  readonly visited = new SvelteSet<string>();

  has(id: string): boolean {
    return this.visited.has(id) || this.editing.has(id) || this.added.has(id);
  }

  /** Follows focus around the page: call once, from the board. Returns a stop function. */
  followFocus(): () => void {
    const onFocus = (e: FocusEvent): void => {
      const id = e.target instanceof Element ? e.target.closest('[data-note-id]')?.getAttribute('data-note-id') : null;
      if (id && !this.visited.has(id)) this.visited.add(id);
    };
    document.addEventListener('focusin', onFocus);
    return () => document.removeEventListener('focusin', onFocus);
  }
}

export const keepShown = new KeepShown();
