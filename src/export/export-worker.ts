/**
 * An export worker thread (export-workers.ts starts it): it owns the
 * OpenTelemetry SDK side of OTLP export — one LoggerProvider per workload
 * resource (sdk-records.ts) and the SDK's OTLPLogExporter — and turns each
 * batch of DetectionRecords it is sent into SDK log records, exports them
 * and answers with what the export came to. No queue here: the main
 * thread's DurableDelivery decides what is sent when, keeps the spool and
 * counts; a batch is in this thread only while it is being sent.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { DetectionRecord } from "./detection-record.js";
import type { FromWorker, ToWorker, WorkerSettings } from "./export-workers.js";
import { createOtlpExporter, exportRecords, forwardSdkDiagnostics } from "./otlp-exporter.js";
import type { PackedBatch } from "./packed-batch.js";
import { SdkRecordMaker } from "./sdk-records.js";

const port = parentPort;
if (port === null) throw new Error("export-worker.ts runs as a worker thread");
const settings = workerData as WorkerSettings;
const post = (message: FromWorker): void => port.postMessage(message);

forwardSdkDiagnostics((message) => post({ type: "log", message }));
const target = createOtlpExporter(settings.transport, settings.concurrencyLimit);
const maker = new SdkRecordMaker(settings.limits);
post({ type: "ready" });

async function send(id: number, batch: DetectionRecord[] | PackedBatch): Promise<void> {
  let records: ReturnType<SdkRecordMaker["make"]>;
  try {
    records = Array.isArray(batch) ? maker.make(batch) : maker.makePacked(batch);
  } catch (error) {
    // Records the SDK cannot make are not going to work on a second try either.
    post({
      type: "outcome",
      id,
      outcome: { kind: "fail", error: `making SDK records: ${(error as Error).message}` },
    });
    return;
  }
  post({ type: "outcome", id, outcome: await exportRecords(target, records) });
}

port.on("message", (message: ToWorker) => {
  if (message.type === "send-packed") void send(message.id, message.packed);
  else if (message.type === "send") void send(message.id, message.batch);
  else if (message.type === "renew") target.renew?.();
  else if (message.type === "shutdown") {
    target.exporter
      .shutdown()
      .catch(() => {})
      .finally(() => post({ type: "closed" }));
  }
});
