// One open workshop, as this person sees it. It is read whole once (a snapshot) and then
// kept up to date from small view events only: a note that changes updates that note and
// nothing else on the screen. A full re-read happens only on a `reload` notice, a `resync`
// event, or after the link to the laptop comes back.

import { command, onNotice, onReconnect, toApiError } from '../ipc';
import type {
  ApiError,
  ClusterView,
  ConnectionView,
  Event,
  GroundRuleView,
  MetaView,
  NoteView,
  ParticipantView,
  PromptView,
  Snapshot,
} from '../ipc/types';
import { applySplice, diff, type Splice } from '../text/splice';
import { announcer } from './announcer.svelte';
import { phaseInfo } from '../words';

/** An area of the board without its notes (they live in `notes`, keyed by id). */
export type Area = Omit<PromptView, 'notes'>;

/** Called with every change to one note's text while someone is editing it here. */
type SpliceListener = (sp: Splice) => void;

const NOTE_FIELDS = [
  'prompt',
  'author',
  'mine',
  'x',
  'y',
  'colour',
  'cluster',
  'votes',
  'my_votes',
  'private',
  'created_at',
] as const;

export class Workshop {
  readonly id: string;
  loaded = $state(false);
  loadError = $state<ApiError | null>(null);
  me = $state<string | null>(null);
  meta = $state<MetaView | null>(null);
  groundRules = $state<GroundRuleView[]>([]);
  participants = $state<ParticipantView[]>([]);
  areas = $state<Area[]>([]);
  /** Every note this person can see, by id. Each is its own reactive object. */
  notes = $state<Record<string, NoteView>>({});
  connection = $state<ConnectionView | null>(null);

