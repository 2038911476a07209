import { bundle, html } from './browser.js';

/** The host page and its script, as routes for `startVigil({ pages })`. */
export const hostPages = {
  '/test/host.html': {
    type: 'text/html',
    body: html(
      `<main><h1>Host</h1><label>Notes <textarea></textarea></label>
       <button id="logout" type="button">Log out</button><p>State: <span id="state"></span></p></main>
       <vigil-warning></vigil-warning>`,
      '/test/host.js',
    ),
  },
  '/test/host.js': { type: 'text/javascript', body: () => bundle('host.ts') },
};

export const framePages = {
  '/frame.html': {
    type: 'text/html',
    body: async () => html('<label>Tool input <textarea></textarea></label>', '/frame.js'),
  },
  '/frame.js': { type: 'text/javascript', body: () => bundle('frame.ts') },
};
