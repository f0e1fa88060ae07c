// Runs a bench against another build in the same run: the bench's own file
// again, once per build and round, each in a fresh process (so neither build
// inherits the other's JIT state or heap), the order alternating round by
// round so drift on a shared machine hits both. The child is the same script
// with `--dist DIR --json`: it prints one JSON line with its figures, and
// any other lines it prints are passed on, labelled.
//
// Shared by export-throughput.mjs and export-cost.mjs.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

/** --baseline DIR, and the internal --dist DIR / --json a child gets. */
export function buildArgs() {
  return parseArgs({
    options: {
      baseline: { type: "string" },
      // Internal (the --baseline driver's children): the dist/ to load, and a JSON result line.
      dist: { type: "string" },
      json: { type: "boolean", default: false },
    },
  }).values;
}

/** A checkout's dist/ (or DIR itself when it is one). */
export const distOf = (dir) => (existsSync(join(dir, "dist")) ? join(dir, "dist") : dir);

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * `this build` (root's dist/) and `baseline`, each run `runs` times by
 * `script`; returns the builds and, per build, the JSON results in run order.
 */
export function alternateBuilds(script, root, baseline, runs) {
  const builds = [
    { name: "this build", dist: join(root, "dist") },
    { name: "baseline", dist: distOf(resolve(baseline)) },
  ];
  const results = builds.map(() => []);
  for (let run = 0; run < runs; run++) {
    for (const k of run % 2 === 0 ? [0, 1] : [1, 0]) {
      const child = spawnSync(process.execPath, [script, "--dist", builds[k].dist, "--json"], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
        env: process.env,
      });
      const lines = child.stdout.trim().split("\n");
      const line = lines.find((l) => l.startsWith("{"));
      if (child.status !== 0 || line === undefined)
        throw new Error(`${builds[k].name}: run failed (${child.status})`);
      results[k].push(JSON.parse(line));
      for (const l of lines.filter((l) => l !== "" && !l.startsWith("{")))
        console.log(`[${builds[k].name}, run ${run + 1}] ${l}`);
    }
  }
  return { builds, results };
}
