// Semantic search (docs/api/ai.md): pick a vectors dataset (made by an embedding job), search it,
// see the matching source rows; or start an embedding job on a text column with live progress.
import * as api from "./api";
import { errorBox, h } from "./dom";
import { formatCount } from "./logic";
import { ResultView } from "./results";

interface VectorSet {
  name: string;
  source: string;
  column: string;
  model: string;
  key: string | null;
  sourceVersion: string;
}

function quoteIdent(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

function sqlLiteral(v: unknown): string {
  return typeof v === "number" || typeof v === "bigint" ? String(v) : `'${String(v).replace(/'/g, "''")}'`;
}

export async function searchPage(main: HTMLElement) {
  document.title = "Search - Lakehouse";
  main.append(h("div", { class: "page-head" }, h("h1", {}, "Semantic search")));
  let details: api.DatasetDetail[];
  try {
    const list = await api.listDatasets();
    details = (await Promise.all(list.slice(0, 200).map((d) => api.getDataset(d.name).catch(() => null)))).filter((d): d is api.DatasetDetail => d !== null);
  } catch (e) {
    main.append(errorBox(e));
    return;
  }
  const vectors: VectorSet[] = details
    .filter((d) => d.head?.properties?.["embedding.source_dataset"])
    .map((d) => {
      const p = d.head.properties;
      return { name: d.name, source: p["embedding.source_dataset"], column: p["embedding.source_column"], model: p["embedding.model"], key: p["embedding.key_column"] ?? null, sourceVersion: p["embedding.source_version"] };
    });

  // ---- search ----
  const setSel = h("select", { "aria-label": "Vectors to search" }, ...vectors.map((v) => h("option", { value: v.name }, `${v.source}.${v.column} (${v.model})`)));
  const query = h("input", { type: "search", placeholder: "Search by meaning…", "aria-label": "Search text", class: "search" });
  const k = h("input", { type: "number", min: 1, max: 1000, value: 10, "aria-label": "Results", style: "width:70px" });
  const go = h("button", { class: "primary" }, "Search");
  const results = h("div");
  const rows = new ResultView({ compact: true });
  const run = async () => {
    const v = vectors.find((x) => x.name === setSel.value);
    if (!v || !query.value.trim()) return;
    results.replaceChildren(h("p", { class: "muted" }, "Searching…"));
    try {
      const r = await api.getJson<any>("/api/v1/search", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ dataset: v.name, query: query.value, k: Number(k.value) || 10 }) });
      const hits: any[] = r.results ?? [];
      results.replaceChildren(
        h("p", { class: "muted" }, `${hits.length} result${hits.length === 1 ? "" : "s"} · model ${r.model}`),
        h(
          "table",
          { class: "list", "aria-label": "Search results" },
          h("thead", {}, h("tr", {}, h("th", { class: "num" }, "Score"), h("th", { class: "num" }, "Row"), v.key ? h("th", {}, v.key) : null, h("th", {}, v.column))),
          h("tbody", {}, ...hits.map((x) => h("tr", {}, h("td", { class: "num" }, Number(x.score).toFixed(3)), h("td", { class: "num" }, String(x.row)), v.key ? h("td", {}, String(x.key)) : null, h("td", {}, String(x.text))))),
        ),
      );
      if (v.key && hits.length) {
        results.append(h("h2", {}, `Matching rows of ${v.source} (version ${v.sourceVersion})`), rows.el);
        const keys = hits.map((x) => sqlLiteral(x.key)).join(", ");
        void rows.run(`SELECT * FROM dataset_version(${sqlLiteral(v.source)}, ${Number(v.sourceVersion)}) WHERE ${quoteIdent(v.key)} IN (${keys}) ORDER BY list_position([${keys}], ${quoteIdent(v.key)})`);
      }
    } catch (e) {
      results.replaceChildren(errorBox(e));
    }
  };
  go.onclick = () => void run();
  query.onkeydown = (e) => {
    if (e.key === "Enter") void run();
  };
  main.append(
    vectors.length
      ? h("section", {}, h("div", { class: "toolbar" }, setSel, query, h("label", {}, "k ", k), go), results)
      : h("p", { class: "muted" }, "No dataset has embeddings yet: create them below from a text column."),
  );

  // ---- embedding job ----
  const sources = details.filter((d) => !d.head?.properties?.["embedding.source_dataset"]);
  const srcSel = h("select", { "aria-label": "Dataset to embed" }, ...sources.map((d) => h("option", { value: d.name }, d.name)));
  const colSel = h("select", { "aria-label": "Text column" });
  const keySel = h("select", { "aria-label": "Key column" });
  const fillColumns = () => {
    const d = sources.find((x) => x.name === srcSel.value);
    const cols = d?.schema ?? [];
    colSel.replaceChildren(...cols.filter((c) => c.type === "VARCHAR").map((c) => h("option", { value: c.name }, c.name)));
    keySel.replaceChildren(h("option", { value: "" }, "(none)"), ...cols.filter((c) => c.type !== "VARCHAR" || c.name !== colSel.value).map((c) => h("option", { value: c.name }, c.name)));
  };
  srcSel.onchange = fillColumns;
  fillColumns();
  const start = h("button", {}, "Create embeddings");
  const bar = h("progress", { max: 1, value: 0, "aria-label": "Embedding progress", hidden: true });
  const status = h("div", { "aria-live": "polite" });
  start.onclick = async () => {
    if (!colSel.value) {
      status.replaceChildren(h("div", { class: "error", role: "alert" }, "This dataset has no text (VARCHAR) column to embed."));
      return;
    }
    start.disabled = true;
    status.replaceChildren();
    bar.hidden = false;
    try {
      const body: Record<string, unknown> = { column: colSel.value, wait: false };
      if (keySel.value) body.key = keySel.value;
      let job = await api.getJson<any>(`/api/v1/datasets/${encodeURIComponent(srcSel.value)}/embeddings`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      while (job.state === "running" || job.state === "queued") {
        bar.max = job.rows_total || 1;
        bar.value = job.rows_done || 0;
        status.textContent = `Embedding ${formatCount(job.rows_done ?? 0)} of ${formatCount(job.rows_total ?? 0)} rows…`;
        await new Promise((r) => setTimeout(r, 400));
        job = await api.getJson<any>(job.status_url ?? `/api/v1/ai/jobs/${job.id}`);
      }
      if (job.state !== "succeeded") throw new Error(job.error?.message ?? `the job ended as ${job.state}`);
      bar.max = 1;
      bar.value = 1;
      status.replaceChildren(h("p", { class: "ok" }, `Embedded ${formatCount(job.rows_done)} rows into ${job.target} (${job.model}, ${job.dim}-d) in ${Number(job.seconds).toFixed(1)} s. `), h("a", { href: "/search" }, "Search them"));
    } catch (e) {
      bar.hidden = true;
      status.replaceChildren(errorBox(e));
    } finally {
      start.disabled = false;
    }
  };
  main.append(h("h2", {}, "Create embeddings"), h("div", { class: "toolbar" }, h("label", {}, "Dataset ", srcSel), h("label", {}, "Text column ", colSel), h("label", {}, "Key ", keySel), start), bar, status);
}
