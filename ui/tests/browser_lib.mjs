// Shared setup of the Playwright browser scripts (browser*.mjs): parse the arguments, launch
// Debian's Chromium headless, collect console errors, and run the steps with a failure screenshot.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

/** BASE_URL and ARTIFACT_DIR from the command line; the artifact folder is created. */
export function scriptArgs(script) {
  const [base, artifacts] = process.argv.slice(2);
  assert.ok(base && artifacts, `usage: node ${script} BASE_URL ARTIFACT_DIR`);
  mkdirSync(artifacts, { recursive: true });
  return { base, artifacts };
}

/** Launches Chromium with one 1280x800 page; console and page errors go to consoleErrors. */
export async function openPage(artifacts, tag) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  const shot = (name) => page.screenshot({ path: join(artifacts, `${name}.png`) });
  const step = (name) => console.log(`[${tag}] ${name}`);
  return { browser, context, page, consoleErrors, shot, step };
}

/** Fails on console errors other than the 4xx responses a test provokes on purpose. */
export function assertNoConsoleErrors(consoleErrors) {
  assert.deepEqual(consoleErrors.filter((e) => !/status of 4\d\d/.test(e)), [], "console errors");
}

/**
 * Runs the steps; on failure takes the screenshot `failureShot` and sets a non-zero exit code.
 * The browser is closed and `cleanup` runs in every case.
 */
export async function runSteps({ browser, shot }, tag, failureShot, steps, cleanup = () => {}) {
  try {
    await steps();
    console.log(`[${tag}] all steps passed`);
  } catch (e) {
    await shot(failureShot).catch(() => undefined);
    console.error(e);
    process.exitCode = 1;
  } finally {
    await browser.close();
    cleanup();
  }
}

/** Replaces the SQL editor's text with `sql` and runs it with Ctrl+Enter. */
export async function runInEditor(page, sql) {
  await page.locator(".cm-content").click();
  await page.keyboard.press("Control+a");
  await page.keyboard.type(sql);
  await page.keyboard.press("Control+Enter");
}
