import { describe, expect, it } from "vitest";
import {
  compareCells,
  csvField,
  datasetNameFromFile,
  errorPosition,
  filterRows,
  formatBytes,
  formatFromFileName,
  isValidDatasetName,
  parseError,
  pickAxes,
  pushHistory,
  schemaDiff,
  shareUrl,
  sortIndex,
  statementAt,
  summarize,
  toCsv,
} from "../src/logic";

describe("names and formats", () => {
  it("derives a valid dataset name from a file name", () => {
    expect(datasetNameFromFile("Sales 2024.csv")).toBe("sales_2024");
    expect(datasetNameFromFile("2024-data.parquet")).toBe("d_2024_data");
    expect(isValidDatasetName(datasetNameFromFile("---.csv"))).toBe(true);
    expect(datasetNameFromFile("x".repeat(100) + ".csv").length).toBe(63);
  });
  it("validates names like the server", () => {
    expect(isValidDatasetName("sales")).toBe(true);
    expect(isValidDatasetName("Sales")).toBe(false);
    expect(isValidDatasetName("1x")).toBe(false);
    expect(isValidDatasetName("a".repeat(64))).toBe(false);
  });
  it("maps extensions to upload formats", () => {
    expect(formatFromFileName("a.JSONL")).toBe("ndjson");
    expect(formatFromFileName("a.parquet")).toBe("parquet");
    expect(formatFromFileName("a.bin")).toBeNull();
  });
  it("formats bytes", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KB");
    expect(formatBytes(300 * 1024 * 1024)).toBe("300 MB");
  });
});

describe("DuckDB error positions", () => {
  it("finds the caret of a LINE/caret message", () => {
    const sql = "SELECT id,\n  nme FROM t";
    const msg = 'Binder Error: Referenced column "nme" not found in FROM clause!\n\nLINE 2:   nme FROM t\n          ^';
    expect(errorPosition(msg, sql)).toBe(sql.indexOf("nme"));
  });
  it("falls back to the 'at or near' token", () => {
    const sql = "SELEC 1";
    expect(errorPosition('Parser Error: syntax error at or near "SELEC"', sql)).toBe(0);
    expect(errorPosition("Parser Error: syntax error at end of input", sql)).toBeNull();
  });
  it("locates an unknown table named in the message", () => {
    const sql = "SELECT * FROM sals";
    expect(errorPosition("table 'sals' does not exist", sql)).toBeNull();
    expect(errorPosition('Catalog Error: Table with name sals does not exist!', sql)).toBe(14);
  });
});

describe("sorting and filtering", () => {
  it("orders numbers, bigints, strings; nulls last both ways", () => {
    const v = [3, null, 1, 2n, "x"].slice(0, 4);
    expect(Array.from(sortIndex(v, false))).toEqual([2, 3, 0, 1]);
    expect(Array.from(sortIndex(v, true))).toEqual([0, 3, 2, 1]);
    expect(compareCells("a", "b")).toBeLessThan(0);
    expect(compareCells(10n, 9)).toBeGreaterThan(0);
  });
  it("is stable and can sort a filtered subset", () => {
    const v = [1, 1, 0, 1];
    expect(Array.from(sortIndex(v, false, Uint32Array.from([3, 1, 2])))).toEqual([2, 1, 3]);
  });
  it("filters rows by any cell's text", () => {
    const rows = [["alice", 1], ["bob", 22], [null, 3]];
    expect(Array.from(filterRows(3, 2, (r, c) => rows[r][c], "B"))).toEqual([1]);
    expect(Array.from(filterRows(3, 2, (r, c) => rows[r][c], "2"))).toEqual([1]);
    expect(Array.from(filterRows(3, 2, (r, c) => rows[r][c], "null"))).toEqual([]);
  });
});

