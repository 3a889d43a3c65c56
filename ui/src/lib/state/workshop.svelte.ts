// One open workshop, as this person sees it. It is read whole once (a snapshot) and then
// kept up to date from small view events only: a note that changes updates that note and
// nothing else on the screen. A full re-read happens only on a `reload` notice, a `resync`
// event, or after the link to the laptop comes back.

import { command, onNotice, onReconnect, toApiError } from '../ipc';
import type {
  ActionView,
  ApiError,
  BreakView,
  ChallengeView,
  ClusterView,
  ConnectionView,
  Event,
  GroundRuleView,
  MetaView,
  NoteView,
  ParticipantView,
  Participation,
  PromptView,
  ReflectionView,
  SessionView,
  Snapshot,
  Target,
  ValueView,
} from '../ipc/types';

import { applySplice, diff, type Splice } from '../text/splice';
import { announcer } from './announcer.svelte';
import { phaseInfo } from '../words';
import type { Section } from '../sections';

/** Where a person is in an open workshop (on this screen only; never sent anywhere). */
export type Place = { kind: Section } | { kind: 'value'; id: string } | { kind: 'invite' };

/** How many times a snapshot is read again because changes arrived while it was coming. */
const MAX_RELOADS = 4;

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
  /** Helpful challenges this person can see, by id. */
  challenges = $state<Record<string, ChallengeView>>({});
  /** Values (drafts, in consent, agreed, withdrawn), by id. */
  values = $state<Record<string, ValueView>>({});
  /** Reflections, by id. */
  reflections = $state<Record<string, ReflectionView>>({});
  /** Actions, by id. */
  actions = $state<Record<string, ActionView>>({});
  sessions = $state<SessionView[]>([]);
  participation = $state<Participation | null>(null);
  /** Who has asked for a break: everyone's for a facilitator, only your own otherwise. */
  breaks = $state<BreakView[]>([]);
  /** Where this person is looking (UI only). */
  place = $state<Place>({ kind: 'board' });
  /** Notes picked on the board for a new value (UI only). */
  draftSources = $state<string[]>([]);

  /** Challenges still open, newest first. */
  openChallenges = $derived(
    Object.values(this.challenges)
      .filter((c) => c.status === 'open')
      .sort((a, b) => b.created_at - a.created_at),
  );

  /** Who has added something so far (notes, challenges, replies, reflections, views in a
   * consent round, drafted values), by id; anonymous writing counts separately, unlinked. */
  voices = $derived.by(() => {
    const people = new Set<string>();
    let anonymous = 0;
    const count = (a: { kind: string; id?: string }) => {
      if (a.kind === 'participant' && a.id) people.add(a.id);
      else if (a.kind === 'anonymous') anonymous += 1;
    };
    for (const n of Object.values(this.notes)) if (!n.private) count(n.author);
    for (const c of Object.values(this.challenges)) {
      count(c.author);
      for (const r of c.responses) count(r.author);
    }
    for (const r of Object.values(this.reflections)) count(r.author);
    for (const v of Object.values(this.values)) {
      count(v.drafted_by);
      for (const round of v.rounds) for (const st of round.stances) count(st.participant);
    }
    return { people, anonymous };
  });

  /** How many challenges are open on each note, value or reflection (keyed `kind:id`). */
  openByTarget = $derived.by(() => {
    const counts = new Map<string, number>();
    for (const c of this.openChallenges) counts.set(targetKey(c.target), (counts.get(targetKey(c.target)) ?? 0) + 1);
    return counts;
  });

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
  private changedWhileLoading = false;

  constructor(id: string) {
    this.id = id;
    this.stops.push(
      onNotice((n) => {
        if (n.workshop !== this.id) return;
        if (n.type === 'view' && this.loading) this.changedWhileLoading = true;
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

  /** Reads the whole workshop (first load, or after a reload notice or a reconnect). A change
   * that arrives while the snapshot is on its way may or may not be in it (the laptop's own
   * window gets changes and replies by different routes), so then it is read again: the last
   * snapshot applied is always newer than every change seen while it was coming. */
  reload(): Promise<void> {
    if (this.loading) return this.loading;
    this.loading = (async () => {
      try {
        for (let attempt = 0; attempt < MAX_RELOADS; attempt++) {
          this.changedWhileLoading = false;
          const reply = await command(this.id, { type: 'get_snapshot' });
          if (reply.type === 'snapshot') {
            this.applySnapshot(reply);
            this.loadError = null;
          }
          if (!this.changedWhileLoading) break;
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
    this.sessions = s.sessions;
    this.participation = s.participation;
    this.breaks = s.breaks;
    this.challenges = byId(s.challenges);
    this.values = byId(s.values);
    this.reflections = byId(s.reflections.flatMap((r) => r.prompts.flatMap(([, list]) => list)));
    this.actions = byId(s.actions);
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
        this.participation = e.participation;
        this.breaksChanged(e.breaks);
        break;
      case 'sessions_changed':
        this.sessions = e.sessions;
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
      case 'challenge_upserted':
        this.challengeUpserted(e.challenge);
        break;
      case 'challenge_removed':
        delete this.challenges[e.challenge];
        break;
      case 'value_upserted':
        this.valueUpserted(e.value);
        break;
      case 'reflection_upserted':
        this.reflections[e.reflection.id] = e.reflection;
        break;
      case 'action_upserted':
        this.actions[e.action.id] = e.action;
        break;
      case 'resync':
        void this.reload();
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

  private challengeUpserted(c: ChallengeView): void {
    const before = this.challenges[c.id];
    this.challenges[c.id] = c;
    if (!this.loaded || c.mine) return;
    if (!before) {
      const who = c.author.kind === 'participant' ? c.author.name : 'Someone';
      announcer.say(`${who} raised a challenge about “${short(c.target_summary)}”.`);
    } else if (before.responses.length < c.responses.length) {
      const last = c.responses.at(-1);
      if (last && !last.mine) {
        const who = last.author.kind === 'participant' ? last.author.name : 'Someone';
        announcer.say(`${who} replied to a challenge.`);
      }
    }
  }

  private valueUpserted(v: ValueView): void {
    const before = this.values[v.id];
    this.values[v.id] = v;
    if (!this.loaded || !before) return;
    if (before.current_round === null && v.current_round !== null) {
      announcer.say(`A consent round has opened on “${short(v.statement)}”. You can give your view.`);
    } else if (before.status !== 'agreed' && v.status === 'agreed') {
      announcer.say(`“${short(v.statement)}” has been agreed.`);
    }
  }

  private breaksChanged(list: BreakView[]): void {
    const before = new Set(this.breaks.map((b) => b.participant));
    this.breaks = list;
    if (!this.loaded || !this.isFacilitator) return;
    for (const b of list) {
      if (!before.has(b.participant) && b.participant !== this.me) {
        announcer.say(`${this.nameOf(b.participant)} would like a break.`);
      }
    }
  }

  /** Challenges about one note, value or reflection, newest first. */
  challengesOn(target: Target): ChallengeView[] {
    const key = targetKey(target);
    return Object.values(this.challenges)
      .filter((c) => targetKey(c.target) === key)
      .sort((a, b) => b.created_at - a.created_at);
  }

  /** A person's first name (or "Someone" for anonymous or unknown authors). */
  nameOf(id: string | null | undefined): string {
    return (id && this.people.get(id)?.name) || 'Someone';
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

/** A stable key for what a challenge is about. */
export function targetKey(t: Target): string {
  return `${t.kind}:${t.id}`;
}

function byId<T extends { id: string }>(list: T[]): Record<string, T> {
  const out: Record<string, T> = {};
  for (const item of list) out[item.id] = item;
  return out;
}

function short(text: string): string {
  const t = text.trim();
  return t.length > 60 ? `${t.slice(0, 57)}…` : t;
}

function withoutNotes(p: PromptView): Area {
  return { id: p.id, title: p.title, order: p.order, session: p.session, clusters: p.clusters };
}
