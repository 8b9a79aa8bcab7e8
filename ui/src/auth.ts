// API keys (issue 11; the gateway's auth): the key lives in sessionStorage for this tab only and
// goes out as `Authorization: Bearer <key>` on every API call (fetch, the upload XHR, the Arrow
// stream, downloads). 401 asks for a key, 403 says the key is not allowed to do that.
import type { ServerError } from "./logic";

export const API_KEY_STORAGE = "lakehouse.apiKey";

/** The slice of the Web Storage API this module uses (sessionStorage in the app). */
export interface KeyStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export function getApiKey(store: KeyStore): string | null {
  const key = store.getItem(API_KEY_STORAGE);
  return key && key.trim() ? key.trim() : null;
}

/** Stores a key (trimmed; an empty one clears it). Returns an error text for a key no header can carry. */
export function setApiKey(store: KeyStore, key: string): string | null {
  const k = key.trim();
  if (!k) {
    store.removeItem(API_KEY_STORAGE);
    return null;
  }
  // An HTTP header value: visible ASCII, no spaces (fetch would throw on anything else).
  if (!/^[\x21-\x7e]+$/.test(k)) return "an API key is printable ASCII without spaces";
  store.setItem(API_KEY_STORAGE, k);
  return null;
}

/** `extra` plus `Authorization: Bearer <key>` when a key is stored. */
export function authHeaders(store: KeyStore, extra: Record<string, string> = {}): Record<string, string> {
  const key = getApiKey(store);
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

export type AuthProblem =
  | { kind: "key-required"; title: string; detail: string }
  | { kind: "forbidden"; title: string; detail: string };

/**
 * What an error means for the user's key: 401 = no key or a key the server does not accept
 * (ask for one), 403 = a valid key that may not do this (say so; another key may help). Other
 * errors are not about the key.
 */
export function authProblem(err: ServerError, keySent: boolean): AuthProblem | null {
  if (err.status === 401) {
    return {
      kind: "key-required",
      title: keySent ? "The API key was not accepted" : "An API key is required",
      detail: keySent
        ? `The server rejected the key this tab sent (${err.message}). Enter a valid key.`
        : `This server needs an API key for this (${err.message}). Enter one to continue; it is kept for this tab only.`,
    };
  }
  if (err.status === 403) {
    return {
      kind: "forbidden",
      title: "Not allowed",
      detail: `Your API key is valid but may not do this: ${err.message}. Ask an administrator for access, or use another key.`,
    };
  }
  return null;
}

/** A short description of the stored key for the header button ("key …a1b2" / "no key"). */
export function keyLabel(store: KeyStore): string {
  const key = getApiKey(store);
  return key ? `API key …${key.slice(-4)}` : "API key";
}
