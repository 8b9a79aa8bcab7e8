// bench/ui.sh's upload half: uploads FILE through the web UI's upload page (XMLHttpRequest, Debian
// Chromium headless) as dataset NAME and prints the seconds from the click to the server's answer.
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
  const t0 = Date.now();
  await page.getByRole("button", { name: "Upload", exact: true }).click();
  await page.getByText(/^Done in/).waitFor({ timeout: 600000 });
  console.log(((Date.now() - t0) / 1000).toFixed(3));
} finally {
  await browser.close();
}