describe("column summary", () => {
  it("counts nulls, distinct values, min/max and bins numbers", () => {
    const s = summarize([1, 2, 2, null, 10], 3);
    expect(s.nulls).toBe(1);
    expect(s.distinct).toBe(3);
    expect(s.min).toBe(1);
    expect(s.max).toBe(10);
    expect(s.histogram!.map((b) => b.count)).toEqual([3, 0, 1]);
  });
  it("lists the most frequent values of text", () => {
    const s = summarize(["a", "b", "a"]);
    expect(s.histogram).toBeNull();
    expect(s.top![0]).toEqual({ value: "a", count: 2 });
  });
  it("reports an inexact distinct count beyond the cap", () => {
    const s = summarize([1, 2, 3, 4], 2, 2);
    expect(s.distinct).toBe(2);
    expect(s.distinctExact).toBe(false);
  });
});

describe("CSV", () => {
  it("quotes like RFC 4180 and the server", () => {
    expect(csvField('a "b"')).toBe('"a ""b"""');
    expect(csvField("a,b")).toBe('"a,b"');
    expect(csvField("")).toBe('""');
    expect(csvField(null)).toBe("");
    expect(csvField(12345678901234567890n)).toBe("12345678901234567890");
  });
  it("writes a header and CRLF lines", () => {
    const rows = [[1, "x"], [2, null]];
    expect(toCsv(["id", "s"], 2, (r, c) => rows[r][c])).toBe("id,s\r\n1,x\r\n2,\r\n");
  });
});

describe("editor helpers", () => {
  it("keeps history newest first without duplicates", () => {
    let h: string[] = [];
    h = pushHistory(h, "SELECT 1");
    h = pushHistory(h, "SELECT 2");
    h = pushHistory(h, " SELECT 1 ");
    h = pushHistory(h, "   ");
    expect(h).toEqual(["SELECT 1", "SELECT 2"]);
    expect(pushHistory(["a", "b", "c"], "d", 2)).toEqual(["d", "a"]);
  });
  it("finds the statement under the cursor", () => {
    const t = "SELECT 1;\nSELECT 2;\nSELECT 3";
    expect(statementAt(t, 3)).toBe("SELECT 1");
    expect(statementAt(t, 12)).toBe("SELECT 2");
    expect(statementAt(t, t.length)).toBe("SELECT 3");
    expect(statementAt("SELECT 1;", 9)).toBe("SELECT 1");
  });
  it("round-trips a shared query through the URL", () => {
    const sql = "SELECT * FROM t WHERE s = 'a&b #1'";
    const url = new URL(shareUrl("http://127.0.0.1:1", sql));
    expect(url.pathname).toBe("/sql");
    expect(url.searchParams.get("q")).toBe(sql);
  });
});

describe("server errors and diffs", () => {
  it("reads the JSON error body", () => {
    const e = parseError(400, '{"error":{"code":"invalid_argument","message":"bad CSV","request_id":"x"}}');
    expect(e).toEqual({ status: 400, code: "invalid_argument", message: "bad CSV" });
    expect(parseError(502, "<html>Bad gateway</html>").message).toContain("Bad gateway");
    expect(parseError(0, "").code).toBe("network");
  });
  it("diffs two schemas", () => {
    const d = schemaDiff(
      [{ name: "a", type: "INTEGER" }, { name: "b", type: "VARCHAR" }],
      [{ name: "a", type: "BIGINT" }, { name: "c", type: "DATE" }],
    );
    expect(d).toEqual({ added: ["c DATE"], removed: ["b VARCHAR"], changed: ["a: INTEGER -> BIGINT"] });
  });
  it("picks chart axes from types", () => {
    expect(pickAxes(["VARCHAR", "BIGINT"])).toEqual({ x: 0, y: 1 });
    expect(pickAxes(["DOUBLE", "DATE", "DOUBLE"])).toEqual({ x: 1, y: 0 });
    expect(pickAxes(["DOUBLE", "DOUBLE"])).toEqual({ x: 0, y: 1 });
    expect(pickAxes(["VARCHAR"])).toBeNull();
    expect(pickAxes(["INTERVAL", "INTEGER[]", "UBIGINT"])).toEqual({ x: 0, y: 2 });
    expect(pickAxes(["BIGINT", "VARCHAR", "DOUBLE"], ["id", "name", "amount"])).toEqual({ x: 1, y: 2 });
  });
});
