import { createVigil, type Vigil } from '@vigil/client';
import { acceptFrameActivity } from '@vigil/client/frame';
import { pushChannels } from '@vigil/client/push';
import { defineVigilWarning } from '@vigil/client/warning';

const TOKEN_KEY = 'vigil-demo-token';
const NAME_KEY = 'vigil-demo-name';

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const signInForm = byId<HTMLFormElement>('sign-in');
const nameField = byId<HTMLInputElement>('name');
const signInButton = signInForm.querySelector('button[type="submit"]') as HTMLButtonElement;
const signedIn = byId<HTMLElement>('signed-in');
const who = byId<HTMLElement>('who');
const notice = byId<HTMLElement>('notice');
const clock = byId<HTMLOutputElement>('clock');
const leader = byId<HTMLOutputElement>('leader');
const toolOrigin = document.body.dataset.toolOrigin ?? '';

defineVigilWarning();
const warning = document.querySelector('vigil-warning') as HTMLElement & { attach(v: Vigil): () => void };

let current: { vigil: Vigil; stop: () => void } | null = null;
let signingIn = false;

/** Shows the form. Coming from the signed-in view, focus (which was in it, or in the warning) goes to Name. */
function showSignIn(message = ''): void {
  const wasSignedIn = !signedIn.hidden;
  notice.textContent = message;
  signedIn.hidden = true;
  signInForm.hidden = false;
  if (wasSignedIn) nameField.focus();
}

function formatLeft(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, '0')}`;
}

/** The session's deadline as the server last gave it: it still holds when a sign-out goes unheard. */
let serverEndsAt: number | null = null;

/**
 * `logout()` signs out every tab at once, then tells the server, retrying; it resolves `false` when
 * the server could not be told. Then the session lives on there until its deadline: say so.
 */
function reportSignOut(heard: Promise<boolean>): void {
  const endsAt = serverEndsAt;
  void heard.then((ended) => {
    // Heard, or signed in again since (old news).
    if (ended || current !== null) return;
    const left = endsAt === null ? null : endsAt - Date.now();
    if (left !== null && left <= 0) return;
    const when = left === null ? 'when it times out' : `within ${formatLeft(left)}`;
    notice.textContent = `Signed out here, but the server could not be reached, so your session there will end on its own ${when}.`;
  });
}

function join(token: string): Promise<void> {
  // One client per tab: a second one would keep its own session alive behind the user's back.
  current?.stop();
  const cameFromForm = !signInForm.hidden;
  // In a real app the token would live in an HttpOnly cookie (cookie mode); the demo keeps it in
  // localStorage so that a second tab can join the session without signing in again.
  const vigil = createVigil({
    baseUrl: location.origin,
    token: () => localStorage.getItem(TOKEN_KEY) ?? token,
    // The dashboard's "Revoke" shows in every tab at once, not at the next heartbeat.
    push: pushChannels(),
    // The demo's timeouts are short: so are its waits between retries (at most 4 s, not 30 s).
    retry: { maxMs: 4000 },
  });
  const offFrame = acceptFrameActivity(vigil, { origins: [toolOrigin] });
  const detach = warning.attach(vigil);
  const timer = setInterval(() => {
    const { expiresAt, leader: isLeader } = vigil.status();
    clock.value = expiresAt === null ? '–' : formatLeft(expiresAt - Date.now());
    leader.value = isLeader ? 'yes (leader)' : 'no (another tab sends them)';
  }, 250);
  const offStatus = vigil.on('status', ({ expiresAt }) => {
    if (expiresAt !== null) serverEndsAt = expiresAt;
  });
  // <vigil-warning> tells the user why the session ended; the page only offers to sign in again.
  const offEnded = vigil.on('ended', () => {
    localStorage.removeItem(TOKEN_KEY);
    stop();
    showSignIn();
  });
  const stop = () => {
    clearInterval(timer);
    offEnded();
    offStatus();
    offFrame();
    detach();
    vigil.stop();
    if (current?.vigil === vigil) current = null;
  };
  current = { vigil, stop };

  who.textContent = `Signed in as ${localStorage.getItem(NAME_KEY) ?? 'you'}`;
  const frame = byId<HTMLIFrameElement>('tool');
  frame.src = `${toolOrigin}/?host=${encodeURIComponent(location.origin)}`;
  notice.textContent = '';
  signInForm.hidden = true;
  signedIn.hidden = false;
  // Focus was on the form just hidden: start the user at the top of what replaced it.
  if (cameFromForm) who.focus();
  return vigil.start();
}

type SignInResult = { token: string } | { error: string };

async function requestSignIn(name: string): Promise<SignInResult> {
  let response: Response;
  try {
    response = await fetch('/demo/sign-in', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name }),
    });
  } catch {
    return { error: 'Cannot reach the server; check your connection and try again.' };
  }
  if (response.status === 429 || response.status >= 500) {
    return {
      error: `The server cannot sign you in just now (HTTP ${response.status}); try again in a moment.`,
    };
  }
  const body = (await response.json().catch(() => null)) as { token?: unknown } | null;
  if (!response.ok || typeof body?.token !== 'string') {
    return { error: `Signing in failed (HTTP ${response.status}); try again.` };
  }
  return { token: body.token };
}

async function signIn(): Promise<void> {
  // One sign-in at a time: a double click would otherwise open two sessions.
  if (signingIn) return;
  const name = nameField.value.trim();
  if (name === '') {
    // `required` lets a name of spaces through; the server would refuse it with no word on why.
    nameField.setAttribute('aria-invalid', 'true');
    notice.textContent = 'Enter your name to sign in.';
    nameField.focus();
    return;
  }
  nameField.removeAttribute('aria-invalid');
  signingIn = true;
  signInButton.disabled = true;
  notice.textContent = '';
  try {
    const result = await requestSignIn(name);
    if ('error' in result) {
      notice.textContent = result.error;
      nameField.focus();
      return;
    }
    localStorage.setItem(TOKEN_KEY, result.token);
    localStorage.setItem(NAME_KEY, name);
    await join(result.token);
  } catch {
    // Storage refused (a private window with storage off, a full quota): say so rather than nothing.
    notice.textContent = 'Signing in failed in this browser; try again.';
  } finally {
    signingIn = false;
    signInButton.disabled = false;
  }
}

signInForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void signIn();
});
nameField.addEventListener('input', () => nameField.removeAttribute('aria-invalid'));

byId<HTMLButtonElement>('sign-out').addEventListener('click', () => {
  if (current) reportSignOut(current.vigil.logout());
});
// "Sign out" in the warning dialog: the element signs out and hands over what `logout()` returned.
warning.addEventListener('vigil-sign-out', (event) => {
  reportSignOut((event as CustomEvent<{ done: Promise<boolean> }>).detail.done);
});

// A tab opened later, or one that was showing the sign-in form, joins when another tab signs in.
window.addEventListener('storage', (event) => {
  if (event.key === TOKEN_KEY && event.newValue !== null && current === null) void join(event.newValue);
});

const saved = localStorage.getItem(TOKEN_KEY);
if (saved === null) showSignIn();
else void join(saved);
