// Names and words for things the contract sends as keys. They match the Rust labels
// (crates/workshop/src/palette.rs and kinds.rs), so every front door says the same thing.

import type { ChallengeKind } from './ipc/bindings/ChallengeKind';
import type { ChallengeStatus } from './ipc/bindings/ChallengeStatus';
import type { Colour } from './ipc/bindings/Colour';
import type { Phase } from './ipc/bindings/Phase';
import type { ReflectionKind } from './ipc/bindings/ReflectionKind';
import type { RoundOutcome } from './ipc/bindings/RoundOutcome';
import type { Stance } from './ipc/bindings/Stance';
import type { ValueStatus } from './ipc/bindings/ValueStatus';
import type { Symbol as PersonSymbol } from './ipc/bindings/Symbol';

// `hex` is the sticky-note colour (light, for text on it); `strong` marks a person's colour
// in a small swatch, where a pale tint would be hard to tell apart.
export const COLOURS: readonly { key: Colour; label: string; hex: string; strong: string }[] = [
  { key: 'sun', label: 'Yellow', hex: '#fff3a3', strong: '#f2c300' },
  { key: 'sky', label: 'Blue', hex: '#cfe8ff', strong: '#2f7fc1' },
  { key: 'leaf', label: 'Green', hex: '#d3f2cf', strong: '#3d9a45' },
  { key: 'rose', label: 'Pink', hex: '#ffd6e2', strong: '#d94f86' },
  { key: 'lilac', label: 'Purple', hex: '#e6dcff', strong: '#8a63d2' },
  { key: 'sand', label: 'Sand', hex: '#f1e4cc', strong: '#b58f55' },
  { key: 'mint', label: 'Mint', hex: '#c9f1ea', strong: '#25a39a' },
  { key: 'peach', label: 'Orange', hex: '#ffdcc2', strong: '#ea7a2e' },
];

export function colourLabel(c: Colour): string {
  return COLOURS.find((x) => x.key === c)?.label ?? c;
}

export function colourHex(c: Colour): string {
  return COLOURS.find((x) => x.key === c)?.hex ?? '#ffffff';
}

/** A person's colour, strong enough to see in a small swatch. */
export function colourStrong(c: Colour): string {
  return COLOURS.find((x) => x.key === c)?.strong ?? '#777777';
}

export const SYMBOLS: Record<PersonSymbol, string> = {
  circle: '●',
  triangle: '▲',
  square: '■',
  diamond: '◆',
  star: '★',
  heart: '♥',
  cross: '✚',
  moon: '☾',
};

export const PHASES: readonly { key: Phase; label: string; banner: string }[] = [
  { key: 'welcome', label: 'Welcome', banner: 'Getting settled. Have a look at the ground rules together.' },
  {
    key: 'write_privately',
    label: 'Writing on our own',
    banner: 'Writing privately — only you can see your notes until the facilitator reveals them.',
  },
  { key: 'share', label: 'Sharing our notes', banner: 'Everyone’s notes are on the board now. Take your time to read them.' },
  { key: 'cluster', label: 'Grouping notes', banner: 'Putting notes that belong together into groups.' },
  { key: 'vote', label: 'Voting', banner: 'Put your dots on the notes that matter most to you.' },
  { key: 'discuss', label: 'Talking it through', banner: 'Talking through what’s on the board. It’s fine to pass.' },
  { key: 'agree', label: 'Agreeing values', banner: 'Agreeing the values we want to keep to.' },
  { key: 'reflect', label: 'Reflecting', banner: 'Looking back: what worked, what didn’t, what we could do better.' },
];

export function phaseInfo(p: Phase): { key: Phase; label: string; banner: string } {
  return PHASES.find((x) => x.key === p) ?? { key: p, label: p, banner: '' };
}

/** The ground rules a new workshop starts with (editable before it is created). */
export const DEFAULT_GROUND_RULES: readonly string[] = [
  'First names only — no titles or job roles.',
  'Challenge the idea, not the person.',
  'Everyone’s experience counts equally.',
  'It’s fine to pass, and fine to take a break.',
  'What’s said here stays here, unless we all agree otherwise.',
];

/** "1 dot", "3 dots". */
export function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Pulls the suggested name out of a name refusal: `… How about "Sarah"?` → `Sarah`. */
export function suggestedName(message: string): string | null {
  const m = /How about [“"]([^"”]+)[”"]\?/.exec(message);
  return m?.[1] ?? null;
}

// Challenges, values and reflections (crates/workshop/src/kinds.rs labels).

export const CHALLENGE_KINDS: readonly { key: ChallengeKind; label: string; hint: string }[] = [
  { key: 'see_differently', label: 'I see it differently because…', hint: 'Say what you see and why.' },
  { key: 'what_if', label: 'What if…', hint: 'Offer another way it could be.' },
  { key: 'question', label: 'A question', hint: 'Ask about something that isn’t clear yet.' },
];

export function challengeKindLabel(k: ChallengeKind): string {
  return CHALLENGE_KINDS.find((x) => x.key === k)?.label ?? k;
}

export const CHALLENGE_STATUS: Record<ChallengeStatus, string> = {
  open: 'Open',
  heard: 'Heard',
  changed_view: 'Changed my view',
  parked: 'Parked for later',
};

export const STANCES: readonly { key: Stance; label: string; hint: string; needsReason: boolean }[] = [
  { key: 'agree', label: 'Agree', hint: 'I’m happy with this.', needsReason: false },
  {
    key: 'reservations',
    label: 'Agree with reservations',
    hint: 'I can live with it, but I have a concern. Please say what it is.',
    needsReason: true,
  },
  { key: 'stand_aside', label: 'Stand aside', hint: 'I won’t block it, and I won’t take part in it.', needsReason: false },
  {
    key: 'object',
    label: 'Object',
    hint: 'I can’t go along with this. Please say why: it opens a challenge so the group can respond.',
    needsReason: true,
  },
];

export function stanceLabel(s: Stance): string {
  return STANCES.find((x) => x.key === s)?.label ?? s;
}

export const VALUE_STATUS: Record<ValueStatus, string> = {
  draft: 'Draft',
  in_consent: 'Consent round open',
  agreed: 'Agreed',
  withdrawn: 'Withdrawn',
};

export const ROUND_OUTCOME: Record<RoundOutcome, string> = {
  agreed: 'Agreed',
  no_quorum: 'Not enough people took part',
  objection: 'Not agreed: an objection is still open',
  withdrawn: 'The value was withdrawn',
};

export const REFLECTION_KINDS: readonly { key: ReflectionKind; label: string }[] = [
  { key: 'worked', label: 'What worked' },
  { key: 'didnt_work', label: 'What didn’t work' },
  { key: 'do_better', label: 'What we could do better' },
  { key: 'new_idea', label: 'New ideas' },
];

/** "Tuesday 3 March, 14:05" in the person's own locale. */
export function when(ms: number): string {
  return new Date(ms).toLocaleString(undefined, {
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    hour: '2-digit',
    minute: '2-digit',
  });
}

/** "3 March 2026". */
export function day(ms: number): string {
  return new Date(ms).toLocaleDateString(undefined, { day: 'numeric', month: 'long', year: 'numeric' });
}
