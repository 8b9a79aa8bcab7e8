// A query result: streams the Arrow response into a ResultModel, shows the first rows at once in
// a virtualised grid, then stats, filter, column summary, chart and exports.
import { tableToIPC, Table } from "apache-arrow";
import { ApiError, queryFile, streamQuery } from "./api";
import { errorBox, h, save } from "./dom";
import { Grid, ResultModel } from "./grid";
import { displayValue, formatBytes, formatCount, formatMs, toCsv } from "./logic";

export interface RunOutcome {
  ok: boolean;
  error?: ApiError;
  rows: number;
  ms: number;
}

export class ResultView {
  readonly el: HTMLElement;
  private stats: HTMLElement;
  private content: HTMLElement;
  private tools: HTMLElement;
  private side: HTMLElement;
  private controller: AbortController | null = null;
  model: ResultModel | null = null;
  grid: Grid | null = null;
  private sql = "";
  private chartMode = false;

  constructor(private opts: { compact?: boolean } = {}) {
    this.stats = h("span", { class: "stats", "aria-live": "polite" });
    this.tools = h("span", { class: "tools" });
    this.content = h("div", { class: "result-body" });
    this.side = h("aside", { class: "summary", hidden: true, "aria-label": "Column summary" });
    this.el = h("div", { class: opts.compact ? "result compact" : "result" }, h("div", { class: "result-bar" }, this.stats, this.tools), h("div", { class: "result-main" }, this.content, this.side));
  }

  get running(): boolean {
    return this.controller !== null;
  }

  cancel() {
    this.controller?.abort();
  }

  async run(sql: string, onFirstRows?: () => void): Promise<RunOutcome> {
    this.cancel();
    const controller = new AbortController();
    this.controller = controller;
    this.sql = sql;
    const model = new ResultModel();
    this.model = model;
    const grid = new Grid(model, { onSummary: (c) => this.showSummary(c) });
    this.grid = grid;
    this.side.hidden = true;
    this.chartMode = false;
    this.tools.replaceChildren();
    this.content.replaceChildren(grid.el);
    const t0 = performance.now();
    let first = true;
    let lastDraw = 0;
    this.stats.textContent = "Running…";
    // Read by bench/ui.sh: time to the first rows on screen and to all rows browsable.
    const timing: { firstRowsMs?: number; allRowsMs?: number; rows?: number } = {};
    (window as any).__lakehouseLastRun = timing;
    const update = (done: boolean) => {
      const ms = performance.now() - t0;
      this.stats.textContent = `${formatCount(model.rowCount)} rows · ${formatMs(ms)} · ${formatBytes(model.bytes)}${done ? "" : " · loading…"}`;
      this.stats.dataset.rows = String(model.rowCount);
      this.stats.dataset.done = done ? "1" : "0";
    };
    try {
      await streamQuery(sql, controller.signal, {
        onSchema: (schema) => {
          model.setSchema(schema);
          grid.refresh();
        },
        onBatch: (batch, bytes) => {
          model.add(batch, bytes);
          const now = performance.now();
          if (first || now - lastDraw > 100) {
            grid.refresh();
            update(false);
            lastDraw = now;
          }
          if (first) {
            first = false;
            requestAnimationFrame(() => (timing.firstRowsMs ??= performance.now() - t0));
            onFirstRows?.();
          }
        },
      });
      grid.refresh();
      update(true);
      this.renderTools();
      timing.allRowsMs = performance.now() - t0;
      timing.rows = model.rowCount;
      return { ok: true, rows: model.rowCount, ms: performance.now() - t0 };
    } catch (e) {
      const ms = performance.now() - t0;
      if ((e as Error).name === "AbortError") {
        this.stats.textContent = `Cancelled after ${formatMs(ms)} (${formatCount(model.rowCount)} rows received)`;
        this.stats.dataset.done = "cancelled";
        return { ok: false, rows: model.rowCount, ms };
      }
      this.stats.textContent = "";
      this.stats.dataset.done = "error";
      if (model.rowCount > 0 && !(e instanceof ApiError)) {
        // The stream broke after rows arrived: the server aborts a result it cannot finish.
        this.content.prepend(h("div", { class: "error", role: "alert" }, `The result was cut off after ${formatCount(model.rowCount)} rows: ${(e as Error).message}`));
      } else {
        this.content.replaceChildren(errorBox(e));
      }
      return { ok: false, error: e instanceof ApiError ? e : undefined, rows: model.rowCount, ms };
    } finally {
      if (this.controller === controller) this.controller = null;
    }
  }

