import { type AdminApi, type AdminSession, ApiError, type FeedEvent, type PolicyLimits } from './api.js';
import { h } from './dom.js';
import { formatDuration, formatTime, type ServerClock, shortId } from './format.js';

export interface SessionsViewElements {
  form: HTMLFormElement;
  subject: HTMLInputElement;
  table: HTMLTableElement;
  status: HTMLElement;
  revokeAll: HTMLButtonElement;
}

export interface SessionsViewOptions {
  api: AdminApi;
  clock: ServerClock;
  /** The policies' limits as last read from `/v1/stats` (a bar is full at the idle timeout). */
  policies: () => Map<string, PolicyLimits>;
  onUnauthorized: () => void;
}

/**
 * The live sessions of one subject, each with a bar of the time it has left (the earlier of its idle
 * and absolute deadlines, counted on the server's clock) and a "Revoke" button; "Revoke all" ends
 * every one. The list is read again when the feed says something happened to this subject.
 */
export class SessionsView {
  readonly #el: SessionsViewElements;
  readonly #options: SessionsViewOptions;
  #subject: string | null = null;
  #sessions: AdminSession[] = [];
  readonly #bars = new Map<string, { bar: HTMLProgressElement; text: HTMLElement; row: HTMLElement }>();
  #refreshTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #tick: ReturnType<typeof setInterval>;

  constructor(elements: SessionsViewElements, options: SessionsViewOptions) {
    this.#el = elements;
    this.#options = options;
    elements.form.addEventListener('submit', (event) => {
      event.preventDefault();
      const subject = elements.subject.value.trim();
      if (subject !== '') void this.show(subject);
    });
    elements.revokeAll.addEventListener('click', () => void this.#revokeAll());
    this.#tick = setInterval(() => this.#updateBars(), 1000);
  }

  async show(subject: string): Promise<void> {
    this.#subject = subject;
    await this.refresh();
  }

  async refresh(): Promise<void> {
    const subject = this.#subject;
    if (subject === null) return;
    try {
      const sessions = await this.#options.api.sessions(subject);
      if (subject !== this.#subject) return;
      this.#sessions = sessions.filter((session) => session.endedAt === undefined);
      this.#render();
    } catch (error) {
      this.#failed(error, `Could not list the sessions of ${subject}`);
    }
  }

  /** Something happened to a session: read this subject's list again (once for a burst of events). */
  onFeedEvent(event: FeedEvent): void {
    if (this.#subject === null || event.session.subject !== this.#subject) return;
    clearTimeout(this.#refreshTimer);
    this.#refreshTimer = setTimeout(() => void this.refresh(), 150);
  }

  destroy(): void {
    clearInterval(this.#tick);
    clearTimeout(this.#refreshTimer);
  }

  #render(): void {
    const subject = this.#subject ?? '';
    const count = this.#sessions.length;
    this.#el.status.textContent =
      count === 0
        ? `${subject} has no live session.`
        : `${subject}: ${count} live session${count === 1 ? '' : 's'}.`;
    this.#el.revokeAll.hidden = count === 0;
    this.#el.revokeAll.textContent = 'Revoke all';
    this.#bars.clear();
    const rows = this.#sessions.map((session, index) => this.#row(session, index));
    this.#el.table.hidden = count === 0;
    this.#el.table.replaceChildren(
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Subject', 'Session', 'Policy', 'Created', 'Last activity', 'Time left', ''].map((title) =>
            h('th', { scope: 'col' }, title),
          ),
        ),
      ),
      h('tbody', {}, ...rows),
    );
    this.#updateBars();
  }

  #row(session: AdminSession, index: number): HTMLTableRowElement {
    const bar = h('progress', { 'aria-label': `Time left for session ${shortId(session.id)}` });
    const text = h('span', { class: 'time-left' });
    // Every button is named "Revoke"; its description says whose: "ada, session 3f9a…".
    const subjectCell = `session-${index}-subject`;
    const idCell = `session-${index}-id`;
    const revoke = h(
      'button',
      { type: 'button', class: 'revoke', 'aria-describedby': `${subjectCell} ${idCell}` },
      'Revoke',
    );
    revoke.addEventListener('click', () => void this.#revoke(session, revoke));
    const row = h(
      'tr',
      { 'data-session-id': session.id },
      h('td', { id: subjectCell }, session.subject),
      h('td', { id: idCell, title: session.id }, h('code', {}, shortId(session.id))),
      h('td', {}, session.policy),
      h('td', {}, formatTime(session.createdAt)),
      h('td', {}, formatTime(session.lastActivityAt)),
      h('td', {}, h('div', { class: 'bar' }, bar, text)),
      h('td', {}, revoke),
    );
    this.#bars.set(session.id, { bar, text, row });
    return row;
  }

  #updateBars(): void {
    const now = this.#options.clock.now();
    const policies = this.#options.policies();
    for (const session of this.#sessions) {
      const shown = this.#bars.get(session.id);
      if (shown === undefined) continue;
      const endsAt = Math.min(Date.parse(session.idleExpiresAt), Date.parse(session.absoluteExpiresAt));
      const left = Math.max(0, endsAt - now);
      const limits = policies.get(session.policy);
      const full = limits?.idleTimeoutMs ?? Math.max(left, 1);
      shown.bar.max = full;
      shown.bar.value = Math.min(left, full);
      shown.text.textContent = left === 0 ? 'ending' : formatDuration(left);
      shown.row.classList.toggle('warning', limits !== undefined && left <= limits.warnBeforeMs);
    }
  }

  async #revoke(session: AdminSession, button: HTMLButtonElement): Promise<void> {
    const index = this.#sessions.indexOf(session);
    button.disabled = true;
    try {
      await this.#options.api.revoke(session.id);
    } catch (error) {
      // Gone already (ended and purged): the list below shows the truth either way.
      if (!(error instanceof ApiError && error.status === 404)) this.#failed(error, 'Could not revoke');
    }
    await this.refresh();
    this.#keepFocus(index);
  }

  /**
   * The list was drawn anew and the focused button went with it: a keyboard user goes on from the
   * row that took its place (or the one before), or from the status line when none is left.
   */
  #keepFocus(index: number): void {
    if (document.activeElement !== null && document.activeElement !== document.body) return;
    const buttons = this.#el.table.querySelectorAll<HTMLButtonElement>('button.revoke');
    (buttons[Math.min(index, buttons.length - 1)] ?? this.#el.status).focus();
  }

  async #revokeAll(): Promise<void> {
    const subject = this.#subject;
    if (subject === null) return;
    if (!window.confirm(`Revoke every session of ${subject}? They are signed out at once.`)) return;
    try {
      const revoked = await this.#options.api.revokeAll(subject);
      await this.refresh();
      this.#el.status.textContent = `Revoked ${revoked} session${revoked === 1 ? '' : 's'} of ${subject}.`;
      this.#keepFocus(0);
    } catch (error) {
      this.#failed(error, `Could not revoke the sessions of ${subject}`);
    }
  }

  #failed(error: unknown, what: string): void {
    if (error instanceof ApiError && error.status === 401) {
      this.#options.onUnauthorized();
      return;
    }
    this.#el.status.textContent = `${what}: ${error instanceof Error ? error.message : String(error)}`;
  }
}
