import { createVigil, type Vigil } from '@vigil/client';
import { acceptFrameActivity } from '@vigil/client/frame';
import { pushChannels } from '@vigil/client/push';
import { defineVigilWarning } from '@vigil/client/warning';

const TOKEN_KEY = 'vigil-demo-token';
const NAME_KEY = 'vigil-demo-name';

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const signInForm = byId<HTMLFormElement>('sign-in');
const signedIn = byId<HTMLElement>('signed-in');
const notice = byId<HTMLElement>('notice');
const clock = byId<HTMLOutputElement>('clock');
const leader = byId<HTMLOutputElement>('leader');
const toolOrigin = document.body.dataset.toolOrigin ?? '';

defineVigilWarning();
const warning = document.querySelector('vigil-warning') as HTMLElement & { attach(v: Vigil): () => void };

let current: { vigil: Vigil; stop: () => void } | null = null;

function showSignIn(message = ''): void {
  notice.textContent = message;
  signedIn.hidden = true;
  signInForm.hidden = false;
}

function formatLeft(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, '0')}`;
}

async function join(token: string): Promise<void> {
  // In a real app the token would live in an HttpOnly cookie (cookie mode); the demo keeps it in
  // localStorage so that a second tab can join the session without signing in again.
  const vigil = createVigil({
    baseUrl: location.origin,
    token: () => localStorage.getItem(TOKEN_KEY) ?? token,
    // The dashboard's "Revoke" shows in every tab at once, not at the next heartbeat.
    push: pushChannels(),
  });
  const offFrame = acceptFrameActivity(vigil, { origins: [toolOrigin] });
  const detach = warning.attach(vigil);
  const timer = setInterval(() => {
    const { expiresAt, leader: isLeader } = vigil.status();
    clock.value = expiresAt === null ? '–' : formatLeft(expiresAt - Date.now());
    leader.value = isLeader ? 'yes (leader)' : 'no (another tab sends them)';
  }, 250);
  // <vigil-warning> tells the user why the session ended; the page only offers to sign in again.
  const offEnded = vigil.on('ended', () => {
    localStorage.removeItem(TOKEN_KEY);
    stop();
    showSignIn();
  });
  const stop = () => {
    clearInterval(timer);
    offEnded();
    offFrame();
    detach();
    vigil.stop();
    current = null;
  };
  current = { vigil, stop };

  byId<HTMLElement>('who').textContent = `Signed in as ${localStorage.getItem(NAME_KEY) ?? 'you'}`;
  const frame = byId<HTMLIFrameElement>('tool');
  frame.src = `${toolOrigin}/?host=${encodeURIComponent(location.origin)}`;
  notice.textContent = '';
  signInForm.hidden = true;
  signedIn.hidden = false;
  await vigil.start();
}

signInForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const name = byId<HTMLInputElement>('name').value.trim();
  const response = await fetch('/demo/sign-in', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  if (!response.ok) {
    notice.textContent = 'Signing in failed; try again.';
    return;
  }
  const { token } = (await response.json()) as { token: string };
  localStorage.setItem(TOKEN_KEY, token);
  localStorage.setItem(NAME_KEY, name);
  await join(token);
});

byId<HTMLButtonElement>('sign-out').addEventListener('click', async () => {
  await current?.vigil.logout();
});

// A tab opened later, or one that was showing the sign-in form, joins when another tab signs in.
window.addEventListener('storage', (event) => {
  if (event.key === TOKEN_KEY && event.newValue !== null && current === null) void join(event.newValue);
});

const saved = localStorage.getItem(TOKEN_KEY);
if (saved === null) showSignIn();
else void join(saved);
