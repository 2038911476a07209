import type { IncomingHttpHeaders } from 'node:http';

const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;
/** RFC 6265 cookie-name characters (an HTTP token). */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function checkCookieName(caller: string, value: unknown): string | null {
  if (value === undefined) return null;
  if (typeof value !== 'string' || !COOKIE_NAME.test(value)) {
    throw new TypeError(`${caller}: options.cookieName must be a cookie name such as '__Host-vigil'`);
  }
  return value;
}

/**
 * The session token of a request: `Authorization: Bearer <token>` first (an explicit credential
 * wins), else the cookie named `cookieName` when one is configured. Null when there is neither.
 */
export function tokenOf(headers: IncomingHttpHeaders, cookieName: string | null): string | null {
  const authorization = headers.authorization;
  if (typeof authorization === 'string') {
    const bearer = BEARER.exec(authorization)?.[1];
    if (bearer !== undefined) return bearer;
  }
  if (cookieName === null || typeof headers.cookie !== 'string') return null;
  return cookieValue(headers.cookie, cookieName);
}

function cookieValue(header: string, name: string): string | null {
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq === -1 || pair.slice(0, eq).trim() !== name) continue;
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    try {
      value = decodeURIComponent(value);
    } catch {
      return null;
    }
    return value.length > 0 ? value : null;
  }
  return null;
}
