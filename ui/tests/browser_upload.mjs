// Browser test of cancelling an upload and of the Parquet export: Debian's Chromium (headless)
// driven by playwright-core against a real `lakehouse serve` started by test_browser.py.
// Usage: node browser_upload.mjs BASE_URL ARTIFACT_DIR
import assert from "node:assert/strict";
import { mkdtempSync, openSync, readFileSync, rmSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assertNoConsoleErrors, openPage, runSteps, scriptArgs } from "./browser_lib.mjs";

const { base, artifacts } = scriptArgs("browser_upload.mjs");
const work = mkdtempSync(join(tmpdir(), "lakehouse-ui-upload-"));

// A 32 MB CSV; the upload is throttled to 4 MB/s below, so it is still sending when cancelled.
const bigPath = join(work, "big.csv");
const fd = openSync(bigPath, "w");
writeSync(fd, "id,name,amount\n");
let line = "";
for (let i = 0; i < 20000; i++) line += `${i},some text for row ${i % 1000},${i}.5\n`;
const bigBytes = 32 << 20;
let written = 15;
while (written < bigBytes) written += writeSync(fd, line);
closeSync(fd);
const smallPath = join(work, "big_small.csv");
const small = openSync(smallPath, "w");
writeSync(small, "id,name,amount\n1,a,1.5\n2,b,2.5\n");
closeSync(small);

const session = await openPage(artifacts, "browser-upload");
const { context, page, consoleErrors, shot, step } = session;
const json = async (path) => {
  const r = await fetch(base + path);
  return [r.status, await r.json()];
};

await runSteps(session, "browser-upload", "upload-failure", async () => {
  step("start a large upload (throttled), cancel it while it is sending");
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 4 << 20 });
  await page.goto(base + "/upload");
  await page.locator("#upload-file").setInputFiles(bigPath);
  assert.equal(await page.getByLabel("Dataset name").inputValue(), "big");
  await page.getByRole("button", { name: "Upload", exact: true }).click();
  // Wait until some bytes, not all, are on the wire.
  await page.waitForFunction(() => {
    const bar = document.querySelector("progress");
    return bar.hasAttribute("value") && bar.value > 0 && bar.value < bar.max && bar.max > 1;
  }, null, { timeout: 30000 });
  const sentBefore = await page.evaluate(() => document.querySelector("progress").value);
  assert.ok(sentBefore < bigBytes, `already sent everything (${sentBefore})`);
  await page.getByRole("button", { name: "Cancel", exact: true }).click();
  await page.getByText("Cancelled: nothing was stored.").waitFor({ timeout: 10000 });
  await shot("upload-cancelled");
  assert.equal(await page.getByRole("button", { name: "Upload", exact: true }).isEnabled(), true);
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });

  step("nothing became visible; the server is fine");
  // Give the server time to notice the dropped connection, then look from outside the browser.
  await new Promise((r) => setTimeout(r, 500));
  let [status, body] = await json("/api/v1/datasets");
  assert.equal(status, 200);
  assert.deepEqual(body.datasets.map((d) => d.name), []);
  [status] = await json("/api/v1/datasets/big");
  assert.equal(status, 404);
  [status, body] = await json("/health");
  assert.equal(status, 200, JSON.stringify(body));
  await page.getByRole("link", { name: "Datasets" }).click();
  await page.getByText("No datasets yet").waitFor();

  step("the same name can then be created, and is queryable");
  await page.goto(base + "/upload");
  await page.locator("#upload-file").setInputFiles(smallPath);
  await page.getByLabel("Dataset name").fill("big");
  await page.getByRole("button", { name: "Upload", exact: true }).click();
  await page.getByText(/Done in .*big v1, 2 rows/).waitFor({ timeout: 30000 });

  step("export Parquet: the file the server writes for the query");
  const sql = "SELECT id, name, amount FROM big ORDER BY id";
  await page.goto(base + "/sql?q=" + encodeURIComponent(sql));
  await page.locator(".cm-content").click();
  await page.keyboard.press("Control+Enter");
  await page.locator(".stats[data-done='1']").waitFor();
  const downloadPromise = page.waitForEvent("download");
  await page.getByRole("button", { name: "Parquet", exact: true }).click();
  const download = await downloadPromise;
  assert.equal(download.suggestedFilename(), "result.parquet");
  const savedPath = join(work, "export.parquet");
  await download.saveAs(savedPath);
  const exported = readFileSync(savedPath);
  assert.equal(exported.subarray(0, 4).toString(), "PAR1");
  assert.equal(exported.subarray(exported.length - 4).toString(), "PAR1");
  const res = await fetch(base + "/api/v1/query?format=parquet", { method: "POST", body: JSON.stringify({ sql }) });
  assert.equal(res.headers.get("content-type"), "application/vnd.apache.parquet");
  assert.ok(Buffer.from(await res.arrayBuffer()).equals(exported), "the UI's Parquet differs from the server's");
  await shot("export-parquet");

  assertNoConsoleErrors(consoleErrors);
}, () => rmSync(work, { recursive: true, force: true }));
