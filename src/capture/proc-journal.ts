/**
 * What /proc answered during a capture, so a replay on another machine gets
 * the same answers without reading its own /proc.
 *
 * The recording source wraps the live one and notes every answer with the
 * position in the stream (record sequence number) at which it was asked.
 * The replaying source answers a question with the answer recorded for the
 * same question at or before the same position: the state tables make the
 * same calls at the same records in both runs, because they see the same
 * events; a call only the replay makes (a rule walking an ancestry the
 * capture never needed) gets the nearest recorded answer, or none.
 */
import type { FdInfo } from "../enrich/fd-info.js";
import type { ExecProcFacts } from "../enrich/proc-reader.js";
import type { FdListing, ProcSource } from "../enrich/proc-source.js";
import type { ContainerInfo, K8sInfo, ProcessInfo } from "../enrich/process-info.js";

/** One recorded answer: [record sequence number, question key, JSON-safe answer]. */
export type JournalEntry = readonly [seq: number, key: string, answer: unknown];

/** ProcessInfo with bigints as decimal strings and Maps as entry lists: JSON-safe. */
interface ProcessJson
  extends Omit<
    ProcessInfo,
    | "startNs"
    | "cgroupId"
    | "capEffective"
    | "capPermitted"
    | "capInheritable"
    | "exeCtimeNs"
    | "exeMtimeNs"
    | "env"
    | "container"
  > {
  startNs: string;
  cgroupId: string;
  capEffective: string;
  capPermitted: string;
  capInheritable: string;
  exeCtimeNs: string;
  exeMtimeNs: string;
  env: [string, string][];
  container: ContainerJson;
}

interface ContainerJson extends Omit<ContainerInfo, "labels" | "k8s"> {
  labels: [string, string][];
  k8s: (Omit<K8sInfo, "podLabels"> & { podLabels: [string, string][] }) | null;
}

interface ExecJson extends Omit<ExecProcFacts, "env" | "container"> {
  env: [string, string][];
  container: ContainerJson;
}

function containerToJson(c: ContainerInfo): ContainerJson {
  return {
    id: c.id,
    fullId: c.fullId,
    runtime: c.runtime,
    name: c.name,
    image: c.image,
    labels: [...c.labels],
    k8s: c.k8s === undefined ? null : { ...c.k8s, podLabels: [...c.k8s.podLabels] },
  };
}

function containerFromJson(c: ContainerJson): ContainerInfo {
  const k8s = c.k8s === null ? undefined : { ...c.k8s, podLabels: new Map(c.k8s.podLabels) };
  return { ...c, labels: new Map(c.labels), k8s };
}

export function processToJson(p: ProcessInfo): ProcessJson {
  return {
    ...p,
    startNs: p.startNs.toString(),
    cgroupId: p.cgroupId.toString(),
    capEffective: p.capEffective.toString(),
    capPermitted: p.capPermitted.toString(),
    capInheritable: p.capInheritable.toString(),
    exeCtimeNs: p.exeCtimeNs.toString(),
    exeMtimeNs: p.exeMtimeNs.toString(),
    env: [...p.env],
    container: containerToJson(p.container),
  };
}

/** Rebuilds a ProcessInfo; throws naming the field when the JSON is not one. */
export function processFromJson(j: ProcessJson): ProcessInfo {
  if (typeof j !== "object" || j === null || typeof j.pid !== "number" || typeof j.startNs !== "string") {
    throw new Error("not a process entry (pid/startNs missing)");
  }
  return {
    ...j,
    argv: [...j.argv],
    startNs: BigInt(j.startNs),
    cgroupId: BigInt(j.cgroupId),
    capEffective: BigInt(j.capEffective),
    capPermitted: BigInt(j.capPermitted),
    capInheritable: BigInt(j.capInheritable),
    exeCtimeNs: BigInt(j.exeCtimeNs),
    exeMtimeNs: BigInt(j.exeMtimeNs),
    env: new Map(j.env),
    container: containerFromJson(j.container),
  };
}

/** Wraps a live ProcSource and notes every answer. */
export class RecordingProcSource implements ProcSource {
  /** Sequence number of the record being processed (0 = before the first record). */
  seq = 0;
  private pending: JournalEntry[] = [];
  /** Answers recorded in all. */
  recorded = 0;

  constructor(private readonly live: ProcSource) {}

  /** The answers recorded since the last call. */
  take(): JournalEntry[] {
    const out = this.pending;
    this.pending = [];
    return out;
  }

