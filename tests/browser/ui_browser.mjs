// Drives Debian's chromium through playwright-core (from ui/node_modules; no browser download).
// Usage: node ui_browser.mjs live URL ARTIFACT_DIR     start quickstart from the launchpad, watch it
//        node ui_browser.mjs report FILE ARTIFACT_DIR  open an HTML report offline
//        node ui_browser.mjs matrix URL ARTIFACT_DIR MATRIX_ID  compare a matrix from the history
//        node ui_browser.mjs scale URL ARTIFACT_DIR RUN_ID    open a large run's view, weigh what it loads
//        node ui_browser.mjs failures URL ARTIFACT_DIR RUN_ID open a run's view, read why sends failed
// Prints one JSON line with what it saw; the Python test asserts on it. Exits non-zero on error.
import { createRequire } from "node:module";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "..", "..", "ui", "package.json"));
const { chromium } = require("playwright-core");

const [mode, target, artifacts, matrixId] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const out = { errors: [] };
try {
  if (mode === "live") await live(target);
  else if (mode === "report") await report(target);
  else if (mode === "matrix") await matrix(target, matrixId);
  else if (mode === "scale") await scale(target, matrixId);
  else if (mode === "failures") await failures(target, matrixId);
  else throw new Error(`unknown mode ${mode}`);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));

async function newPage(context) {
  const page = await context.newPage();
  page.on("pageerror", (e) => out.errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") out.errors.push(`console: ${m.text()}`); });
  return page;
}

// What a chart drew: the length of each uPlot series and whether its canvas has ink on it.
async function chartsDrawn(page, prefix) {
  return page.evaluate((p) => {
    const result = {};
    for (const [name, plot] of Object.entries(window.__drone.charts)) {
      if (!name.startsWith(p)) continue;
      const c = plot.ctx.canvas;
      const pixels = plot.ctx.getImageData(0, 0, c.width, c.height).data;
      let ink = 0;
      for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) ink++;
      result[name] = { lengths: plot.data.slice(1).map((s) => s.filter((v) => v !== null).length), ink };
    }
    return result;
  }, prefix);
}

// The fault bands over each chart: what hovering says, whether the window is open, where it is.
async function faultBands(page) {
  return page.evaluate(() => [...document.querySelectorAll(".chart")].map((c) => ({
    chart: c.dataset.chart,
    bands: [...c.querySelectorAll(".fault-band")].map((b) => ({
      title: b.title, step: b.dataset.step, open: b.dataset.open === "true", visible: b.dataset.visible === "true",
      from: Number(b.dataset.from), to: b.dataset.to === "" ? null : Number(b.dataset.to),
      width: b.getBoundingClientRect().width })),
    legend: [...c.querySelectorAll(".fault-legend span")].map((s) => s.textContent),
  })));
}

async function topologyNodes(page) {
  return page.evaluate(() => Object.fromEntries([...document.querySelectorAll("circle.topo-node")].map((n) =>
    [n.dataset.node, n.dataset.state])));
}

