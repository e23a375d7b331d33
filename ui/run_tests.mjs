// Runs the front end's unit tests: every src/*_test.mjs, bundled by esbuild with the TypeScript it
// imports into a temporary directory (removed afterwards) and run there by node's test runner.
// `npm test`; ctest ui_unit.
import * as esbuild from "esbuild";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const src = join(dirname(fileURLToPath(import.meta.url)), "src");
const files = readdirSync(src).filter((f) => f.endsWith("_test.mjs")).sort();
if (!files.length) throw new Error(`no *_test.mjs in ${src}`);
const out = mkdtempSync(join(tmpdir(), "drone-ui-test-"));
try {
  for (const f of files) {
    await esbuild.build({
      entryPoints: [join(src, f)], bundle: true, outfile: join(out, f), platform: "node", format: "esm",
      target: "node18", sourcemap: "inline", logLevel: "warning",
    });
    await import(pathToFileURL(join(out, f)).href);
  }
} finally {
  // The tests run once their module is loaded; node's runner reports when they are done, after
  // this, so the files only go once the process exits.
  process.on("exit", () => rmSync(out, { recursive: true, force: true }));
}