  private renderTools() {
    const model = this.model!;
    const grid = this.grid!;
    const filter = h("input", { type: "search", placeholder: "Filter rows", "aria-label": "Filter rows", class: "filter" });
    let timer = 0;
    filter.oninput = () => {
      clearTimeout(timer);
      timer = window.setTimeout(() => {
        grid.setFilter(filter.value);
        this.stats.textContent = this.stats.textContent!.replace(/ · showing .*$/, "") + (filter.value ? ` · showing ${formatCount(grid.visibleRows)}` : "");
      }, 200);
    };
    const view = h("button", { "aria-pressed": "false" }, "Chart");
    view.onclick = () => {
      this.chartMode = !this.chartMode;
      view.textContent = this.chartMode ? "Table" : "Chart";
      view.setAttribute("aria-pressed", String(this.chartMode));
      if (this.chartMode) void this.showChart();
      else this.content.replaceChildren(grid.el);
    };
    const csv = h("button", { title: "Download the rows shown (sorted/filtered) as CSV" }, "CSV");
    csv.onclick = () => {
      const order = grid.order();
      const n = order ? order.length : model.rowCount;
      const text = toCsv(model.columns.map((c) => c.name), n, (r, c) => model.cell(order ? order[r] : r, c));
      save(new Blob([text], { type: "text/csv" }), "result.csv");
    };
    const arrow = h("button", { title: "Download the result as an Arrow IPC stream" }, "Arrow");
    arrow.onclick = () => save(new Blob([tableToIPC(new Table(model.batches), "stream") as BlobPart], { type: "application/vnd.apache.arrow.stream" }), "result.arrows");
    const report = (e: unknown) => this.tools.append(errorBox(e));
    const serverCsv = h("button", { title: "Run the query again on the server and download its CSV (all rows, server formatting)" }, "CSV (server)");
    serverCsv.onclick = () => void downloadFromServer(this.sql, "csv", "result.csv", serverCsv, report);
    const parquet = h("button", { title: "Run the query again on the server and download the result as Parquet (all rows, DuckDB's types)" }, "Parquet");
    parquet.onclick = () => void downloadFromServer(this.sql, "parquet", "result.parquet", parquet, report);
    this.tools.replaceChildren(filter, view, h("span", { class: "muted" }, "Export:"), csv, serverCsv, parquet, arrow);
  }

  private showSummary(col: number) {
    const model = this.model!;
    const c = model.columns[col];
    const s = model.summary(col);
    const items: [string, string][] = [
      ["Type", c.type],
      ["Values", formatCount(s.count)],
      ["Nulls", `${formatCount(s.nulls)} (${model.rowCount ? ((100 * s.nulls) / model.rowCount).toFixed(1) : 0}%)`],
      ["Distinct", `${s.distinctExact ? "" : "≥ "}${formatCount(s.distinct)}`],
      ["Min", displayValue(s.min)],
      ["Max", displayValue(s.max)],
    ];
    const hist = s.histogram ?? s.top?.map((t) => ({ lo: 0, hi: 0, count: t.count, label: t.value }));
    const peak = Math.max(1, ...(hist ?? []).map((b) => b.count));
    const parts: (HTMLElement | null)[] = [
      h("div", { class: "summary-head" }, h("h3", {}, c.name), h("button", { class: "link", "aria-label": "Close summary", onclick: () => (this.side.hidden = true) }, "×")),
      h("dl", {}, ...items.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
      hist
        ? h(
            "div",
            { class: "hist", "aria-label": "Histogram" },
            ...hist.map((b: any) =>
              h("div", { class: "bar", title: `${b.label ?? `${b.lo.toPrecision(4)} – ${b.hi.toPrecision(4)}`}: ${b.count}` }, h("div", { style: `height:${(100 * b.count) / peak}%` })),
            ),
          )
        : null,
      s.top ? h("ol", { class: "top small" }, ...s.top.map((t) => h("li", {}, `${t.value} (${formatCount(t.count)})`))) : null,
    ];
    this.side.replaceChildren(...parts.filter((p): p is HTMLElement => p !== null));
    this.side.hidden = false;
  }

  private async showChart() {
    const { renderChart } = await import("./chart");
    this.content.replaceChildren(renderChart(this.model!));
  }
}

/** Runs the query again on the server in `format` and saves the file; errors show next to the tools. */
async function downloadFromServer(sql: string, format: string, name: string, button: HTMLButtonElement, report: (e: unknown) => void) {
  button.disabled = true;
  try {
    save(await queryFile(sql, format), name);
  } catch (e) {
    report(e);
  } finally {
    button.disabled = false;
  }
}
