// Charts of a result with uPlot (ADR 0008: smallest bundle, fastest on large series). Loaded on
// demand, so the first page does not pay for it.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { h } from "./dom";
import type { ResultModel } from "./grid";
import { isNumericType, pickAxes, summarize } from "./logic";

const KINDS = ["line", "bar", "scatter", "area", "histogram"] as const;
type Kind = (typeof KINDS)[number];
const MAX_POINTS = 200000;

export function renderChart(model: ResultModel): HTMLElement {
  const types = model.columns.map((c) => c.type);
  const duck = model.columns.map((c) => (isNumericType(c.type) ? "DOUBLE" : /^(DATE|TIMESTAMP)/.test(c.type) ? "DATE" : "VARCHAR"));
  const axes = pickAxes(duck, model.columns.map((c) => c.name)) ?? { x: -1, y: 0 };
  const kind = h("select", { "aria-label": "Chart type" }, ...KINDS.map((k) => h("option", { value: k }, k)));
  const xSel = h("select", { "aria-label": "X axis" }, h("option", { value: "-1" }, "(row number)"), ...model.columns.map((c, i) => h("option", { value: i }, c.name)));
  const ySel = h("select", { "aria-label": "Y axis" }, ...model.columns.map((c, i) => h("option", { value: i }, c.name)));
  xSel.value = String(axes.x);
  ySel.value = String(axes.y);
  kind.value = duck[axes.x] === "VARCHAR" ? "bar" : "line";
  const area = h("div", { class: "chart-area" });
  const wrap = h("div", { class: "chart" }, h("div", { class: "chart-bar" }, h("label", {}, "Type ", kind), h("label", {}, "X ", xSel), h("label", {}, "Y ", ySel)), area);
  let plot: uPlot | null = null;
  const draw = () => {
    plot?.destroy();
    area.replaceChildren();
    const k = kind.value as Kind;
    const n = Math.min(model.rowCount, MAX_POINTS);
    const yc = Number(ySel.value);
    const xc = Number(xSel.value);
    const yAll = model.column(yc).slice(0, n).map((v) => (v === null || v === undefined ? null : Number(v)));
    let xs: number[];
    let ys: (number | null)[];
    let labels: string[] | null = null;
    if (k === "histogram") {
      const s = summarize(yAll);
      const bins = s.histogram ?? [];
      xs = bins.map((b) => b.lo);
      ys = bins.map((b) => b.count);
    } else if (xc < 0 || duck[xc] === "VARCHAR") {
      xs = yAll.map((_, i) => i);
      ys = yAll;
      if (xc >= 0) labels = model.column(xc).slice(0, n).map((v) => String(v));
    } else {
      const xv = model.column(xc).slice(0, n).map((v) => (typeof v === "string" ? Date.parse(v) / 1000 : Number(v)));
      const order = xv.map((_, i) => i).sort((a, b) => xv[a] - xv[b]);
      xs = order.map((i) => xv[i]);
      ys = order.map((i) => yAll[i]);
    }
    const bars = k === "bar" || k === "histogram";
    const series: uPlot.Series = {
      label: k === "histogram" ? "count" : model.columns[yc].name,
      stroke: "#3b82f6",
      fill: k === "area" || bars ? "rgba(59,130,246,0.35)" : undefined,
      paths: bars ? uPlot.paths.bars!({ size: [0.8, 60] }) : k === "scatter" ? () => null : undefined,
      points: k === "scatter" ? { show: true, size: 4, fill: "#3b82f6" } : { show: false },
    };
    const width = Math.max(320, (wrap.clientWidth || 900) - 16);
    plot = new uPlot(
      {
        width,
        height: Math.max(200, (wrap.clientHeight || 420) - 80),
        scales: {
          x: { time: xc >= 0 && duck[xc] === "DATE" && k !== "histogram" },
          // Bars and areas start at zero; lines and points fit the data.
          y: bars || k === "area" ? { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.05 : 0] } : {},
        },
        axes: [
          { values: labels ? (_u, ticks) => ticks.map((t) => labels![t] ?? "") : undefined, stroke: "currentColor" },
          { stroke: "currentColor", size: 70 },
        ],
        series: [{ label: xc >= 0 ? model.columns[xc].name : "row" }, series],
      },
      [xs, ys] as uPlot.AlignedData,
      area,
    );
    void types;
  };
  kind.onchange = xSel.onchange = ySel.onchange = draw;
  requestAnimationFrame(draw);
  return wrap;
}
