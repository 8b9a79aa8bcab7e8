// The Lakehouse web UI: a small single-page app over the HTTP API (docs/api.md).
// Pages: /datasets (list), /datasets/NAME (schema, versions, preview), /upload, /sql, /status.
import "./style.css";
import * as api from "./api";
import { errorBox, h, save } from "./dom";
import { installKeyPrompt } from "./keyprompt";
import { formatBytes, formatCount, formatMs, schemaDiff, datasetNameFromFile, formatFromFileName, isValidDatasetName } from "./logic";
import { ResultView } from "./results";
import { searchPage } from "./search";
import { SqlPage } from "./sql";

const main = document.getElementById("main")!;
let sqlPage: SqlPage | null = null;

export function navigate(path: string) {
  history.pushState(null, "", path);
  route();
}

document.addEventListener("click", (ev) => {
  const a = (ev.target as HTMLElement).closest("a");
  if (!a || a.target || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
  const href = a.getAttribute("href");
  if (!href || !href.startsWith("/") || href.startsWith("/api/")) return;
  ev.preventDefault();
  navigate(href);
});
window.addEventListener("popstate", route);

function setActive(section: string) {
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.getAttribute("data-section") === section));
}

function route() {
  const path = location.pathname;
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const section = parts[0] ?? "datasets";
  setActive(section);
  if (section === "sql") {
    sqlPage ??= new SqlPage();
    main.replaceChildren(sqlPage.el);
    sqlPage.onShow(new URLSearchParams(location.search).get("q"));
    document.title = "SQL - Lakehouse";
    return;
  }
  main.replaceChildren();
  if (section === "datasets" && parts[1]) void datasetPage(parts[1]);
  else if (section === "upload") uploadPage(new URLSearchParams(location.search).get("name") ?? "");
  else if (section === "status") void statusPage();
  else if (section === "search") void searchPage(main);
  else void datasetsPage();
}

// ---- Datasets list -------------------------------------------------------------------------

async function datasetsPage() {
  document.title = "Datasets - Lakehouse";
  const search = h("input", { type: "search", placeholder: "Filter datasets", "aria-label": "Filter datasets", class: "search" });
  const body = h("tbody");
  const table = h(
    "table",
    { class: "list", "aria-label": "Datasets" },
    h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", { class: "num" }, "Rows"), h("th", { class: "num" }, "Size"), h("th", { class: "num" }, "Version"), h("th", {}, "Updated"))),
    body,
  );
  const status = h("p", { class: "muted" }, "Loading…");
  main.append(h("div", { class: "page-head" }, h("h1", {}, "Datasets"), search, h("a", { href: "/upload", class: "button primary" }, "Upload")), status, table);
  try {
    const list = await api.listDatasets();
    const render = () => {
      const q = search.value.toLowerCase();
      body.replaceChildren(
        ...list
          .filter((d) => d.name.includes(q))
          .map((d) =>
            h(
              "tr",
              {},
              h("td", {}, h("a", { href: `/datasets/${d.name}` }, d.name)),
              h("td", { class: "num" }, formatCount(d.rows)),
              h("td", { class: "num" }, formatBytes(d.bytes)),
              h("td", { class: "num" }, `v${d.version}`),
              h("td", { title: d.updated }, relTime(d.updated)),
            ),
          ),
      );
    };
    search.oninput = render;
    render();
    status.textContent = list.length ? `${list.length} dataset${list.length === 1 ? "" : "s"}` : "No datasets yet: upload a Parquet, CSV or JSON file.";
  } catch (e) {
    status.replaceWith(errorBox(e));
  }
}

function relTime(iso: string): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return iso;
  const s = (Date.now() - t) / 1000;
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(t).toISOString().slice(0, 16).replace("T", " ");
}

// ---- One dataset ---------------------------------------------------------------------------

