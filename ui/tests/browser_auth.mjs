// Browser test of the UI with the gateway's auth on (issue 11; docs/api/auth.md): Debian's Chromium
// (headless) driven by playwright-core against a real `lakehouse serve --auth true` started by
// test_browser.py. Usage: node browser_auth.mjs BASE_URL ARTIFACT_DIR ADMIN_KEY_FILE
// The key prompt, a rejected key, the admin key (list, upload through the Origin check, query), a
// reader key granted only `a` (403 on `b` and on upload), the key across a reload and its absence
// in a new browser context.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [base, artifacts, adminKeyFile] = process.argv.slice(2);
assert.ok(base && artifacts && adminKeyFile, "usage: node browser_auth.mjs BASE_URL ARTIFACT_DIR ADMIN_KEY_FILE");
mkdirSync(artifacts, { recursive: true });
const work = mkdtempSync(join(tmpdir(), "lakehouse-ui-auth-"));
const adminKey = readFileSync(adminKeyFile, "utf8").trim();
assert.match(adminKey, /^lh_[0-9a-f]{16}_[0-9a-f]{64}$/);
const csvPath = join(work, "a.csv");
writeFileSync(csvPath, "id,label\n1,alpha\n2,beta\n3,gamma\n");

// The admin API from outside the browser (no Origin header: a script, not a page).
const api = async (method, path, key, body) => {
  const r = await fetch(base + path, { method, body, headers: key ? { Authorization: `Bearer ${key}` } : {} });
  return [r.status, await r.json()];
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const newPage = async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  return context.newPage();
};
let page = await newPage();
const consoleErrors = [];
const watch = (p) => {
  p.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  p.on("pageerror", (e) => consoleErrors.push(String(e)));
};
watch(page);
const shot = (name) => page.screenshot({ path: join(artifacts, `${name}.png`) });
const step = (name) => console.log(`[browser-auth] ${name}`);
const dialog = () => page.locator("#api-key-dialog");
const enterKey = async (key) => {
  await page.locator("#api-key-input").fill(key);
  await dialog().getByRole("button", { name: "Save" }).click();
};
const runSql = async (sql) => {
  await page.goto(base + "/sql?q=" + encodeURIComponent(sql));
  await page.locator(".cm-content").click();
  await page.keyboard.press("Control+Enter");
};

