/**
 * open(2) flags the way Falco shows them. The kernel reports the raw O_*
 * bits of this architecture; Falco's driver first maps them to its own
 * portable PPM_O_* bits (where O_RDONLY is a bit of its own) and libsinsp
 * renders those as names joined with "|" in the order of its flags table,
 * e.g. "O_TRUNC|O_CREAT|O_WRONLY|O_CLOEXEC".
 */

const PPM_O_RDONLY = 1 << 0;
const PPM_O_WRONLY = 1 << 1;
const PPM_O_RDWR = PPM_O_RDONLY | PPM_O_WRONLY;
const PPM_O_CREAT = 1 << 2;
const PPM_O_APPEND = 1 << 3;
const PPM_O_DSYNC = 1 << 4;
const PPM_O_EXCL = 1 << 5;
const PPM_O_NONBLOCK = 1 << 6;
const PPM_O_SYNC = 1 << 7;
const PPM_O_TRUNC = 1 << 8;
const PPM_O_DIRECT = 1 << 9;
const PPM_O_DIRECTORY = 1 << 10;
const PPM_O_LARGEFILE = 1 << 11;
const PPM_O_CLOEXEC = 1 << 12;
const PPM_O_TMPFILE = 1 << 13;

/** Linux O_* values; O_DIRECT/O_DIRECTORY/O_LARGEFILE differ on arm. */
const ARM = process.arch === "arm64" || process.arch === "arm";
export const O_ACCMODE = 0o3;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_TRUNC = 0o1000;
const O_APPEND = 0o2000;
const O_NONBLOCK = 0o4000;
const O_DSYNC = 0o10000;
const O_DIRECT = ARM ? 0o200000 : 0o40000;
const O_LARGEFILE = ARM ? 0o400000 : 0o100000;
export const O_DIRECTORY = ARM ? 0o40000 : 0o200000;
const O_CLOEXEC = 0o2000000;
const O_SYNC_BIT = 0o4000000; // __O_SYNC
const O_TMPFILE_BIT = 0o20000000; // __O_TMPFILE (O_TMPFILE also sets O_DIRECTORY)

const LINUX_TO_PPM: readonly (readonly [number, number])[] = [
  [O_CREAT, PPM_O_CREAT],
  [O_APPEND, PPM_O_APPEND],
  [O_DSYNC, PPM_O_DSYNC],
  [O_EXCL, PPM_O_EXCL],
  [O_NONBLOCK, PPM_O_NONBLOCK],
  [O_SYNC_BIT, PPM_O_SYNC],
  [O_TRUNC, PPM_O_TRUNC],
  [O_DIRECT, PPM_O_DIRECT],
  [O_DIRECTORY, PPM_O_DIRECTORY],
  [O_LARGEFILE, PPM_O_LARGEFILE],
  [O_CLOEXEC, PPM_O_CLOEXEC],
  [O_TMPFILE_BIT, PPM_O_TMPFILE],
];

/** Raw Linux flags → Falco's PPM_O_* bits (what evt.rawarg.flags shows). */
export function openFlagsToPpm(flags: number): number {
  const acc = flags & O_ACCMODE;
  let ppm = acc === O_WRONLY ? PPM_O_WRONLY : acc === O_RDWR ? PPM_O_RDWR : PPM_O_RDONLY;
  for (let i = 0; i < LINUX_TO_PPM.length; i++) {
    const pair = LINUX_TO_PPM[i] as readonly [number, number];
    if ((flags & pair[0]) !== 0) ppm |= pair[1];
  }
  return ppm;
}

/** libsinsp's file_flags table, in its order (the order names are rendered in). */
const FLAG_NAMES: readonly (readonly [string, number])[] = [
  ["O_LARGEFILE", PPM_O_LARGEFILE],
  ["O_DIRECTORY", PPM_O_DIRECTORY],
  ["O_DIRECT", PPM_O_DIRECT],
  ["O_TRUNC", PPM_O_TRUNC],
  ["O_SYNC", PPM_O_SYNC],
  ["O_NONBLOCK", PPM_O_NONBLOCK],
  ["O_EXCL", PPM_O_EXCL],
  ["O_DSYNC", PPM_O_DSYNC],
  ["O_APPEND", PPM_O_APPEND],
  ["O_CREAT", PPM_O_CREAT],
  ["O_RDWR", PPM_O_RDWR],
  ["O_WRONLY", PPM_O_WRONLY],
  ["O_RDONLY", PPM_O_RDONLY],
  ["O_CLOEXEC", PPM_O_CLOEXEC],
  ["O_NONE", 0],
  ["O_TMPFILE", PPM_O_TMPFILE],
];

/**
 * libsinsp's rendering: walk the table; a flag whose bits are all still set is
 * named and its bits cleared (so O_RDWR hides O_WRONLY and O_RDONLY); an entry
 * equal to the whole value ends the walk and is named last.
 */
export function renderPpmOpenFlags(ppm: number): string {
  const names: string[] = [];
  let rest = ppm;
  let i = 0;
  for (; i < FLAG_NAMES.length; i++) {
    const [name, value] = FLAG_NAMES[i] ?? ["", 0];
    if (value === ppm) break;
    if (value !== 0 && rest !== 0 && (rest & value) === value) {
      names.push(name);
      rest &= ~value;
    }
  }
  const exact = FLAG_NAMES[i];
  if (exact !== undefined) names.push(exact[0]);
  return names.join("|");
}

export function renderOpenFlags(linuxFlags: number): string {
  return renderPpmOpenFlags(openFlagsToPpm(linuxFlags));
}

/** The file is opened for reading (O_RDONLY or O_RDWR); same answer as the PPM_O_RDONLY bit, without mapping. */
export function opensForRead(linuxFlags: number): boolean {
  return (linuxFlags & O_ACCMODE) !== O_WRONLY;
}

/** The file is opened for writing (O_WRONLY or O_RDWR); same answer as the PPM_O_WRONLY bit. */
export function opensForWrite(linuxFlags: number): boolean {
  const acc = linuxFlags & O_ACCMODE;
  return acc === O_WRONLY || acc === O_RDWR;
}

/** A file may be created (O_CREAT or O_TMPFILE): only then does the mode argument matter. */
export function mayCreate(linuxFlags: number): boolean {
  return (linuxFlags & (O_CREAT | O_TMPFILE_BIT)) !== 0;
}

/** S_IXUSR | S_IXGRP | S_IXOTH. */
export const EXEC_MODE_BITS = 0o111;
