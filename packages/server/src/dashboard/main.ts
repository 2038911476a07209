import { AdminApi, ApiError, type PolicyLimits, type Stats } from './api.js';
import { ActivityChart } from './chart.js';
import { renderCounts } from './counts-view.js';
import { byId } from './dom.js';
import { FeedList, followFeed } from './feed.js';
import { ServerClock } from './format.js';
import { SessionsView } from './sessions-view.js';

/**
 * The operators' dashboard. Signing in keeps the API key in this module's memory only (inside
 * `AdminApi`): nothing is written to localStorage, sessionStorage, a cookie or the URL, so closing
 * or reloading the page forgets it, and signing out drops the only reference.
 */

const STATS_INTERVAL_MS = 5000;

const login = byId('login', HTMLElement);
const loginForm = byId('login-form', HTMLFormElement);
const keyInput = byId('api-key', HTMLInputElement);
const loginError = byId('login-error', HTMLElement);
const board = byId('dashboard', HTMLElement);
const signOutButton = byId('sign-out', HTMLButtonElement);

/** Everything that runs while signed in; `stop()` ends it all and forgets the key. */
class Dashboard {
  readonly #api: AdminApi;
  readonly #clock = new ServerClock();
  readonly #chart = new ActivityChart(byId('chart', HTMLElement), byId('chart-summary', HTMLElement));
  readonly #feed = new FeedList(byId('feed', HTMLElement));
  readonly #feedState = byId('feed-state', HTMLElement);
  readonly #sessions: SessionsView;
  #policies = new Map<string, PolicyLimits>();
  readonly #poll: ReturnType<typeof setInterval>;
  #statsSoon: ReturnType<typeof setTimeout> | undefined;
  readonly #stopFeed: () => void;

  constructor(api: AdminApi, first: Stats) {
    this.#api = api;
    this.#sessions = new SessionsView(
      {
        form: byId('subject-form', HTMLFormElement),
        subject: byId('subject', HTMLInputElement),
        table: byId('sessions', HTMLTableElement),
        status: byId('sessions-status', HTMLElement),
        revokeAll: byId('revoke-all', HTMLButtonElement),
      },
      { api, clock: this.#clock, policies: () => this.#policies, onUnauthorized: signOutRefused },
    );
    this.#show(first);
    this.#poll = setInterval(() => void this.#refreshStats(), STATS_INTERVAL_MS);
    this.#stopFeed = followFeed(api, {
      onEvent: (event) => {
        this.#feed.add(event);
        this.#sessions.onFeedEvent(event);
        // Counts change with each event: read them soon, once for a burst.
        if (this.#statsSoon === undefined) {
          this.#statsSoon = setTimeout(() => {
            this.#statsSoon = undefined;
            void this.#refreshStats();
          }, 500);
        }
      },
      onOpen: () => {
        this.#feedState.textContent = 'Live: connected.';
        void this.#refreshStats();
        void this.#sessions.refresh();
      },
      onDown: (message) => {
        this.#feedState.textContent = message;
      },
      onUnauthorized: signOutRefused,
    });
  }

  stop(): void {
    clearInterval(this.#poll);
    clearTimeout(this.#statsSoon);
    this.#stopFeed();
    this.#sessions.destroy();
    this.#chart.destroy();
    this.#feed.clear();
  }

  async #refreshStats(): Promise<void> {
    try {
      this.#show(await this.#api.stats());
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) signOutRefused();
      else byId('counts-summary', HTMLElement).textContent = `Could not read the counts: ${describe(error)}`;
    }
  }

  #show(stats: Stats): void {
    this.#clock.sync(stats.serverTime);
    this.#policies = new Map(stats.policies.map((policy) => [policy.name, policy]));
    renderCounts(byId('counts', HTMLTableElement), byId('counts-summary', HTMLElement), stats);
    this.#chart.update(stats);
  }
}

let current: Dashboard | null = null;

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function showLogin(message: string): void {
  current?.stop();
  current = null;
  board.hidden = true;
  signOutButton.hidden = true;
  login.hidden = false;
  loginError.textContent = message;
  keyInput.focus();
}

function signOutRefused(): void {
  showLogin('The server no longer accepts this API key. Sign in again.');
}

loginForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const key = keyInput.value.trim();
  // The field is emptied at once: the key lives on only inside the API client.
  keyInput.value = '';
  if (key === '') return;
  const api = new AdminApi(key);
  const button = loginForm.querySelector('button');
  if (button) button.disabled = true;
  loginError.textContent = '';
  api
    .stats()
    .then((stats) => {
      login.hidden = true;
      board.hidden = false;
      signOutButton.hidden = false;
      current = new Dashboard(api, stats);
      // Focus was in the form just hidden: start a keyboard user at the top of the dashboard.
      byId('counts-title', HTMLElement).focus();
    })
    .catch((error: unknown) => {
      loginError.textContent =
        error instanceof ApiError && error.status === 401
          ? 'The server refused this API key.'
          : `Could not sign in: ${describe(error)}`;
      keyInput.focus();
    })
    .finally(() => {
      if (button) button.disabled = false;
    });
});

signOutButton.addEventListener('click', () => showLogin('Signed out. The API key has been forgotten.'));

// The page opens on its one field: the key.
keyInput.focus();
