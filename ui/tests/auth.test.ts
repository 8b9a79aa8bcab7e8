// The API key logic (auth.ts): storage, headers, and what 401/403 mean for the user.
import { describe, expect, it } from "vitest";
import { API_KEY_STORAGE, authHeaders, authProblem, getApiKey, keyLabel, setApiKey, type KeyStore } from "../src/auth";
import { parseError } from "../src/logic";

/** A Web Storage with the same semantics as sessionStorage (strings in, strings or null out). */
class MemoryStore implements KeyStore {
  private items = new Map<string, string>();
  getItem(k: string) {
    return this.items.has(k) ? this.items.get(k)! : null;
  }
  setItem(k: string, v: string) {
    this.items.set(k, String(v));
  }
  removeItem(k: string) {
    this.items.delete(k);
  }
}

describe("API key storage and headers", () => {
  it("sends no Authorization header without a key, and Bearer <key> with one", () => {
    const s = new MemoryStore();
    expect(authHeaders(s, { Accept: "text/csv" })).toEqual({ Accept: "text/csv" });
    expect(setApiKey(s, "  lh_abc123  ")).toBeNull();
    expect(s.getItem(API_KEY_STORAGE)).toBe("lh_abc123");
    expect(authHeaders(s, { Accept: "text/csv" })).toEqual({ Accept: "text/csv", Authorization: "Bearer lh_abc123" });
    expect(authHeaders(s)).toEqual({ Authorization: "Bearer lh_abc123" });
  });

  it("clears the key on an empty entry and ignores a blank stored value", () => {
    const s = new MemoryStore();
    setApiKey(s, "k1");
    expect(setApiKey(s, "   ")).toBeNull();
    expect(getApiKey(s)).toBeNull();
    s.setItem(API_KEY_STORAGE, "  ");
    expect(getApiKey(s)).toBeNull();
    expect(authHeaders(s)).toEqual({});
  });

  it("refuses keys a header cannot carry and keeps the old key", () => {
    const s = new MemoryStore();
    setApiKey(s, "good");
    expect(setApiKey(s, "two words")).toMatch(/printable ASCII/);
    expect(setApiKey(s, "ключ")).toMatch(/printable ASCII/);
    expect(setApiKey(s, "a\nb")).toMatch(/printable ASCII/);
    expect(getApiKey(s)).toBe("good");
  });

  it("labels the header button with the key's last characters only", () => {
    const s = new MemoryStore();
    expect(keyLabel(s)).toBe("API key");
    setApiKey(s, "lh_secret_9f3a");
    expect(keyLabel(s)).toBe("API key …9f3a");
    expect(keyLabel(s)).not.toContain("secret");
  });
});

describe("what 401 and 403 mean", () => {
  const body = (message: string, code: string) => JSON.stringify({ error: { code, message, request_id: "r-1" } });

  // What the app shows for a 401/403: the kind of notice, its title and a part of its detail.
  const cases = [
    { name: "401 without a key asks for one, with the server's reason", status: 401, text: body("missing API key", "unauthenticated"), keySent: false, kind: "key-required", title: "An API key is required", detail: "missing API key" },
    { name: "401 with a key says the key was rejected", status: 401, text: body("invalid API key", "unauthenticated"), keySent: true, kind: "key-required", title: "The API key was not accepted" },
    { name: "403 says not allowed, never asks for a key again", status: 403, text: body("key 'ci' may not delete datasets", "permission_denied"), keySent: true, kind: "forbidden", title: "Not allowed", detail: "may not delete datasets" },
    { name: "a 401 without a JSON body (a proxy) still asks for a key", status: 401, text: "Unauthorized", keySent: false, kind: "key-required", detail: "Unauthorized" },
  ];
  it.each(cases)("$name", ({ status, text, keySent, kind, title, detail }) => {
    const p = authProblem(parseError(status, text), keySent);
    expect(p?.kind).toBe(kind);
    if (title !== undefined) expect(p?.title).toBe(title);
    if (detail !== undefined) expect(p?.detail).toContain(detail);
  });

  it("other errors are not about the key", () => {
    for (const status of [0, 400, 404, 408, 413, 429, 500, 503]) {
      expect(authProblem(parseError(status, body("x", "y")), true)).toBeNull();
    }
  });
});
