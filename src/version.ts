import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The package root: two levels above this file both in src/ (tests) and dist/ (built). */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The version in package.json, the one source of it. */
export const VERSION: string = (
  JSON.parse(readFileSync(resolve(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string }
).version;

/** Our default ruleset: the *.yaml files of rules/, loaded in name order. */
export const DEFAULT_RULES_DIR = resolve(PACKAGE_ROOT, "rules");
