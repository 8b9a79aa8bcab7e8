// bench/ui.sh's upload half: uploads FILE through the web UI's upload page (XMLHttpRequest, Debian
// Chromium headless) as dataset NAME and prints the seconds from the click to the server's answer
// shown on the page, both instants taken in the page (like curl's own time_total: no Playwright
// round trips, which cost 0.1-0.5 s each on a loaded machine, in the figure).
// Usage: node upload.mjs BASE_URL FILE NAME
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(fileURLToPath(new URL("../../ui/package.json", import.meta.url)));
const { chromium } = require("playwright-core");

const [base, file, name] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  await page.goto(`${base}/upload`);
  await page.locator("#upload-file").setInputFiles(file);
  await page.getByLabel("Dataset name").fill(name);
  await page.evaluate(() => {
    const w = window;
    w.__upload = {};
    const label = document.querySelector(".progress-label");
    const button = [...document.querySelectorAll("button")].find((b) => b.textContent === "Upload");
    button.addEventListener("click", () => (w.__upload.t0 = performance.now()), { capture: true });
    new MutationObserver(() => {
      if (!w.__upload.t1 && label.textContent.startsWith("Done in")) w.__upload.t1 = performance.now();
    }).observe(label, { childList: true, characterData: true, subtree: true });
  });
  await page.getByRole("button", { name: "Upload", exact: true }).click();
  await page.getByText(/^Done in/).waitFor({ timeout: 600000 });
  const { t0, t1 } = await page.evaluate(() => window.__upload);
  console.log(((t1 - t0) / 1000).toFixed(3));
} finally {
  await browser.close();
}