async function live(url) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await newPage(context);
  await page.goto(`${url}/#/flows/quickstart`);
  await page.waitForSelector("svg.dag g.node[data-kind='fault.kill']");
  out.dag_nodes = await page.locator("svg.dag g.node").count();
  out.dag_fill_by_kind = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll("svg.dag g.node")]
    .map((n) => [n.dataset.kind, n.querySelector("rect").getAttribute("fill")])));
  await page.screenshot({ path: join(artifacts, "flows.png"), fullPage: true });

  await page.click("[data-action=launch]");
  await page.waitForSelector("input[data-param=duration]");
  // A bad value is flagged inline and blocks the start; a good one clears it.
  await page.fill("input[data-param=rate]", "fast");
  await page.waitForSelector(".field-errors .error-line");
  out.inline_error = await page.locator(".field-errors .error-line").first().textContent();
  out.start_disabled_on_error = await page.locator("[data-action=start]").isDisabled();
  await page.screenshot({ path: join(artifacts, "launchpad-error.png"), fullPage: true });
  await page.fill("input[data-param=rate]", "1000");
  await page.fill("input[data-param=duration]", "10s");
  await page.waitForFunction(() => !document.querySelector(".error-line") &&
    !document.querySelector("[data-action=start]").disabled);
  await page.click("[data-action=start]");

  await page.waitForURL(/#\/run\//);
  out.run_id = page.url().split("#/run/")[1];
  // While it runs: live states in the Gantt chart and points in the charts.
  await page.waitForSelector(".gantt-bar[data-status=running]", { timeout: 60000 });
  await page.waitForFunction(() => Object.keys(window.__drone.charts).some((k) => k.endsWith("throughput") &&
    window.__drone.charts[k].data[0].length > 0), null, { timeout: 60000 });
  out.live_charts = await chartsDrawn(page, out.run_id);
  await page.screenshot({ path: join(artifacts, "run-live.png"), fullPage: true });
  // The outage while it lasts: an open window on the charts, the killed node down in the topology.
  await page.waitForSelector(".chart .fault-band[data-open=true][data-visible=true]", { timeout: 60000 });
  await page.waitForSelector("circle.topo-node.active-fault", { timeout: 10000 });
  out.live_bands = await faultBands(page);
  out.live_nodes = await topologyNodes(page);
  out.live_fault_list = await page.locator("svg.topology text.link-fault").allTextContents();
  await page.screenshot({ path: join(artifacts, "run-live-fault.png"), fullPage: true });

  await page.waitForSelector(".run-header [data-verdict]:not([data-verdict=running])", { timeout: 180000 });
  out.verdict = await page.locator(".run-header [data-verdict]").getAttribute("data-verdict");
  await page.waitForSelector(".chart canvas");
  out.charts = await chartsDrawn(page, out.run_id);
  out.gantt_bars = await page.locator(".gantt-bar").count();
  out.delivery_rows = await page.locator("[data-table=delivery] tr").count();
  out.topology_nodes = await page.locator("circle.topo-node").count();
  out.faulted_nodes = await page.locator("circle.topo-node.past-fault, circle.topo-node.active-fault").count();
  out.finished_bands = await faultBands(page);
  out.nodes_at_end = await topologyNodes(page);
  // Replayed: the topology in the middle of the outage, then before it.
  await page.click("[data-jump=outage]");
  out.nodes_during_outage = await topologyNodes(page);
  out.fault_list_during_outage = await page.locator("svg.topology text.link-fault").allTextContents();
  await page.screenshot({ path: join(artifacts, "run-topology-replay.png"), fullPage: true });
  await page.locator("[data-control=topology-time]").fill("0");
  out.nodes_at_start = await topologyNodes(page);
  await page.fill("[data-filter=events]", "FAULT_");
  out.filtered_events = await page.locator("table.events tbody tr").allTextContents();
  await page.selectOption("[data-select=logs]", "drone");
  await page.waitForFunction(() => document.querySelector("pre.log").textContent.length > 0);
  out.drone_log = await page.locator("pre.log").textContent();
  await page.screenshot({ path: join(artifacts, "run-finished.png"), fullPage: true });

  // The same run twice is enough to draw the comparison's table and chart.
  await page.goto(`${url}/#/compare/${out.run_id},${out.run_id}`);
  await page.waitForSelector("[data-table=compare]");
  out.compare_columns = await page.locator("[data-table=compare] tr:first-child th").count();
  out.compare_chart = await chartsDrawn(page, "compare:");
  await page.screenshot({ path: join(artifacts, "compare.png"), fullPage: true });

  await page.goto(`${url}/#/history`);
  await page.waitForSelector("[data-table=history] a");
  out.history_runs = await page.locator("[data-table=history] a").allTextContents();
  // Filters: this flow's passed runs include it, its failed ones do not.
  await page.fill("input[name=flow]", "quickstart");
  await page.selectOption("select[name=verdict]", "pass");
  await page.click("form.filters button[type=submit]");
  await page.waitForSelector("[data-table=history][data-query*='verdict=pass'] a");
  out.history_quickstart_pass = await page.locator("[data-table=history] a").allTextContents();
  await page.selectOption("select[name=verdict]", "fail");
  await page.click("form.filters button[type=submit]");
  await page.waitForSelector("[data-table=history][data-query*='verdict=fail']");
  out.history_quickstart_fail = await page.locator("[data-table=history] a").allTextContents();
  await page.screenshot({ path: join(artifacts, "history.png"), fullPage: true });
  await context.close();
}

