import type { Vigil } from './vigil.js';
import { endedMessage, formatCountdown, shouldAnnounce, spokenCountdown } from './warning-text.js';

/** `<vigil-warning>`: attach a vigil (`element.attach(vigil)` or `element.vigil = vigil`). */
export interface VigilWarningElement extends HTMLElement {
  vigil: Vigil | null;
  /** Follows this vigil; returns the function that lets go of it. */
  attach(vigil: Vigil): () => void;
}

const STYLE = `
:host { display: contents; font: var(--vigil-font, inherit); color: var(--vigil-fg, #1b1b1f); }
[hidden] { display: none !important; }
.backdrop { position: fixed; inset: 0; z-index: var(--vigil-z-index, 2147483000); display: grid;
  place-items: center; background: var(--vigil-backdrop, rgb(0 0 0 / 0.45)); }
.dialog { box-sizing: border-box; max-width: min(28rem, calc(100vw - 2rem)); padding: var(--vigil-padding, 1.5rem);
  background: var(--vigil-bg, #fff); color: var(--vigil-fg, #1b1b1f); border-radius: var(--vigil-radius, 0.75rem);
  box-shadow: var(--vigil-shadow, 0 10px 40px rgb(0 0 0 / 0.3)); }
.title { margin: 0 0 0.5rem; font-size: var(--vigil-title-size, 1.25rem); }
.countdown { font-variant-numeric: tabular-nums; font-weight: 600; }
.actions { display: flex; gap: 0.75rem; justify-content: flex-end; margin-top: 1.25rem; flex-wrap: wrap; }
button { font: inherit; padding: 0.5rem 1rem; border-radius: var(--vigil-button-radius, 0.5rem); cursor: pointer;
  border: 1px solid var(--vigil-accent, #2251d1); }
.extend { background: var(--vigil-accent, #2251d1); color: var(--vigil-accent-fg, #fff); }
.sign-out { background: transparent; color: var(--vigil-accent, #2251d1); }
button:focus-visible { outline: 3px solid var(--vigil-focus, #f5a623); outline-offset: 2px; }
.ended { position: fixed; inset: 1rem 1rem auto; z-index: var(--vigil-z-index, 2147483000); margin: 0 auto;
  max-width: 40rem; padding: 1rem 1.25rem; background: var(--vigil-bg, #fff); color: var(--vigil-fg, #1b1b1f);
  border-left: 4px solid var(--vigil-accent, #2251d1); border-radius: var(--vigil-radius, 0.75rem);
  box-shadow: var(--vigil-shadow, 0 10px 40px rgb(0 0 0 / 0.3)); }
.sr { position: absolute; width: 1px; height: 1px; margin: -1px; overflow: hidden; clip-path: inset(50%);
  white-space: nowrap; }
`;

const HTML = `
<div class="backdrop" part="backdrop" hidden>
  <div class="dialog" part="dialog" role="alertdialog" aria-modal="true" aria-labelledby="title"
       aria-describedby="message">
    <h2 class="title" part="title" id="title"><slot name="title">Are you still there?</slot></h2>
    <p part="message" id="message"><slot name="message">For your security you will be signed out in</slot>
      <span class="countdown" part="countdown"></span>.</p>
    <div class="sr" aria-live="polite" aria-atomic="true"></div>
    <div class="actions" part="actions">
      <button type="button" class="sign-out" part="button sign-out">Sign out</button>
      <button type="button" class="extend" part="button extend">Stay signed in</button>
    </div>
  </div>
</div>
<div class="ended" part="ended" role="alert" hidden></div>
`;

/**
 * Registers `<vigil-warning>` (or `tagName`) and returns its class. Nothing is defined until this is
 * called: importing the SDK registers no element and needs no DOM.
 */
