// The result model (Arrow record batches as they arrive) and a virtualised grid over it: only the
// rows in view are in the DOM, so a million rows scroll as smoothly as ten.
import { Type, type DataType, type RecordBatch, type Schema } from "apache-arrow";
import { displayValue, filterRows, sortIndex, summarize, type Cell, type ColumnSummary } from "./logic";

export class ResultModel {
  batches: RecordBatch[] = [];
  offsets: number[] = [0];
  columns: { name: string; type: string; arrow: DataType }[] = [];
  rowCount = 0;
  bytes = 0;

  setSchema(schema: Schema) {
    this.columns = schema.fields.map((f) => ({ name: f.name, type: typeName(f.type), arrow: f.type }));
  }

  add(batch: RecordBatch, bytes: number) {
    this.batches.push(batch);
    this.rowCount += batch.numRows;
    this.offsets.push(this.rowCount);
    this.bytes = bytes;
  }

  /** The cell at (row, column) as a JS value (bigints for 64-bit integers, ISO text for times). */
  cell(row: number, col: number): Cell {
    let lo = 0, hi = this.batches.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.offsets[mid] <= row) lo = mid;
      else hi = mid - 1;
    }
    const batch = this.batches[lo];
    const vec = batch.getChildAt(col);
    if (!vec) return null;
    const v = vec.get(row - this.offsets[lo]);
    return convert(v, this.columns[col].arrow);
  }

  column(col: number): Cell[] {
    const out: Cell[] = new Array(this.rowCount);
    let r = 0;
    const t = this.columns[col].arrow;
    for (const batch of this.batches) {
      const vec = batch.getChildAt(col)!;
      for (let i = 0; i < batch.numRows; i++) out[r++] = convert(vec.get(i), t);
    }
    return out;
  }

  summary(col: number): ColumnSummary {
    return summarize(this.column(col));
  }
}

/** DuckDB's name for an Arrow type (as the server mapped it, docs/api/query.md). */
export function typeName(t: DataType): string {
  const any = t as any;
  switch (t.typeId) {
    case Type.Int: {
      const names: Record<number, string> = { 8: "TINYINT", 16: "SMALLINT", 32: "INTEGER", 64: "BIGINT" };
      return (any.isSigned ? "" : "U") + names[any.bitWidth as number];
    }
    case Type.Float:
      return any.precision === 0 ? "HALF" : any.precision === 1 ? "FLOAT" : "DOUBLE";
    case Type.Utf8:
    case Type.LargeUtf8:
      return "VARCHAR";
    case Type.Bool:
      return "BOOLEAN";
    case Type.Binary:
    case Type.LargeBinary:
      return "BLOB";
    case Type.Date:
      return "DATE";
    case Type.Time:
      return "TIME";
    case Type.Timestamp:
      return any.timezone ? "TIMESTAMPTZ" : "TIMESTAMP";
    case Type.Decimal:
      return `DECIMAL(${any.precision},${any.scale})`;
    case Type.Interval:
      return "INTERVAL";
    case Type.List:
    case Type.FixedSizeList:
      return `${typeName(any.children[0].type)}[]`;
    case Type.Struct:
      return "STRUCT";
    case Type.Map:
      return "MAP";
    default:
      return String(t);
  }
}

function convert(v: any, t: DataType): Cell {
  if (v === null || v === undefined) return null;
  switch (t.typeId) {
    case Type.Timestamp:
    case Type.Date:
      return typeof v === "number" ? new Date(v).toISOString().replace(/T00:00:00\.000Z$/, "").replace("Z", t.typeId === Type.Timestamp && (t as any).timezone ? "Z" : "") : String(v);
    case Type.Decimal: {
      const scale = (t as any).scale as number;
      let digits = BigInt(String(v)).toString();
      const neg = digits.startsWith("-");
      if (neg) digits = digits.slice(1);
      if (scale > 0) {
        digits = digits.padStart(scale + 1, "0");
        digits = digits.slice(0, digits.length - scale) + "." + digits.slice(digits.length - scale);
      }
      return (neg ? "-" : "") + digits;
    }
    case Type.Int:
      return typeof v === "bigint" && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    case Type.List:
    case Type.FixedSizeList:
    case Type.Struct:
    case Type.Map:
      return typeof v.toJSON === "function" ? v.toJSON() : v;
    default:
      return v;
  }
}

const ROW_H = 24;

export interface GridOptions {
  onSummary: (col: number) => void;
}

/** A virtualised table: header (click to sort), body of absolutely placed rows. */
export class Grid {
  readonly el: HTMLElement;
  private body: HTMLElement;
  private spacer: HTMLElement;
  private header: HTMLElement;
  private view: Uint32Array | null = null;
  private sortCol = -1;
  private sortDesc = false;
  private filter = "";
  private widths: number[] = [];
  private raf = 0;
  private sized = false;