async function datasetPage(name: string) {
  document.title = `${name} - Lakehouse`;
  main.append(h("p", { class: "muted" }, "Loading…"));
  let d: api.DatasetDetail;
  try {
    d = await api.getDataset(name);
  } catch (e) {
    main.replaceChildren(h("h1", {}, name), errorBox(e), h("p", {}, h("a", { href: "/datasets" }, "All datasets")));
    return;
  }
  const preview = new ResultView({ compact: true });
  const previewTitle = h("h2", {}, "Preview");
  const showVersion = (v: number | null) => {
    previewTitle.textContent = v === null ? "Preview (head)" : `Preview of version ${v} (time travel)`;
    const q = v === null ? `SELECT * FROM "${name}" LIMIT 1000` : `SELECT * FROM dataset_version('${name}', ${v}) LIMIT 1000`;
    void preview.run(q);
  };

  const schema = h(
    "table",
    { class: "list", "aria-label": "Schema" },
    h("thead", {}, h("tr", {}, h("th", {}, "Column"), h("th", {}, "Type"), h("th", {}, "Nullable"))),
    h("tbody", {}, ...d.schema.map((c) => h("tr", {}, h("td", {}, c.name), h("td", { class: "mono" }, c.type), h("td", {}, c.nullable === false ? "no" : "yes")))),
  );

  const compareA = h("select", { "aria-label": "Compare from version" });
  const compareB = h("select", { "aria-label": "Compare to version" });
  const live = d.versions.filter((v) => !v.tombstone);
  for (const v of live) {
    compareA.append(h("option", { value: v.version }, `v${v.version}`));
    compareB.append(h("option", { value: v.version }, `v${v.version}`));
  }
  if (live.length > 1) compareA.value = String(live[live.length - 2].version);
  compareB.value = String(d.version);
  const diffOut = h("div", { class: "diff" });
  const compare = async () => {
    diffOut.replaceChildren(h("span", { class: "muted" }, "Comparing…"));
    try {
      const [a, b] = await Promise.all([api.getVersion(name, Number(compareA.value)), api.getVersion(name, Number(compareB.value))]);
      const sd = schemaDiff(a.schema, b.schema);
      const dr = b.row_count - a.row_count;
      diffOut.replaceChildren(
        h("p", {}, `Rows: ${formatCount(a.row_count)} → ${formatCount(b.row_count)} (${dr >= 0 ? "+" : ""}${formatCount(dr)}); objects: ${a.objects.length} → ${b.objects.length}; schema version ${a.schema_version} → ${b.schema_version}`),
        sd.added.length || sd.removed.length || sd.changed.length
          ? h("ul", {}, ...sd.added.map((x) => h("li", { class: "added" }, "+ " + x)), ...sd.removed.map((x) => h("li", { class: "removed" }, "- " + x)), ...sd.changed.map((x) => h("li", { class: "changed" }, "~ " + x)))
          : h("p", { class: "muted" }, "Same schema."),
      );
    } catch (e) {
      diffOut.replaceChildren(errorBox(e));
    }
  };

  const timeline = h(
    "ol",
    { class: "timeline", "aria-label": "Versions" },
    ...[...d.versions].reverse().map((v) =>
      h(
        "li",
        { class: v.tombstone ? "tombstone" : "" },
        h("span", { class: "ver" }, `v${v.version}`),
        h("span", { class: "op" }, v.operation),
        h("span", { class: "num" }, `${formatCount(v.rows)} rows`),
        h("span", { class: "muted", title: v.created_at }, relTime(v.created_at)),
        v.tombstone ? null : h("button", { class: "link", onclick: () => showVersion(v.version), "aria-label": `Preview version ${v.version}` }, "Preview"),
      ),
    ),
  );

  const linkOut = h("div", { class: "links" });
  const presignBtn = h("button", {}, "Presigned link");
  presignBtn.onclick = async () => {
    try {
      const r = await api.presign(name);
      linkOut.replaceChildren(
        ...r.objects.map((o) => {
          const input = h("input", { readonly: true, value: o.url, class: "mono", "aria-label": `Presigned URL of object ${o.index}` });
          return h("div", {}, input, h("button", { onclick: () => void navigator.clipboard?.writeText(o.url) }, "Copy"), ` ${formatBytes(o.size)}, ${formatCount(o.rows)} rows, valid 1 h`);
        }),
      );
    } catch (e) {
      linkOut.replaceChildren(errorBox(e));
    }
  };
  const objects: any[] = d.head?.objects ?? [];
  // fetch + blob, not <a href>: a link cannot send the API key.
  const downloads = objects.map((o, i) => {
    const b = h("button", { class: "button", "data-object": String(i) }, objects.length > 1 ? `Download part ${i + 1}` : "Download Parquet");
    b.onclick = async () => {
      b.disabled = true;
      try {
        save(await api.fetchBlob(`/api/v1/datasets/${encodeURIComponent(name)}/data?version=${d.version}&object=${i}`), `${name}-v${d.version}-${i}.parquet`);
      } catch (e) {
        linkOut.replaceChildren(errorBox(e));
      } finally {
        b.disabled = false;
      }
    };
    return b;
  });

  const del = h("button", { class: "danger" }, "Delete…");
  del.onclick = () => confirmDelete(name);

  main.replaceChildren(
    h(
      "div",
      { class: "page-head" },
      h("h1", {}, name),
      h("span", { class: "badge" }, `v${d.version}`),
      h("span", { class: "muted" }, `${formatCount(d.rows)} rows · ${formatBytes(d.bytes)} · updated ${relTime(d.updated)}`),
      h("a", { class: "button", href: `/sql?q=${encodeURIComponent(`SELECT * FROM ${name} LIMIT 100`)}` }, "Query"),
      h("a", { class: "button", href: `/upload?name=${name}` }, "Append / replace"),
      ...downloads,
      presignBtn,
      del,
    ),
    linkOut,
    h(
      "div",
      { class: "cols" },
      h("section", {}, h("h2", {}, "Schema"), schema, h("p", { class: "muted mono small", title: "SHA-256 of the canonical schema" }, `fingerprint ${d.fingerprint.slice(0, 16)}… · schema version ${d.schema_version}`)),
      h(
        "section",
        {},
        h("h2", {}, "Versions"),
        timeline,
        h("div", { class: "compare" }, "Compare ", compareA, " with ", compareB, " ", h("button", { onclick: compare }, "Compare")),
        diffOut,
      ),
    ),
    previewTitle,
    preview.el,
  );
  showVersion(null);
}

