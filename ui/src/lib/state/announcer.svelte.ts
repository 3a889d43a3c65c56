// One polite live region for the whole app. Messages are spaced out and bursts are
// summarised, so a screen reader isn't flooded when twelve people add notes at once.

class Announcer {
  /** What the live region says now. */
  text = $state('');
  private queue: string[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private newNotes = 0;
  private noteTimer: ReturnType<typeof setTimeout> | null = null;

  say(message: string): void {
    if (this.queue.at(-1) === message) return;
    this.queue.push(message);
    if (this.queue.length > 4) this.queue.splice(0, this.queue.length - 4);
    this.pump();
  }

  /** Someone else added a note: said once per quiet moment, as a count when there are several. */
  noteAdded(description: string): void {
    this.newNotes += 1;
    const single = description;
    if (this.noteTimer) clearTimeout(this.noteTimer);
    this.noteTimer = setTimeout(() => {
      this.say(this.newNotes === 1 ? single : `${this.newNotes} new notes on the board.`);
      this.newNotes = 0;
      this.noteTimer = null;
    }, 1500);
  }

  private pump(): void {
    if (this.timer) return;
    const next = this.queue.shift();
    if (next === undefined) return;
    // Clearing first makes the same words be read again if they repeat later.
    this.text = '';
    this.timer = setTimeout(() => {
      this.text = next;
      this.timer = setTimeout(() => {
        this.timer = null;
        this.pump();
      }, 1200);
    }, 50);
  }
}

export const announcer = new Announcer();
