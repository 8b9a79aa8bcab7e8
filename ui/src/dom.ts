// Tiny DOM helpers shared by the pages.
import { ApiError } from "./api";
import { authProblem } from "./auth";

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, any> = {},
  ...children: (Node | string | null | undefined | false)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) (el as any)[k] = v;
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

export function errorBox(e: unknown): HTMLElement {
  const problem = e instanceof ApiError ? authProblem(e.err, e.keySent) : null;
  if (problem) {
    const box = h("div", { class: "error auth", role: "alert", "data-auth": problem.kind }, h("strong", {}, problem.title + ": "), problem.detail);
    if (problem.kind === "key-required") {
      box.append(" ", h("button", { onclick: () => window.dispatchEvent(new CustomEvent("lakehouse:key-prompt")) }, "Enter API key"));
    }
    return box;
  }
  if (e instanceof ApiError) {
    return h("div", { class: "error", role: "alert" }, h("strong", {}, `${e.err.status || ""} ${e.err.code}`.trim() + ": "), e.err.message);
  }
  return h("div", { class: "error", role: "alert" }, String((e as Error)?.message ?? e));
}


/** Saves a blob as a file download. */
export function save(blob: Blob, name: string) {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