export function defineVigilWarning(tagName = 'vigil-warning'): CustomElementConstructor {
  const existing = customElements.get(tagName);
  if (existing) return existing;

  class VigilWarning extends HTMLElement implements VigilWarningElement {
    #vigil: Vigil | null = null;
    #offs: Array<() => void> = [];
    #root: ShadowRoot;
    #backdrop: HTMLElement;
    #countdown: HTMLElement;
    #live: HTMLElement;
    #ended: HTMLElement;
    #extend: HTMLButtonElement;
    #signOut: HTMLButtonElement;
    #endsAt = 0;
    #tick: ReturnType<typeof setTimeout> | undefined;
    #lastSpoken = -1;
    #returnFocus: HTMLElement | null = null;

    constructor() {
      super();
      this.#root = this.attachShadow({ mode: 'open' });
      const style = document.createElement('style');
      style.textContent = STYLE;
      const template = document.createElement('template');
      template.innerHTML = HTML;
      this.#root.append(style, template.content.cloneNode(true));
      const q = <T extends HTMLElement>(selector: string): T => this.#root.querySelector(selector) as T;
      this.#backdrop = q('.backdrop');
      this.#countdown = q('.countdown');
      this.#live = q('.sr');
      this.#ended = q('.ended');
      this.#extend = q('.extend');
      this.#signOut = q('.sign-out');
      this.#extend.addEventListener('click', () => this.#onExtend());
      this.#signOut.addEventListener('click', () => this.#onSignOut());
      // A click on the backdrop or the dialog's text would move focus to the page's <body>, outside
      // the dialog, where Shift+Tab reaches the page (and its frames) behind it: focus stays put.
      this.#backdrop.addEventListener('mousedown', (event) => {
        if (!(event.target instanceof HTMLButtonElement)) event.preventDefault();
      });
    }

    get vigil(): Vigil | null {
      return this.#vigil;
    }

    set vigil(vigil: Vigil | null) {
      if (vigil) this.attach(vigil);
      else this.#detach();
    }

    attach(vigil: Vigil): () => void {
      this.#detach();
      this.#vigil = vigil;
      if (this.isConnected) this.#subscribe();
      return () => {
        if (this.#vigil === vigil) this.#detach();
      };
    }

    connectedCallback(): void {
      if (this.#vigil && this.#offs.length === 0) this.#subscribe();
    }

    disconnectedCallback(): void {
      for (const off of this.#offs) off();
      this.#offs = [];
      this.#close();
    }

    #subscribe(): void {
      const vigil = this.#vigil;
      if (!vigil) return;
      this.#offs = [
        vigil.on('warning', ({ msLeft }) => this.#open(msLeft)),
        vigil.on('status', (status) => {
          if (status.state !== 'warning') this.#close();
          if (status.state === 'ended') this.#showEnded(status.endedReason ?? 'ended');
          else this.#ended.hidden = true;
        }),
      ];
      const status = vigil.status();
      if (status.state === 'warning' && status.expiresAt !== null) this.#open(status.expiresAt - Date.now());
      if (status.state === 'ended') this.#showEnded(status.endedReason ?? 'ended');
    }

    #detach(): void {
      for (const off of this.#offs) off();
      this.#offs = [];
      this.#vigil = null;
      this.#close();
    }

    #open(msLeft: number): void {
      this.#endsAt = performance.now() + msLeft;
      this.#ended.hidden = true;
      if (this.#backdrop.hidden) {
        this.#returnFocus = document.activeElement as HTMLElement | null;
        this.#backdrop.hidden = false;
        this.setAttribute('open', '');
        // The alertdialog is read out when it opens; the live region then speaks only at intervals.
        this.#lastSpoken = Math.ceil(msLeft / 1000);
        this.#live.textContent = '';
        this.#extend.focus();
        document.addEventListener('focusin', this.#keepFocus);
        // On the document, not the dialog: the keys work wherever focus is while the dialog is open.
        document.addEventListener('keydown', this.#onKeydown, true);
        this.dispatchEvent(new CustomEvent('vigil-warning-open', { bubbles: true, composed: true }));
      }
      this.#render();
    }

    #close(): void {
      clearTimeout(this.#tick);
      this.#tick = undefined;
      if (this.#backdrop.hidden) return;
      this.#backdrop.hidden = true;
      this.removeAttribute('open');
      document.removeEventListener('focusin', this.#keepFocus);
      document.removeEventListener('keydown', this.#onKeydown, true);
      const back = this.#returnFocus;
      this.#returnFocus = null;
      if (back?.isConnected) back.focus();
    }

    #render = (): void => {
      const msLeft = Math.max(0, this.#endsAt - performance.now());
      const seconds = Math.ceil(msLeft / 1000);
      this.#countdown.textContent = formatCountdown(msLeft);
      if (seconds !== this.#lastSpoken && shouldAnnounce(seconds)) {
        this.#lastSpoken = seconds;
        this.#live.textContent = `You will be signed out in ${spokenCountdown(msLeft)}.`;
      }
      clearTimeout(this.#tick);
      // Wake at the next whole second of the countdown, not on a free-running interval.
      if (msLeft > 0) this.#tick = setTimeout(this.#render, msLeft % 1000 || 1000);
    };

    #showEnded(reason: string): void {
      if (this.hasAttribute('no-ended-notice')) return;
      this.#ended.textContent = endedMessage(reason);
      this.#ended.dataset.reason = reason;
      this.#ended.hidden = false;
    }

    #keepFocus = (event: FocusEvent): void => {
      // Focus inside the shadow root shows up at the document as the host itself.
      if (event.target !== this) this.#extend.focus();
    };

    #onKeydown = (event: KeyboardEvent): void => {
      if (event.key === 'Escape') {
        event.preventDefault();
        this.#onExtend();
      } else if (event.key === 'Tab') {
        // Two buttons: Tab and Shift+Tab both move to the other one, so focus never leaves.
        event.preventDefault();
        (this.#root.activeElement === this.#extend ? this.#signOut : this.#extend).focus();
      }
    };

    #onExtend(): void {
      void this.#vigil?.extend();
    }

    #onSignOut(): void {
      // `detail.done`: whether the server heard it (see `Vigil.logout`), for a page that says so.
      const done = this.#vigil?.logout() ?? Promise.resolve(false);
      this.dispatchEvent(
        new CustomEvent('vigil-sign-out', { bubbles: true, composed: true, detail: { done } }),
      );
    }
  }

  customElements.define(tagName, VigilWarning);
  return VigilWarning;
}