  constructor(private model: ResultModel, private opts: GridOptions) {
    this.el = document.createElement("div");
    this.el.className = "grid";
    this.el.tabIndex = 0;
    this.el.setAttribute("role", "grid");
    this.header = document.createElement("div");
    this.header.className = "grid-head";
    this.body = document.createElement("div");
    this.body.className = "grid-rows";
    this.spacer = document.createElement("div");
    this.spacer.className = "grid-spacer";
    this.body.appendChild(this.spacer);
    this.el.append(this.header, this.body);
    this.body.addEventListener("scroll", () => {
      this.header.scrollLeft = this.body.scrollLeft;
      this.schedule();
    });
    new ResizeObserver(() => this.schedule()).observe(this.body);
  }

  get visibleRows(): number {
    return this.view ? this.view.length : this.model.rowCount;
  }

  /** Call after the schema or new batches arrive. */
  refresh() {
    if (this.widths.length !== this.model.columns.length || (!this.sized && this.model.rowCount > 0)) this.renderHeader();
    this.schedule();
  }

  setFilter(text: string) {
    this.filter = text;
    this.recompute();
  }

  sortBy(col: number) {
    if (this.sortCol === col) {
      if (this.sortDesc) this.sortCol = -1;
      else this.sortDesc = true;
    } else {
      this.sortCol = col;
      this.sortDesc = false;
    }
    this.recompute();
    this.renderHeader();
  }

  /** The displayed rows' model indices, in order (for export of a sorted/filtered view). */
  order(): Uint32Array | null {
    return this.view;
  }

  private recompute() {
    let view: Uint32Array | null = null;
    if (this.filter) view = filterRows(this.model.rowCount, this.model.columns.length, (r, c) => this.model.cell(r, c), this.filter);
    if (this.sortCol >= 0) view = sortIndex(this.model.column(this.sortCol), this.sortDesc, view ?? undefined);
    this.view = view;
    this.body.scrollTop = 0;
    this.schedule();
  }

  private renderHeader() {
    const cols = this.model.columns;
    // Width from the name, the type and the first rows' text (~7.5 px per character).
    const sample = Math.min(this.model.rowCount, 50);
    this.sized = sample > 0;
    this.widths = cols.map((c, i) => {
      let chars = Math.max(c.name.length + 3, c.type.length);
      for (let r = 0; r < sample; r++) chars = Math.max(chars, displayValue(this.model.cell(r, i)).length);
      return Math.min(360, Math.max(70, chars * 7.5 + 34));
    });
    this.header.replaceChildren();
    const num = document.createElement("div");
    num.className = "cell rownum";
    num.textContent = "#";
    this.header.appendChild(num);
    cols.forEach((c, i) => {
      const h = document.createElement("div");
      h.className = "cell head";
      h.style.width = `${this.widths[i]}px`;
      h.setAttribute("role", "columnheader");
      const b = document.createElement("button");
      b.className = "sort";
      b.title = `Sort by ${c.name}`;
      b.setAttribute("aria-label", `Sort by ${c.name}`);
      const arrow = this.sortCol === i ? (this.sortDesc ? " ↓" : " ↑") : "";
      b.innerHTML = `<span class="cname"></span><span class="ctype"></span>${arrow}`;
      b.querySelector(".cname")!.textContent = c.name;
      b.querySelector(".ctype")!.textContent = c.type;
      b.onclick = () => this.sortBy(i);
      const s = document.createElement("button");
      s.className = "summary-btn";
      s.textContent = "Σ";
      s.title = `Summary of ${c.name}`;
      s.setAttribute("aria-label", `Summary of ${c.name}`);
      s.onclick = () => this.opts.onSummary(i);
      h.append(b, s);
      this.header.appendChild(h);
    });
    const total = this.widths.reduce((a, b) => a + b, 60);
    this.spacer.style.width = `${total}px`;
  }

  private schedule() {
    if (this.raf) return;
    this.raf = requestAnimationFrame(() => {
      this.raf = 0;
      this.draw();
    });
  }

  private draw() {
    const n = this.visibleRows;
    this.spacer.style.height = `${n * ROW_H}px`;
    const top = this.body.scrollTop;
    const height = this.body.clientHeight || 400;
    const first = Math.max(0, Math.floor(top / ROW_H) - 5);
    const last = Math.min(n, Math.ceil((top + height) / ROW_H) + 5);
    const frag = document.createDocumentFragment();
    for (let i = first; i < last; i++) {
      const r = this.view ? this.view[i] : i;
      const row = document.createElement("div");
      row.className = "grow";
      row.setAttribute("role", "row");
      row.style.transform = `translateY(${i * ROW_H}px)`;
      const num = document.createElement("div");
      num.className = "cell rownum";
      num.textContent = String(i + 1);
      row.appendChild(num);
      for (let c = 0; c < this.model.columns.length; c++) {
        const d = document.createElement("div");
        const v = this.model.cell(r, c);
        d.className = v === null || v === undefined ? "cell null" : typeof v === "number" || typeof v === "bigint" ? "cell num" : "cell";
        d.style.width = `${this.widths[c]}px`;
        d.textContent = displayValue(v);
        row.appendChild(d);
      }
      frag.appendChild(row);
    }
    this.body.replaceChildren(this.spacer, frag);
  }
}
