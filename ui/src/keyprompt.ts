// The API key prompt: a dialog opened by the header's key button, by "Enter API key" in an error,
// and by any 401 (api.ts raises "lakehouse:auth"); a 403 shows a "not allowed" notice instead.
import type { ApiError } from "./api";
import { authProblem, getApiKey, keyLabel, setApiKey } from "./auth";
import { h } from "./dom";

export function installKeyPrompt(onKeyChanged: () => void) {
  const header = document.querySelector("header.top")!;
  const button = h("button", { id: "api-key", class: "link", title: "Set the API key this tab sends" }, keyLabel(sessionStorage));
  header.insertBefore(button, document.getElementById("theme"));

  const reason = h("p", { class: "muted", id: "api-key-reason" });
  const input = h("input", { type: "password", id: "api-key-input", autocomplete: "off", spellcheck: "false", "aria-label": "API key" });
  const problem = h("p", { class: "error", role: "alert", hidden: true });
  const form = h(
    "form",
    { method: "dialog" },
    h("h2", {}, "API key"),
    reason,
    h("label", { for: "api-key-input" }, "Key (kept in this tab's session storage, sent as Authorization: Bearer)"),
    input,
    problem,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", class: "primary", value: "save" }, "Save"),
      h("button", { type: "button", value: "clear", onclick: () => finish("") }, "Forget key"),
      h("button", { type: "button", value: "cancel", onclick: () => dialog.close() }, "Cancel"),
    ),
  );
  const dialog = h("dialog", { id: "api-key-dialog", class: "dialog", "aria-labelledby": "api-key-title" }, form);
  form.querySelector("h2")!.id = "api-key-title";
  document.body.append(dialog);

  const notice = h("div", { class: "error auth-notice", role: "alert", id: "auth-notice", hidden: true });
  document.querySelector("main")!.before(notice);

  function finish(key: string) {
    const err = setApiKey(sessionStorage, key);
    if (err) {
      problem.textContent = err;
      problem.hidden = false;
      return;
    }
    dialog.close();
    button.textContent = keyLabel(sessionStorage);
    notice.hidden = true;
    onKeyChanged();
  }
  form.onsubmit = (ev) => {
    ev.preventDefault();
    finish(input.value);
  };

  function open(why: string) {
    reason.textContent = why;
    problem.hidden = true;
    input.value = getApiKey(sessionStorage) ?? "";
    if (!dialog.open) dialog.showModal();
    input.focus();
  }
  button.onclick = () => open("Enter the API key to use for this tab, or forget the stored one.");
  window.addEventListener("lakehouse:key-prompt", () => open("Enter the API key to use for this tab."));
  window.addEventListener("lakehouse:auth", (ev) => {
    const e = (ev as CustomEvent<ApiError>).detail;
    const p = authProblem(e.err, e.keySent);
    if (!p) return;
    if (p.kind === "key-required") {
      open(`${p.title}. ${p.detail}`);
    } else {
      notice.replaceChildren(h("strong", {}, `${p.title}: `), p.detail, " ", h("button", { class: "link", onclick: () => (notice.hidden = true) }, "Dismiss"));
      // The page usually shows the same 403 where the action failed (errorBox, rendered by the
      // caller's catch right after this event); the banner is for failures no page shows, so it
      // appears only when, once the caller has had its turn, no such message is on screen.
      notice.hidden = true;
      setTimeout(() => (notice.hidden = document.querySelector("main [data-auth='forbidden']") !== null));
    }
  });
}
