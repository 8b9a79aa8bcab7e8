// Browser test of the semantic search page against a real server with AI enabled (the bundled
// embedding model): create embeddings on a text column with live progress, then search by
// meaning and see the matching source row. Usage: node browser_ai.mjs BASE_URL ARTIFACT_DIR
import assert from "node:assert/strict";
import { openPage, runSteps, scriptArgs } from "./browser_lib.mjs";

const { base, artifacts } = scriptArgs("browser_ai.mjs");
const notes = [
  "id,body",
  "1,Parquet is a columnar file format for analytics",
  "2,My cat sleeps all day on the sofa",
  "3,The stock market fell sharply today",
  "4,Bake bread with flour water and yeast",
].join("\n") + "\n";
const res = await fetch(base + "/api/v1/datasets/notes", { method: "POST", headers: { "Content-Type": "text/csv" }, body: notes });
assert.equal(res.status, 201, await res.text());

const session = await openPage(artifacts, "browser-ai");
const { page, shot } = session;
await runSteps(session, "browser-ai", "ai-failure", async () => {
  await page.goto(base + "/search");
  await page.getByText("No dataset has embeddings yet").waitFor();
  await page.getByLabel("Dataset to embed").selectOption("notes");
  await page.getByLabel("Text column").selectOption("body");
  await page.getByLabel("Key column").selectOption("id");
  await page.getByRole("button", { name: "Create embeddings" }).click();
  await page.getByText(/Embedded 4 rows into notes_body_emb/).waitFor({ timeout: 60000 });
  await shot("20-embeddings-done");

  await page.getByRole("link", { name: "Search them" }).click();
  await page.getByLabel("Search text").fill("kitten napping");
  await page.getByLabel("Search text").press("Enter");
  const table = page.getByRole("table", { name: "Search results" });
  await table.waitFor();
  const first = await table.locator("tbody tr").first().innerText();
  assert.match(first, /My cat sleeps/, `best match was: ${first}`);
  // The matching source rows, read from the source dataset's version by key.
  await page.locator(".stats[data-done='1']").waitFor();
  assert.ok(Number(await page.locator(".stats").getAttribute("data-rows")) >= 1);
  await page.locator(".grid-rows").getByText("My cat sleeps all day on the sofa").waitFor();
  // Source rows come in score order: the best match first.
  assert.equal(await page.locator(".grow").first().locator(".cell").nth(2).innerText(), "My cat sleeps all day on the sofa");
  await shot("21-search-results");
});
