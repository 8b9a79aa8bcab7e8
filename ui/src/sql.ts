// The SQL editor page: CodeMirror 6 tabs (kept in localStorage), Ctrl/Cmd+Enter runs the selection
// or the statement under the cursor, Escape cancels, history survives reloads, errors are marked at
// the position DuckDB reports, and completion knows the datasets and their columns.
import { sql, PostgreSQL } from "@codemirror/lang-sql";
import { setDiagnostics } from "@codemirror/lint";
import { EditorState, Prec } from "@codemirror/state";
import { keymap } from "@codemirror/view";
import { basicSetup, EditorView } from "codemirror";
import * as api from "./api";
import { h } from "./dom";
import { errorPosition, pushHistory, shareUrl, statementAt } from "./logic";
import { ResultView } from "./results";

interface Tab {
  id: number;
  title: string;
  sql: string;
}

const TABS_KEY = "lakehouse.sql.tabs";
const HISTORY_KEY = "lakehouse.sql.history";

function load<T>(key: string, fallback: T): T {
  try {
    const v = localStorage.getItem(key);
    return v ? (JSON.parse(v) as T) : fallback;
  } catch {
    return fallback;
  }
}

export class SqlPage {
  readonly el: HTMLElement;
  private tabs: Tab[] = load<Tab[]>(TABS_KEY, []);
  private active = 0;
  private history: string[] = load<string[]>(HISTORY_KEY, []);
  private view: EditorView;
  private tabBar: HTMLElement;
  private historyList: HTMLElement;
  private results = new Map<number, ResultView>();
  private resultHost: HTMLElement;
  private runBtn: HTMLButtonElement;
  private cancelBtn: HTMLButtonElement;
  private schema: Record<string, string[]> = {};

  constructor() {
    if (this.tabs.length === 0) this.tabs.push({ id: 1, title: "Query 1", sql: "SELECT 42 AS answer" });
    this.tabBar = h("div", { class: "tabs", role: "tablist" });
    this.historyList = h("ol", { class: "history" });
    this.resultHost = h("div", { class: "result-host" });
    this.runBtn = h("button", { class: "primary", title: "Run (Ctrl/Cmd+Enter)" }, "▶ Run");
    this.cancelBtn = h("button", { disabled: true, title: "Cancel (Escape)" }, "Cancel");
    const share = h("button", { title: "Copy a link that opens this query" }, "Share");
    const runKey = Prec.highest(
      keymap.of([
        { key: "Mod-Enter", run: () => (void this.run(), true) },
        { key: "Escape", run: () => (this.cancel(), false) },
      ]),
    );
    this.view = new EditorView({
      parent: h("div"),
      state: this.makeState(this.tabs[0].sql, runKey),
    });
    this.runKey = runKey;
    this.runBtn.onclick = () => void this.run();
    this.cancelBtn.onclick = () => this.cancel();
    share.onclick = () => {
      const url = shareUrl(location.origin, this.view.state.doc.toString());
      history.replaceState(null, "", url.slice(location.origin.length));
      void navigator.clipboard?.writeText(url).catch(() => undefined);
      share.textContent = "Link copied";
      setTimeout(() => (share.textContent = "Share"), 1500);
    };
    const editorBox = h("div", { class: "editor", "aria-label": "SQL editor" });
    editorBox.append(this.view.dom);
    this.el = h(
      "div",
      { class: "sql-page" },
      h(
        "div",
        { class: "sql-top" },
        h("div", { class: "sql-editor-col" }, this.tabBar, editorBox, h("div", { class: "toolbar" }, this.runBtn, this.cancelBtn, share, h("span", { class: "muted small" }, "Ctrl/Cmd+Enter runs the selection or the statement at the cursor; Esc cancels"))),
        h("aside", { class: "sql-side" }, h("h3", {}, "History"), this.historyList),
      ),
      this.resultHost,
    );
    this.renderTabs();
    this.renderHistory();
    this.showResult();
    void this.loadSchema();
  }

  private runKey;