try {
  step("with auth on, the API refuses a request without a key; `b` exists (created as admin)");
  let [status, body] = await api("GET", "/api/v1/datasets");
  assert.equal(status, 401, JSON.stringify(body));
  const res = await fetch(base + "/api/v1/datasets/b", {
    method: "POST",
    headers: { Authorization: `Bearer ${adminKey}`, "Content-Type": "application/octet-stream" },
    body: "id,secret\n1,x\n",
  });
  assert.equal(res.status, 201, await res.text());

  step("no key: the prompt opens by itself");
  await page.goto(base + "/");
  await dialog().waitFor({ state: "visible" });
  assert.match(await dialog().innerText(), /An API key is required/);
  assert.equal(await page.locator("#api-key-input").evaluate((el) => el === document.activeElement), true);
  await shot("auth-01-key-prompt");

  step("a wrong key is rejected with a clear message");
  await enterKey("lh_0123456789abcdef_" + "0".repeat(64));
  await dialog().getByText("The API key was not accepted").waitFor();
  assert.match(await dialog().innerText(), /rejected the key this tab sent/);
  await shot("auth-02-key-rejected");
  // A key no HTTP header can carry is refused before anything is sent.
  await page.locator("#api-key-input").fill("not a key");
  await dialog().getByRole("button", { name: "Save" }).click();
  await dialog().getByText("printable ASCII without spaces").waitFor();

  step("the admin key from <data-dir>/admin.key is accepted: datasets listed");
  await enterKey(adminKey);
  await dialog().waitFor({ state: "hidden" });
  await page.getByRole("link", { name: "b", exact: true }).waitFor();
  assert.equal(await page.locator("#api-key").innerText(), `API key …${adminKey.slice(-4)}`);

  step("the admin uploads `a` through the UI (the UI's own Origin passes the server's check)");
  await page.goto(base + "/upload");
  await page.locator("#upload-file").setInputFiles(csvPath);
  assert.equal(await page.getByLabel("Dataset name").inputValue(), "a");
  await page.getByRole("button", { name: "Upload", exact: true }).click();
  await page.getByText(/Done in .*a v1, 3 rows/).waitFor({ timeout: 30000 });

  step("the admin runs a query");
  await runSql("SELECT count(*) AS n FROM b");
  await page.locator(".stats[data-done='1']").waitFor();
  assert.equal(await page.locator(".stats").getAttribute("data-rows"), "1");

  step("a reader key granted only `a` (created through the admin API)");
  [status, body] = await api("POST", "/api/v1/keys", adminKey, JSON.stringify({ role: "reader", datasets: "a", name: "ui test" }));
  assert.equal(status, 201, JSON.stringify(body));
  const readerKey = body.key;
  await page.goto(base + "/");
  await page.locator("#api-key").click();
  await dialog().waitFor({ state: "visible" });
  await enterKey(readerKey);
  await dialog().waitFor({ state: "hidden" });
  await page.getByRole("link", { name: "a", exact: true }).waitFor();
  assert.equal(await page.getByRole("link", { name: "b", exact: true }).count(), 0, "the reader sees b");
  assert.match(await page.getByText(/^\d+ datasets?$/).innerText(), /^1 dataset$/);

  step("the reader queries `a`, then `b`: a clear 'Not allowed' naming b");
  await runSql("SELECT label FROM a ORDER BY id");
  await page.locator(".stats[data-done='1']").waitFor();
  assert.equal(await page.locator(".stats").getAttribute("data-rows"), "3");
  await runSql("SELECT * FROM b");
  // Said once, where the query failed (the header banner is only for failures no page shows).
  const notAllowed = async () => {
    const inline = page.locator("main [data-auth='forbidden']");
    await inline.waitFor();
    await page.waitForTimeout(100);
    assert.equal(await page.locator("#auth-notice").isVisible(), false, "the 403 is shown twice");
    assert.equal(await dialog().isVisible(), false, "a 403 must not ask for another key as if it were a 401");
    const text = await inline.innerText();
    assert.match(text, /^Not allowed:/);
    return text;
  };
  const text = await notAllowed();
  assert.match(text, /dataset 'b'/, `the 403 does not name b: ${text}`);
  await shot("auth-03-not-allowed");

  step("the reader may not upload: 'Not allowed', nothing stored");
  await page.goto(base + "/upload");
  await page.locator("#upload-file").setInputFiles(csvPath);
  await page.getByLabel("Dataset name").fill("c");
  await page.getByRole("button", { name: "Upload", exact: true }).click();
  assert.match(await notAllowed(), /write dataset 'c'/);
  await shot("auth-04-upload-not-allowed");
  [status] = await api("GET", "/api/v1/datasets/c", adminKey);
  assert.equal(status, 404);

  step("the key survives a reload (sessionStorage)");
  await page.goto(base + "/");
  await page.reload();
  await page.getByRole("link", { name: "a", exact: true }).waitFor();
  assert.equal(await dialog().isVisible(), false);
  assert.equal(await page.locator("#api-key").innerText(), `API key …${readerKey.slice(-4)}`);

  step("a new browser context has no key: the prompt again");
  await page.context().close();
  page = await newPage();
  watch(page);
  await page.goto(base + "/");
  await dialog().waitFor({ state: "visible" });
  assert.match(await dialog().innerText(), /An API key is required/);
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);

  // The browser logs each 401/403 response as a console error; anything else is a defect.
  assert.deepEqual(consoleErrors.filter((e) => !/status of 40[13]/.test(e)), [], "console errors");
  console.log("[browser-auth] all steps passed");
} catch (e) {
  await shot("auth-failure").catch(() => undefined);
  console.error(e);
  process.exitCode = 1;
} finally {
  await browser.close();
  rmSync(work, { recursive: true, force: true });
}
