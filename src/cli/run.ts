import { hostname as osHostname } from "node:os";
import { applyConfigFile, applyOverride, type Config, ConfigError, defaultConfig } from "../config/config.js";
import type { StreamDecoderStats } from "../decode/stream-decoder.js";
import { RuntimeLookup } from "../enrich/container-runtime.js";
import { Enricher } from "../enrich/enricher.js";
import { procBootTimeNs } from "../enrich/proc-reader.js";
import { ProcessTable } from "../enrich/process-table.js";
import { reportStateMetrics } from "../enrich/state-metrics.js";
import { UserDb } from "../enrich/user-db.js";
import { buildExportSinks } from "../export/build-sinks.js";
import { PeregrineMetrics } from "../export/metrics.js";
import { type MetricsServer, startMetricsServer } from "../export/metrics-server.js";
import { type DetectionSink, FanOutSink } from "../export/sink.js";
import { Pipeline } from "../pipeline.js";
import { type ReloadResult, RulesReloader } from "../reload/rules-reloader.js";
import { RulesError } from "../rules/errors.js";
import { loadRules, type Ruleset } from "../rules/ruleset.js";
import { type SupervisedSensor, startSupervisedSensor } from "../sensor/supervisor.js";
import { DEFAULT_RULES_DIR, VERSION } from "../version.js";
import type { RunFlags } from "./args.js";
import { UsageError } from "./args.js";

/** Diagnostics go to stderr so stdout carries detections only. */
function log(message: string): void {
  process.stderr.write(`peregrine: ${message}\n`);
}

/** Defaults < config file < -o overrides < explicit flags. */
export function resolveRunConfig(flags: RunFlags): Config {
  const config = defaultConfig();
  if (flags.config !== undefined) applyConfigFile(config, flags.config);
  for (const override of flags.overrides) applyOverride(config, override);
  if (flags.rules.length > 0) config.rulesFiles = [...flags.rules];
  if (flags.otlpEndpoint !== undefined) config.otlpEndpoint = flags.otlpEndpoint;
  if (flags.metricsAddress !== undefined) {
    config.metricsAddress = flags.metricsAddress === "off" ? "" : flags.metricsAddress;
  }
  if (flags.output !== undefined) applyOverride(config, `output=${flags.output}`);
  if (flags.loader !== undefined) config.loaderPath = flags.loader;
  return config;
}

function rulesPaths(config: Config): string[] {
  return config.rulesFiles.length > 0 ? config.rulesFiles : [DEFAULT_RULES_DIR];
}

async function loadRuleset(config: Config): Promise<Ruleset> {
  return loadRulesFrom(rulesPaths(config));
}

async function loadRulesFrom(files: readonly string[]): Promise<Ruleset> {
  const ruleset = await loadRules(files);
  for (const warning of ruleset.warnings) log(`warning: ${warning.message}`);
  // Loaded, but comparisons on these fields are false: say so, never silently wrong.
  for (const u of ruleset.unsupportedFields)
    log(
      `warning: ${u.position.file}:${u.position.line}:${u.position.column}: rule '${u.rule}': field '${u.field}' cannot be answered (${u.reason}); comparisons on it are false`,
    );
  log(`loaded ${ruleset.rules.length} rules from ${files.join(", ")}`);
  return ruleset;
}

function buildSinks(config: Config, metrics: PeregrineMetrics, host: string): DetectionSink[] {
  return buildExportSinks(config, { metrics, version: VERSION, hostname: host, log });
}

/** Turns the decoder's running totals into counter increments. */
function decoderErrorReporter(metrics: PeregrineMetrics): (stats: StreamDecoderStats) => void {
  const last = new Map<string, number>();
  const add = (reason: string, total: number): void => {
    const delta = total - (last.get(reason) ?? 0);
    if (delta > 0) metrics.decoderError(reason, delta);
    last.set(reason, total);
  };
  return (stats) => {
    for (const [reason, total] of Object.entries(stats.malformed)) add(reason, total);
    add("unknown_kind", stats.unknownKinds);
    add("framing", stats.framingErrors);
  };
}

/**
 * `peregrine run`: start every stage, run until SIGINT/SIGTERM (or the
 * loader dies), then stop in order: detach from the kernel, flush the
 * exporters, close the metrics server. Resolves with the exit code.
 */