  private makeState(doc: string, runKey: any) {
    return EditorState.create({
      doc,
      extensions: [
        runKey,
        basicSetup,
        sql({ dialect: PostgreSQL, schema: this.schema, upperCaseKeywords: true }),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) {
            this.tabs[this.active].sql = u.state.doc.toString();
            this.saveTabs();
            u.view.dispatch(setDiagnostics(u.state, []));
          }
        }),
      ],
    });
  }

  /** Called each time the page is shown; `q` is a shared query from the URL. */
  onShow(q: string | null) {
    if (q && q !== this.tabs[this.active].sql) {
      const existing = this.tabs.findIndex((t) => t.sql === q);
      if (existing >= 0) this.switchTo(existing);
      else this.newTab(q);
    }
    this.view.focus();
  }

  private async loadSchema() {
    try {
      const list = await api.listDatasets();
      const details = await Promise.all(list.slice(0, 100).map((d) => api.getDataset(d.name).catch(() => null)));
      for (const d of details) if (d) this.schema[d.name] = d.schema.map((c) => c.name);
      const cur = this.view.state.doc.toString();
      this.view.setState(this.makeState(cur, this.runKey));
    } catch {
      /* completion without the catalog */
    }
  }

  private saveTabs() {
    localStorage.setItem(TABS_KEY, JSON.stringify(this.tabs));
  }

  private newTab(text = "") {
    const id = Math.max(0, ...this.tabs.map((t) => t.id)) + 1;
    this.tabs.push({ id, title: `Query ${id}`, sql: text });
    this.saveTabs();
    this.switchTo(this.tabs.length - 1);
  }

  private switchTo(i: number) {
    this.active = i;
    this.view.setState(this.makeState(this.tabs[i].sql, this.runKey));
    this.renderTabs();
    this.showResult();
    this.view.focus();
  }

  private closeTab(i: number) {
    const [t] = this.tabs.splice(i, 1);
    this.results.get(t.id)?.cancel();
    this.results.delete(t.id);
    if (this.tabs.length === 0) this.tabs.push({ id: t.id + 1, title: `Query ${t.id + 1}`, sql: "" });
    this.saveTabs();
    this.switchTo(Math.min(i, this.tabs.length - 1));
  }

  private renderTabs() {
    this.tabBar.replaceChildren(
      ...this.tabs.map((t, i) =>
        h(
          "div",
          { class: i === this.active ? "tab active" : "tab" },
          h("button", { role: "tab", "aria-selected": String(i === this.active), onclick: () => this.switchTo(i) }, t.title),
          h("button", { class: "close", "aria-label": `Close ${t.title}`, onclick: () => this.closeTab(i) }, "×"),
        ),
      ),
      h("button", { class: "tab-add", "aria-label": "New tab", onclick: () => this.newTab() }, "+"),
    );
  }

  private renderHistory() {
    this.historyList.replaceChildren(
      ...this.history.slice(0, 50).map((q) =>
        h(
          "li",
          {},
          h(
            "button",
            {
              class: "link mono small",
              title: q,
              onclick: () => {
                this.view.dispatch({ changes: { from: 0, to: this.view.state.doc.length, insert: q } });
                this.view.focus();
              },
            },
            q.length > 80 ? q.slice(0, 80) + "…" : q,
          ),
        ),
      ),
    );
  }

  private current(): ResultView {
    const id = this.tabs[this.active].id;
    let r = this.results.get(id);
    if (!r) {
      r = new ResultView();
      this.results.set(id, r);
    }
    return r;
  }

  private showResult() {
    this.resultHost.replaceChildren(this.current().el);
    this.setRunning(this.current().running);
  }

  private setRunning(running: boolean) {
    this.runBtn.disabled = running;
    this.cancelBtn.disabled = !running;
  }

  cancel() {
    this.current().cancel();
  }

  async run() {
    const state = this.view.state;
    const sel = state.selection.main;
    const text = state.doc.toString();
    let query: string;
    let offset: number;
    if (!sel.empty) {
      query = state.sliceDoc(sel.from, sel.to);
      offset = sel.from;
    } else {
      query = statementAt(text, sel.head);
      offset = text.indexOf(query);
    }
    if (!query.trim()) return;
    this.history = pushHistory(this.history, query);
    localStorage.setItem(HISTORY_KEY, JSON.stringify(this.history));
    this.renderHistory();
    const view = this.current();
    this.setRunning(true);
    const outcome = await view.run(query);
    if (view === this.current()) this.setRunning(false);
    if (outcome.error) {
      const pos = errorPosition(outcome.error.message, query);
      if (pos !== null && this.view.state.doc.toString() === text) {
        const from = offset + pos;
        const to = Math.min(this.view.state.doc.length, from + Math.max(1, /^\w+/.exec(query.slice(pos))?.[0].length ?? 1));
        this.view.dispatch(setDiagnostics(this.view.state, [{ from, to, severity: "error", message: outcome.error.message }]));
      }
    }
  }
}