async function matrix(url, id) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await newPage(context);
  await page.goto(`${url}/#/history`);
  await page.waitForSelector("[data-table=history] a");
  await page.fill("input[name=matrix]", id);
  await page.click("form.filters button[type=submit]");
  await page.waitForSelector("[data-action=compare-matrix]");
  out.compare_link = await page.locator("[data-action=compare-matrix]").textContent();
  await page.click("[data-action=compare-matrix]");
  await page.waitForSelector("[data-table=compare]");
  await page.waitForFunction(() => window.__drone.charts["compare:e2e_p99"]);
  out.compare_columns = await page.locator("[data-table=compare] tr:first-child th").count();
  out.params_row = await page.locator("[data-table=compare] tr", { hasText: "params" }).locator("td").allTextContents();
  out.compare_chart = await chartsDrawn(page, "compare:");
  await page.screenshot({ path: join(artifacts, "compare-matrix.png"), fullPage: true });
  await context.close();
}

async function report(file) {
  const context = await browser.newContext({ offline: true, viewport: { width: 1280, height: 900 } });
  const page = await newPage(context);
  const requests = [];
  page.on("request", (r) => { if (!r.url().startsWith("file:")) requests.push(r.url()); });
  await page.goto(`file://${file}`);
  await page.waitForLoadState("load");
  out.title = await page.title();
  out.svg_charts = await page.locator("svg").count();
  out.lines_with_values = await page.locator("[data-values]").evaluateAll((els) =>
    els.map((e) => e.getAttribute("data-values").split(",").filter((v) => v !== "").length));
  out.body_text = (await page.locator("body").innerText()).slice(0, 2000);
  out.fault_rects = await page.locator("svg.chart rect.fault").evaluateAll((els) =>
    els.map((e) => ({ step: e.getAttribute("data-step"), title: e.textContent,
                      width: Number(e.getAttribute("width")) })));
  out.external_requests = requests;
  await page.screenshot({ path: join(artifacts, "report-offline.png"), fullPage: true });
  await context.close();
}

// A finished run of a million messages and ten faults: what the page fetched from the API (each
// answer's size), what its charts hold, and the fault windows drawn. The time until the charts
// were drawn is reported for the artifacts, not judged (timings belong in bench/).
async function failures(url, runId) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await newPage(context);
  await page.goto(`${url}/#/run/${runId}`);
  await page.waitForSelector("[data-table=errors]");
  out.failure_rows = await page.locator("[data-table=errors] tr").evaluateAll((rows) =>
    rows.map((r) => Array.from(r.children).map((c) => c.textContent.trim())));
  await page.screenshot({ path: join(artifacts, "run-failures.png"), fullPage: true });
  await context.close();
}

async function scale(url, runId) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await newPage(context);
  const answers = [];
  page.on("response", async (r) => {
    if (!new URL(r.url()).pathname.startsWith("/api/")) return;
    try { answers.push({ path: new URL(r.url()).pathname + new URL(r.url()).search, bytes: (await r.body()).length }); }
    catch (e) { answers.push({ path: r.url(), bytes: -1 }); }  // a stream cut off when the page moves on
  });
  const started = Date.now();
  await page.goto(`${url}/#/run/${runId}`);
  await page.waitForSelector(".run-header [data-verdict]:not([data-verdict=running])");
  await page.waitForFunction(() => Object.keys(window.__drone.charts).some((k) => k.endsWith("throughput") &&
    window.__drone.charts[k].data[0].length > 0));
  await page.waitForSelector(".chart .fault-band");
  out.drawn_after_ms = Date.now() - started;
  out.verdict = await page.locator(".run-header [data-verdict]").getAttribute("data-verdict");
  out.charts = await chartsDrawn(page, runId);
  out.bands = await faultBands(page);
  out.delivery_text = await page.locator("[data-table=delivery]").innerText();
  await page.screenshot({ path: join(artifacts, "run-1m-messages.png"), fullPage: true });
  await context.close();
  out.answers = answers;
}