  private note(key: string, answer: unknown): void {
    this.pending.push([this.seq, key, answer]);
    this.recorded++;
  }

  listPids(): number[] {
    const pids = this.live.listPids();
    this.note("pids", pids);
    return pids;
  }

  readProcess(pid: number): ProcessInfo | undefined {
    const info = this.live.readProcess(pid);
    this.note(`proc:${pid}`, info === undefined ? null : processToJson(info));
    return info;
  }

  readExec(pid: number): ExecProcFacts | undefined {
    const facts = this.live.readExec(pid);
    this.note(
      `exec:${pid}`,
      facts === undefined
        ? null
        : { ...facts, env: [...facts.env], container: containerToJson(facts.container) },
    );
    return facts;
  }

  tgidOf(tid: number): number | undefined {
    const tgid = this.live.tgidOf(tid);
    this.note(`tgid:${tid}`, tgid ?? null);
    return tgid;
  }

  readFd(pid: number, fd: number): FdInfo | undefined {
    const info = this.live.readFd(pid, fd);
    this.note(`fd:${pid}:${fd}`, info ?? null);
    return info;
  }

  listFds(pid: number): FdListing | undefined {
    const fds = this.live.listFds(pid);
    this.note(`fds:${pid}`, fds === undefined ? null : [fds.atNs.toString(), fds.nums]);
    return fds;
  }

  cgroupPath(id: bigint): string | undefined {
    const path = this.live.cgroupPath(id);
    this.note(`cg:${id}`, path ?? null);
    return path;
  }
}

interface Answers {
  readonly entries: { seq: number; answer: unknown }[];
  next: number;
}

/** Answers from a journal; never touches this machine's /proc. */
export class ReplayProcSource implements ProcSource {
  /** Sequence number of the record being processed. */
  seq = 0;
  private readonly byKey = new Map<string, Answers>();
  /** Questions the journal had no answer for, and the first few of them ("proc:42@17": key at record). */
  unanswered = 0;
  readonly unansweredSample: string[] = [];

  /** Adds recorded answers (in recording order). */
  add(entries: readonly JournalEntry[]): void {
    for (const [seq, key, answer] of entries) {
      let a = this.byKey.get(key);
      if (a === undefined) {
        a = { entries: [], next: 0 };
        this.byKey.set(key, a);
      }
      a.entries.push({ seq, answer });
    }
  }

  /**
   * The answer recorded for this question at this point of the stream: the
   * next unused one asked at or before the current record; past those, the
   * last one (the state /proc was last seen in).
   */
  private answer(key: string): unknown {
    const a = this.byKey.get(key);
    if (a === undefined || a.entries.length === 0) {
      this.unanswered++;
      if (this.unansweredSample.length < 20) this.unansweredSample.push(`${key}@${this.seq}`);
      return null;
    }
    // Skip answers recorded at earlier records that this run did not ask for.
    const at = (i: number): number => a.entries[i]?.seq ?? Number.MAX_SAFE_INTEGER;
    while (a.next + 1 < a.entries.length && at(a.next) < this.seq && at(a.next + 1) <= this.seq) a.next++;
    const e = a.entries[a.next];
    // Used: a second question at this record gets the next answer recorded at it.
    if (a.next + 1 < a.entries.length && at(a.next + 1) <= this.seq) a.next++;
    return e?.answer ?? null;
  }

  listPids(): number[] {
    return (this.answer("pids") as number[] | null) ?? [];
  }

  readProcess(pid: number): ProcessInfo | undefined {
    const j = this.answer(`proc:${pid}`) as ProcessJson | null;
    return j === null ? undefined : processFromJson(j);
  }

  readExec(pid: number): ExecProcFacts | undefined {
    const j = this.answer(`exec:${pid}`) as ExecJson | null;
    return j === null ? undefined : { ...j, env: new Map(j.env), container: containerFromJson(j.container) };
  }

  tgidOf(tid: number): number | undefined {
    return (this.answer(`tgid:${tid}`) as number | null) ?? undefined;
  }

  readFd(pid: number, fd: number): FdInfo | undefined {
    const j = this.answer(`fd:${pid}:${fd}`) as FdInfo | null;
    return j === null ? undefined : { ...j };
  }

  listFds(pid: number): FdListing | undefined {
    const j = this.answer(`fds:${pid}`) as [string, number[]] | null;
    return j === null ? undefined : { atNs: BigInt(j[0]), nums: j[1] };
  }

  cgroupPath(id: bigint): string | undefined {
    return (this.answer(`cg:${id}`) as string | null) ?? undefined;
  }
}
