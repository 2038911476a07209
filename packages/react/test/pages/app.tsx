// A React app on the real server: the provider, the hook, and its own warning UI.
import { useVigil, VigilProvider } from '@vigil/react';
import { createRoot } from 'react-dom/client';

function Session() {
  const { status, warning, ended, extend, logout } = useVigil();
  if (ended) return <p role="status">Session ended: {ended.reason}</p>;
  return (
    <main>
      <p>
        State: <span id="state">{status.state}</span>
      </p>
      {warning && (
        <div role="alertdialog" aria-label="Session warning">
          <p>
            Signing out in <span id="left">{Math.ceil(warning.msLeft / 1000)}</span> s
          </p>
          <button type="button" onClick={() => void extend()}>
            Stay signed in
          </button>
          <button type="button" onClick={() => void logout()}>
            Sign out
          </button>
        </div>
      )}
    </main>
  );
}

const token = decodeURIComponent(location.hash.slice(1));
const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <VigilProvider options={{ baseUrl: location.origin, token }}>
      <Session />
    </VigilProvider>,
  );
}
