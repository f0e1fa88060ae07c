/**
 * Records a capture: the loader's raw stream, plus what /proc and the user
 * database said, as the live agent would have read them. The state tables run
 * during the capture (without rules) so that every /proc read a live run
 * makes happens at the same moment and lands in the file.
 */
import { rmSync } from "node:fs";
import { hostname as osHostname } from "node:os";
import { encodeStreamHeader } from "../decode/stream-header.js";
import { Enricher } from "../enrich/enricher.js";
import { procBootTimeNs } from "../enrich/proc-reader.js";
import { LiveProcSource } from "../enrich/proc-source.js";
import { ProcessTable } from "../enrich/process-table.js";
import { type Sensor, startSensor } from "../sensor/loader-process.js";
import { CaptureWriter } from "./capture-format.js";
import { RecordingProcSource } from "./proc-journal.js";
import { snapshotUsers } from "./static-users.js";

export interface CaptureOptions {
  readonly path: string;
  readonly loaderPath?: string | undefined;
  readonly ringbufBytes?: number | undefined;
  readonly procRoot?: string | undefined;
  readonly passwdPath?: string | undefined;
  readonly groupPath?: string | undefined;
  /** How often buffered records and /proc answers are written; default 200 ms. */
  readonly flushMs?: number | undefined;
}

export interface CaptureResult {
  readonly events: number;
  readonly bytes: number;
  readonly procAnswers: number;
  readonly processesAtStart: number;
}

export interface RunningCapture {
  readonly sensor: Sensor;
  /** Stops the sensor, writes what is left and closes the file. */
  stop(): Promise<CaptureResult>;
}

/** Starts capturing; resolves once the sensor is attached (events from then on are in the file). */
export async function startCapture(options: CaptureOptions): Promise<RunningCapture> {
  const bootTimeNs = procBootTimeNs(options.procRoot);
  const recorder = new RecordingProcSource(
    new LiveProcSource({ bootTimeNs, ...(options.procRoot !== undefined && { procRoot: options.procRoot }) }),
  );
  const processes = new ProcessTable({ bootTimeNs, source: recorder });
  const users = snapshotUsers(options.passwdPath, options.groupPath);
  const enricher = new Enricher(processes, users, osHostname());
  const writer = new CaptureWriter(options.path);
  const { users: userList, groups } = users.entries();
  writer.meta({
    version: 1,
    startedAt: new Date().toISOString(),
    hostname: osHostname(),
    users: userList,
    groups,
  });
  const processesAtStart = processes.seedFromProc();
  writer.proc(recorder.take());

  let pending: Buffer[] = [];
  let headerWritten = false;
  let events = 0;
  let seq = 0;
  let sensor: Sensor | undefined;

  const flush = (): void => {
    if (sensor === undefined) return;
    if (!headerWritten) {
      pending.unshift(encodeStreamHeader(sensor.header));
      headerWritten = true;
    }
    // Records first, then the answers their processing asked for.
    writer.stream(pending);
    pending = [];
    writer.proc(recorder.take());
  };

  try {
    sensor = await startSensor({
      loaderPath: options.loaderPath,
      ringbufBytes: options.ringbufBytes,
      onRawRecord: (buf, offset, size) => {
        pending.push(Buffer.from(buf.subarray(offset, offset + size)));
      },
      onRecord: (record) => {
        recorder.seq = ++seq;
        if (record.kind === "stats") return;
        events++;
        enricher.enrich(record);
        enricher.afterRules(record);
      },
    });
  } catch (err) {
    // Nothing worth keeping: no stream was written.
    writer.close();
    rmSync(options.path, { force: true });
    throw err;
  }
  const attached = sensor;
  const timer = setInterval(flush, options.flushMs ?? 200);
  timer.unref();
  return {
    sensor: attached,
    async stop() {
      clearInterval(timer);
      await attached.stop();
      flush();
      writer.close();
      return { events, bytes: writer.bytes, procAnswers: recorder.recorded, processesAtStart };
    },
  };
}