function confirmDelete(name: string) {
  const input = h("input", { "aria-label": "Type the dataset name to confirm", placeholder: name });
  const ok = h("button", { class: "danger", disabled: true }, "Delete");
  const err = h("div");
  const dlg = h(
    "dialog",
    { class: "dialog" },
    h("h2", {}, `Delete ${name}?`),
    h("p", {}, "The dataset disappears from the list and its history with it. Type its name to confirm."),
    input,
    err,
    h("div", { class: "actions" }, h("button", { onclick: () => dlg.close() }, "Cancel"), ok),
  );
  input.oninput = () => (ok.disabled = input.value !== name);
  ok.onclick = async () => {
    try {
      await api.deleteDataset(name);
      dlg.close();
      navigate("/datasets");
    } catch (e) {
      err.replaceChildren(errorBox(e));
    }
  };
  dlg.addEventListener("close", () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  input.focus();
}

// ---- Upload --------------------------------------------------------------------------------

function uploadPage(initialName: string) {
  document.title = "Upload - Lakehouse";
  let file: File | null = null;
  const fileInput = h("input", { type: "file", accept: ".parquet,.csv,.tsv,.json,.ndjson,.jsonl", "aria-label": "File to upload", id: "upload-file" });
  const drop = h("label", { class: "drop", for: "upload-file" }, h("strong", {}, "Drop a Parquet, CSV, JSON or NDJSON file here"), h("span", { class: "muted" }, "or click to choose one"));
  const name = h("input", { value: initialName, "aria-label": "Dataset name", placeholder: "dataset_name", pattern: "[a-z][a-z0-9_]{0,62}" });
  const mode = h("select", { "aria-label": "Upload mode" }, h("option", { value: "create" }, "Create new dataset"), h("option", { value: "append" }, "Append to dataset"), h("option", { value: "replace" }, "Replace dataset"));
  if (initialName) mode.value = "append";
  const start = h("button", { class: "primary", disabled: true }, "Upload");
  const cancel = h("button", { hidden: true }, "Cancel");
  const bar = h("progress", { max: 1, value: 0, "aria-label": "Upload progress" });
  const label = h("div", { class: "progress-label", "aria-live": "polite" });
  const out = h("div");
  const pick = (f: File | undefined) => {
    if (!f) return;
    file = f;
    drop.querySelector("strong")!.textContent = `${f.name} (${formatBytes(f.size)})`;
    if (!name.value) name.value = datasetNameFromFile(f.name);
    start.disabled = false;
  };
  fileInput.onchange = () => pick(fileInput.files?.[0]);
  drop.ondragover = (e) => {
    e.preventDefault();
    drop.classList.add("over");
  };
  drop.ondragleave = () => drop.classList.remove("over");
  drop.ondrop = (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    pick(e.dataTransfer?.files?.[0]);
  };
  start.onclick = () => {
    if (!file) return;
    out.replaceChildren();
    if (!isValidDatasetName(name.value)) {
      out.replaceChildren(h("div", { class: "error", role: "alert" }, `"${name.value}" is not a valid dataset name: use a lower-case letter, then letters, digits or _ (at most 63).`));
      return;
    }
    const t0 = performance.now();
    const handle = api.upload(
      file,
      name.value,
      mode.value as api.UploadMode,
      formatFromFileName(file.name),
      (sent, total) => {
        bar.max = total || 1;
        bar.value = sent;
        const secs = (performance.now() - t0) / 1000;
        label.textContent = `Sending ${formatBytes(sent)} of ${formatBytes(total)} (${Math.round((100 * sent) / (total || 1))}%) · ${formatBytes(sent / Math.max(secs, 0.001))}/s`;
      },
      () => {
        bar.removeAttribute("value");
        label.textContent = "Sent; the server is converting and committing…";
        cancel.hidden = true; // every byte is sent: the server finishes the commit either way
      },
    );
    start.disabled = true;
    cancel.hidden = false;
    cancel.onclick = () => handle.cancel();
    handle.promise
      .then((m) => {
        bar.max = 1;
        bar.value = 1;
        label.textContent = `Done in ${formatMs(performance.now() - t0)}: ${m.dataset} v${m.version}, ${formatCount(m.row_count)} rows (${m.ingest?.format ?? ""}).`;
        out.replaceChildren(h("p", { class: "ok" }, "Uploaded. ", h("a", { href: `/datasets/${m.dataset}` }, `Open ${m.dataset}`)));
      })
      .catch((e) => {
        bar.max = 1;
        bar.value = 0;
        label.textContent = e.name === "AbortError" ? "Cancelled: nothing was stored." : "Upload failed.";
        if (e.name !== "AbortError") out.replaceChildren(errorBox(e));
      })
      .finally(() => {
        start.disabled = false;
        cancel.hidden = true;
      });
  };
  main.append(
    h("div", { class: "page-head" }, h("h1", {}, "Upload")),
    h("div", { class: "upload" }, drop, fileInput, h("div", { class: "row" }, h("label", {}, "Name ", name), h("label", {}, "Mode ", mode), start, cancel), bar, label, out),
  );
}

// ---- Status --------------------------------------------------------------------------------

async function statusPage() {
  document.title = "Status - Lakehouse";
  main.append(h("div", { class: "page-head" }, h("h1", {}, "Status")));
  try {
    const hres = await api.health();
    const rows = Object.entries<any>(hres.services ?? {}).map(([svc, info]) => {
      const { status, ...rest } = info ?? {};
      return h("tr", {}, h("td", {}, svc), h("td", {}, h("span", { class: `badge ${status === "ok" ? "ok" : "warn"}` }, String(status))), h("td", { class: "mono small" }, JSON.stringify(rest)));
    });
    main.append(
      h("p", {}, `Server ${hres.status} · version ${hres.version}`),
      h("table", { class: "list", "aria-label": "Services" }, h("thead", {}, h("tr", {}, h("th", {}, "Service"), h("th", {}, "Status"), h("th", {}, "Details"))), h("tbody", {}, ...rows)),
    );
  } catch (e) {
    main.append(errorBox(e));
  }
}

// ---- Theme ---------------------------------------------------------------------------------

const themeBtn = document.getElementById("theme")!;
function applyTheme(t: string | null) {
  if (t) document.documentElement.dataset.theme = t;
  else delete document.documentElement.dataset.theme;
}
applyTheme(localStorage.getItem("lakehouse.theme"));
themeBtn.onclick = () => {
  const dark = document.documentElement.dataset.theme ? document.documentElement.dataset.theme === "dark" : matchMedia("(prefers-color-scheme: dark)").matches;
  const next = dark ? "light" : "dark";
  localStorage.setItem("lakehouse.theme", next);
  applyTheme(next);
};

installKeyPrompt(() => route());
route();
