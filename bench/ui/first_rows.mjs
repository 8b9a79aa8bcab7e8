// bench/ui.sh's browser half: opens the SQL page (Debian Chromium, headless), runs SQL with
// Ctrl+Enter and reads the page's own timings (window.__lakehouseLastRun, set by ui/src/results.ts):
// time to the first rows on screen and to all rows browsable. Prints one JSON line per run.
// Usage: node first_rows.mjs BASE_URL SQL RUNS
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

// playwright-core is installed in ui/node_modules (scripts/setup.d/50-ui.sh).
const require = createRequire(fileURLToPath(new URL("../../ui/package.json", import.meta.url)));
const { chromium } = require("playwright-core");

const [base, sql, runs = "3"] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  for (let i = 0; i < Number(runs); i++) {
    await page.goto(`${base}/sql?q=${encodeURIComponent(sql)}`);
    await page.locator(".cm-content").click();
    await page.keyboard.press("Control+Enter");
    await page.locator(".stats[data-done='1']").waitFor({ timeout: 120000 });
    const t = await page.evaluate(() => window.__lakehouseLastRun);
    // Scroll to the end: all rows browsable means the last row renders.
    await page.evaluate(() => document.querySelector(".grid-rows").scrollTo(0, 1e9));
    await page.waitForFunction((n) => [...document.querySelectorAll(".grow .rownum")].some((e) => e.textContent === String(n)), t.rows);
    console.log(JSON.stringify(t));
  }
} finally {
  await browser.close();
}