export async function runCommand(flags: RunFlags): Promise<number> {
  let config: Config;
  let ruleset: Ruleset;
  try {
    config = resolveRunConfig(flags);
    ruleset = await loadRuleset(config);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof RulesError || err instanceof UsageError) {
      log(`error: ${err.message}`);
      return 2;
    }
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      log(`error: ${(err as Error).message}`);
      return 2;
    }
    throw err;
  }

  const host = config.hostname || osHostname();
  const metrics = new PeregrineMetrics({ version: VERSION });
  metrics.initRules(ruleset.rules);
  metrics.rulesUnsupportedFields(new Set(ruleset.unsupportedFields.map((u) => u.field)).size);
  const sink = new FanOutSink(buildSinks(config, metrics, host), {
    countersFor: (name) => metrics.exportCounters(name),
    onError: (name, error) => log(`exporter ${name} failed: ${(error as Error).message ?? String(error)}`),
  });

  // Seed before attaching: processes started in between are filled in from /proc on first sight.
  const processes = new ProcessTable({ bootTimeNs: procBootTimeNs(), runtimeLookup: new RuntimeLookup() });
  processes.seedFromProc();
  const enricher = new Enricher(processes, new UserDb(), host);
  const reportStateMisses = reportStateMetrics(enricher, metrics);
  const pipeline = new Pipeline(enricher, ruleset, sink, metrics);

  let server: MetricsServer | undefined;
  if (config.metricsAddress !== "") {
    server = await startMetricsServer({ source: metrics, address: config.metricsAddress });
    log(`metrics on ${server.url}/metrics, health on ${server.url}/healthz`);
  }

  let finish: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => {
    finish = resolve;
  });
  let stopping = false;

  let sensor: SupervisedSensor;
  try {
    // The loader is restarted when it dies; the state tables stay, the gap is counted.
    sensor = await startSupervisedSensor({
      ...(config.loaderPath !== "" && { loaderPath: config.loaderPath }),
      ringbufBytes: config.ringbufBytes,
      statsIntervalMs: config.statsIntervalMs,
      attach: config.sensorAttach,
      // E.g. that it fell back from per-syscall tracepoints to the raw program.
      onLoaderStderr: (line) => log(`loader: ${line}`),
      // The kernel sends what the rules can match plus what the state tables need.
      eventTypes: ruleset.eventTypes,
      onRecord: pipeline.handle,
      onLoaderExit: (code, signal, stderrTail) => {
        if (stopping) return;
        log(`the loader exited (code ${code}, signal ${signal}): ${stderrTail.trim()}; restarting it`);
      },
      onRestart: (restarted, n) => {
        metrics.loaderRestarted();
        log(`loader restarted (pid ${restarted.pid}, restart ${n})`);
      },
      onRestartFailed: (err, retryInMs) =>
        log(`restarting the loader failed: ${err.message}; retry in ${retryInMs} ms`),
      onError: (err) => log(`sensor error: ${err.message}`),
    });
  } catch (err) {
    log(`error: cannot start the sensor: ${(err as Error).message}`);
    await Promise.allSettled([sink.shutdown(), server?.close()]);
    return 1;
  }
  log(`sensor attached (schema ${sensor.header.schemaVersion}, loader pid ${sensor.pid}); ready`);
  if (sensor.filter)
    log(
      `kernel sends ${sensor.filter.eventTypes.size} event types: ${[...sensor.filter.eventTypes].sort().join(" ")}`,
    );
  server?.setReady(true);

  // Hot reload (SIGHUP or a rules file changing): the new set replaces the old only if it compiles.
  const reloader = new RulesReloader({
    paths: rulesPaths(config),
    current: ruleset,
    load: loadRulesFrom,
    apply: (next) => {
      pipeline.replaceRuleset(next);
      metrics.setRules(next.rules);
      metrics.rulesUnsupportedFields(new Set(next.unsupportedFields.map((u) => u.field)).size);
      const filter = sensor.setEventTypes(next.eventTypes);
      log(`kernel sends ${filter.eventTypes.size} event types after the reload`);
    },
    onResult: (result: ReloadResult) => {
      metrics.rulesReloaded(result.ok);
      if (result.ok) log(`rules reloaded (${result.trigger}): ${result.ruleset.rules.length} rules`);
      else
        log(
          `error: rules reload (${result.trigger}) failed, the previous rules keep running: ${result.error.message}`,
        );
    },
  });
  await reloader.watch().catch((err: Error) => log(`warning: not watching the rules files: ${err.message}`));
  const onHangup = (): void => {
    log("SIGHUP: reloading the rules");
    void reloader.reload("signal");
  };
  process.on("SIGHUP", onHangup);

  const reportDecoderErrors = decoderErrorReporter(metrics);
  const statsTimer = setInterval(() => {
    reportDecoderErrors(sensor.decoderStats);
    reportStateMisses();
  }, 1000);
  statsTimer.unref();

  const onSignal = (signal: NodeJS.Signals): void => {
    log(`${signal}: stopping`);
    finish(0);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const code = await finished;
  stopping = true;
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  process.off("SIGHUP", onHangup);
  reloader.stop();
  server?.setReady(false);
  clearInterval(statsTimer);
  await sensor.stop();
  reportDecoderErrors(sensor.decoderStats);
  await sink.shutdown();
  await server?.close();
  log(`stopped after ${pipeline.events} events and ${pipeline.detections} detections`);
  return code;
}