  /** Note ids by area and group, oldest first: changes only when notes come, go or move. */
  layout = $derived.by(() => {
    const byArea = new Map<string, { loose: string[]; byCluster: Map<string, string[]> }>();
    const known = new Set(this.areas.map((a) => a.id));
    const clusterIds = new Set(this.areas.flatMap((a) => a.clusters.map((c) => c.id)));
    const unplaced: string[] = [];
    const sorted = Object.values(this.notes)
      .map((n) => ({ id: n.id, prompt: n.prompt, cluster: n.cluster, at: n.created_at }))
      .sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1));
    for (const n of sorted) {
      if (!known.has(n.prompt)) {
        unplaced.push(n.id);
        continue;
      }
      let entry = byArea.get(n.prompt);
      if (!entry) {
        entry = { loose: [], byCluster: new Map() };
        byArea.set(n.prompt, entry);
      }
      if (n.cluster && clusterIds.has(n.cluster)) {
        const list = entry.byCluster.get(n.cluster) ?? [];
        list.push(n.id);
        entry.byCluster.set(n.cluster, list);
      } else {
        entry.loose.push(n.id);
      }
    }
    return { byArea, unplaced };
  });

  /** Dots left: the budget less this person's dots on notes everyone can see. Worked out here
   * rather than taken from `votes_left` events, because the budget and joining change it too
   * and neither sends one (the laptop counts the same way: crates/workshop/src/board.rs). */
  votesLeft = $derived.by(() => {
    if (!this.meta || this.me === null) return 0;
    let used = 0;
    for (const n of Object.values(this.notes)) if (!n.private) used += n.my_votes;
    return Math.max(0, this.meta.vote_budget - used);
  });

  people = $derived(new Map(this.participants.map((p) => [p.id, p])));
  isFacilitator = $derived(this.me !== null && (this.meta?.facilitators.includes(this.me) ?? false));
  myself = $derived(this.me ? this.people.get(this.me) ?? null : null);

  private spliceListeners = new Map<string, Set<SpliceListener>>();
  private stops: (() => void)[] = [];
  private loading: Promise<void> | null = null;

  constructor(id: string) {
    this.id = id;
    this.stops.push(
      onNotice((n) => {
        if (n.workshop !== this.id) return;
        if (n.type === 'view') this.apply(n.event);
        else if (n.type === 'connection') this.connection = n.connection;
        else this.reload();
      }),
      onReconnect(() => this.reload()),
    );
  }

  /** Stops following notices. */
  close(): void {
    for (const stop of this.stops) stop();
    this.stops = [];
  }

  /** Reads the whole workshop (first load, or after a reload notice or a reconnect). */
  reload(): Promise<void> {
    if (this.loading) return this.loading;
    this.loading = (async () => {
      try {
        const reply = await command(this.id, { type: 'get_snapshot' });
        if (reply.type === 'snapshot') {
          this.applySnapshot(reply);
          this.loadError = null;
        }
      } catch (e) {
        this.loadError = toApiError(e);
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }

  /** Takes a snapshot in, changing only what differs (so focus and editing survive). */
  applySnapshot(s: Snapshot): void {
    this.me = s.me;
    this.meta = s.meta;
    this.groundRules = s.ground_rules;
    this.participants = s.participants;
    this.areas = s.board.prompts.map(withoutNotes);
    const incoming = [...s.board.prompts.flatMap((p) => p.notes), ...s.board.unplaced];
    const seen = new Set<string>();
    for (const note of incoming) {
      seen.add(note.id);
      this.upsert(note, false);
    }
    for (const id of Object.keys(this.notes)) {
      if (!seen.has(id)) delete this.notes[id];
    }
    this.loaded = true;
  }

  /** Applies one view event. */
  apply(e: Event): void {
    switch (e.type) {
      case 'meta_changed':
        this.metaChanged(e.meta);
        break;
      case 'ground_rules_changed':
        this.groundRules = e.rules;
        break;
      case 'participants_changed':
        this.participantsChanged(e.participants);
        break;
      case 'areas_changed':
        this.areas = e.prompts.map(withoutNotes);
        break;
      case 'note_upserted':
        this.upsert(e.note, true);
        break;
      case 'note_text_spliced':
        this.splice(e.note, { index: e.index, delete: e.delete, insert: e.insert });
        break;
      case 'note_removed':
        delete this.notes[e.note];
        break;
      case 'votes_left':
        // Worked out from the notes instead (see `votesLeft`).
        break;
      case 'resync':
        void this.reload();
        break;
      default:
        // Challenges, values, reflections and actions have no screens in this version.
        break;
    }
  }

  private metaChanged(meta: MetaView): void {
    const before = this.meta;
    this.meta = meta;
    if (before && before.phase !== meta.phase) {
      announcer.say(`The room has moved on to: ${phaseInfo(meta.phase).label}.`);
    }
  }

  private participantsChanged(list: ParticipantView[]): void {
    const before = new Set(this.participants.map((p) => p.id));
    this.participants = list;
    if (!this.loaded) return;
    for (const p of list) {
      if (!before.has(p.id) && p.id !== this.me && !p.removed) announcer.say(`${p.name} has joined.`);
    }
  }

  private upsert(note: NoteView, live: boolean): void {
    const existing = this.notes[note.id];
    if (!existing) {
      this.notes[note.id] = note;
      if (live && !note.mine) {
        const area = this.areas.find((a) => a.id === note.prompt)?.title ?? 'the board';
        const who = note.author.kind === 'participant' ? note.author.name : 'Someone';
        announcer.noteAdded(`${who} added a note in ${area}.`);
      }
      return;
    }
    // Only what changed is written, so only what changed is redrawn.
    for (const field of NOTE_FIELDS) {
      const value = note[field];
      if (JSON.stringify(existing[field]) !== JSON.stringify(value)) {
        (existing as Record<string, unknown>)[field] = value;
      }
    }
    if (existing.text !== note.text) {
      const sp = diff(existing.text, note.text);
      if (sp) this.splice(note.id, sp);
    }
  }

  private splice(id: string, sp: Splice): void {
    const note = this.notes[id];
    if (!note) return;
    note.text = applySplice(note.text, sp);
    const listeners = this.spliceListeners.get(id);
    if (listeners) for (const cb of listeners) cb(sp);
  }

  /** Follows every change to one note's text (for the editor, which keeps its own copy). */
  onSplice(id: string, cb: SpliceListener): () => void {
    let set = this.spliceListeners.get(id);
    if (!set) {
      set = new Set();
      this.spliceListeners.set(id, set);
    }
    set.add(cb);
    return () => {
      set.delete(cb);
      if (set.size === 0) this.spliceListeners.delete(id);
    };
  }

  /** The groups in an area. */
  clustersIn(area: string): ClusterView[] {
    return this.areas.find((a) => a.id === area)?.clusters ?? [];
  }
}

function withoutNotes(p: PromptView): Area {
  return { id: p.id, title: p.title, order: p.order, session: p.session, clusters: p.clusters };
}
