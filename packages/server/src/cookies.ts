import type { VigilConfig } from '@vigil/core';

type CookieConfig = VigilConfig['cookie'];

/**
 * The session cookie (cookie mode), read and written by hand: one name to find in one header is
 * a few lines, not a dependency. The cookie has no `Max-Age` or `Expires`: it is a browser-session
 * cookie whose lifetime enforces nothing — every request is checked against the server's deadlines,
 * so a cookie that outlives its session only earns a `401`.
 */

export type SessionCookieOptions = Pick<CookieConfig, 'name' | 'secure' | 'sameSite'>;

const SAME_SITE = { lax: 'Lax', strict: 'Strict', none: 'None' } as const;

function attributes(options: SessionCookieOptions): string {
  return `Path=/; HttpOnly${options.secure ? '; Secure' : ''}; SameSite=${SAME_SITE[options.sameSite]}`;
}

/**
 * The `Set-Cookie` value that puts a session token into the browser, e.g.
 * `__Host-vigil=vgl_…; Path=/; HttpOnly; Secure; SameSite=Lax`. A backend may send it itself.
 */
export function serializeSessionCookie(options: SessionCookieOptions, token: string): string {
  return `${options.name}=${token}; ${attributes(options)}`;
}

/** The `Set-Cookie` value that removes the session cookie (same name, path and flags). */
export function clearSessionCookie(options: SessionCookieOptions): string {
  return `${options.name}=; ${attributes(options)}; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT`;
}

/**
 * The value of cookie `name` in a `Cookie` header, or null. The first occurrence wins (browsers
 * send the most specific path first; the `__Host-` prefix rules out cookies planted by subdomains).
 */
export function readCookie(header: string | undefined, name: string): string | null {
  if (header === undefined || !header.includes(name)) return null;
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(';', start);
    if (end === -1) end = header.length;
    const equals = header.indexOf('=', start);
    if (equals !== -1 && equals < end && header.slice(start, equals).trim() === name) {
      let value = header.slice(equals + 1, end).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      return value;
    }
    start = end + 1;
  }
  return null;
}
