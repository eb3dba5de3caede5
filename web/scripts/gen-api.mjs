#!/usr/bin/env node
// Regenerates lib/api/schema.d.ts from the API's OpenAPI document, dumped by Python without a
// running server. `--check` regenerates into a temporary file and fails if the committed schema is
// stale (the API changed and `npm run gen:api` was not run).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const webDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const repoDir = resolve(webDir, "..");
const schemaPath = join(webDir, "lib", "api", "schema.d.ts");
const specPath = join(webDir, "openapi.json");
const check = process.argv.includes("--check");

function python() {
  if (process.env.PYTHON) return process.env.PYTHON;
  const venv = join(repoDir, ".venv", "bin", "python");
  return existsSync(venv) ? venv : "python3";
}

const dump = spawnSync(
  python(),
  [
    "-c",
    "import json, sys; from api.app import create_app; " +
      "json.dump(create_app().openapi(), sys.stdout, indent=2, ensure_ascii=False)",
  ],
  { cwd: repoDir, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
);
if (dump.status !== 0) {
  process.stderr.write(dump.stderr || "could not dump the OpenAPI document\n");
  process.exit(1);
}
writeFileSync(specPath, dump.stdout + "\n");

const target = check ? join(mkdtempSync(join(tmpdir(), "sd-api-")), "schema.d.ts") : schemaPath;
const gen = spawnSync(
  join(webDir, "node_modules", ".bin", "openapi-typescript"),
  [specPath, "--output", target, "--alphabetize", "--empty-objects-unknown"],
  { cwd: webDir, encoding: "utf8" },
);
if (gen.status !== 0) {
  process.stderr.write(gen.stderr || gen.stdout);
  process.exit(1);
}

if (check) {
  const committed = existsSync(schemaPath) ? readFileSync(schemaPath, "utf8") : "";
  if (committed !== readFileSync(target, "utf8")) {
    process.stderr.write(
      "web/lib/api/schema.d.ts is stale: the API's OpenAPI changed. Run `npm run gen:api` in web/.\n",
    );
    process.exit(1);
  }
  process.stdout.write("web/lib/api/schema.d.ts matches the API's OpenAPI document\n");
} else {
  process.stdout.write(`wrote ${schemaPath}\n`);
}
