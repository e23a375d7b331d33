// Builds the front end into --outdir (default dist/): one bundled script, one stylesheet and
// index.html. Used by `npm run build` and by the C++ build (cmake/BuildUi.cmake), which embeds
// the output into the drone binary.
import * as esbuild from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const arg = process.argv.find((a) => a.startsWith("--outdir="));
const outdir = arg ? arg.slice("--outdir=".length) : "dist";
mkdirSync(outdir, { recursive: true });
await esbuild.build({
  entryPoints: { app: "src/main.ts" },
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  outdir,
  loader: { ".css": "css" },
  legalComments: "none",
  logLevel: "warning",
});
copyFileSync("index.html", join(outdir, "index.html"));
