/**
 * Text that knows where each of its characters came from.
 *
 * Conditions are assembled from pieces (a YAML scalar, an appended condition
 * from another file, generated exception text), but an error must point at
 * the offending token in the file the user wrote. A SourceText maps any
 * offset of the assembled text back to a file position.
 */
import type { SourcePosition } from "./errors.js";

export interface SourceText {
  readonly text: string;
  /** File position of the character at `offset`; `text.length` gives the position just after the end. */
  positionAt(offset: number): SourcePosition;
}

/** Offsets of the first character of every line, for binary search. */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) === 10) starts.push(i + 1);
  }
  return starts;
}

/** Text that starts at `start` in `file` and is laid out as is (a test string, a whole file). */
export function plainSourceText(
  text: string,
  file: string,
  start: { line: number; column: number } = { line: 1, column: 1 },
): SourceText {
  let starts: number[] | undefined;
  return {
    text,
    positionAt(offset) {
      starts ??= lineStarts(text);
      const clamped = Math.max(0, Math.min(offset, text.length));
      let lo = 0;
      let hi = starts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if ((starts[mid] ?? 0) <= clamped) lo = mid;
        else hi = mid - 1;
      }
      const column = clamped - (starts[lo] ?? 0);
      return lo === 0
        ? { file, line: start.line, column: start.column + column }
        : { file, line: start.line + lo, column: column + 1 };
    },
  };
}

/** Text whose characters come from explicit source offsets (a YAML scalar after unfolding/unescaping). */
export function mappedSourceText(
  text: string,
  /** offsets[i] is the position of text[i]; offsets has text.length + 1 entries. */
  offsets: ArrayLike<number>,
  toPosition: (sourceOffset: number) => SourcePosition,
): SourceText {
  return {
    text,
    positionAt(offset) {
      const i = Math.max(0, Math.min(offset, text.length));
      return toPosition(offsets[i] ?? offsets[offsets.length - 1] ?? 0);
    },
  };
}

/** A piece of generated text: every character of it maps to one position. */
export interface GeneratedPiece {
  readonly text: string;
  readonly at: SourcePosition;
}

export type SourcePiece = SourceText | GeneratedPiece;

function isSourceText(p: SourcePiece): p is SourceText {
  return "positionAt" in p;
}

/** Concatenation of pieces, each keeping its own positions. */
export function composeSourceText(pieces: readonly SourcePiece[]): SourceText {
  const starts: number[] = [];
  let text = "";
  for (const p of pieces) {
    starts.push(text.length);
    text += p.text;
  }
  return {
    text,
    positionAt(offset) {
      const clamped = Math.max(0, Math.min(offset, text.length));
      // Last piece starting at or before the offset: an offset on a boundary belongs to the
      // piece that starts there, and empty pieces are skipped over.
      let i = pieces.length - 1;
      while (i > 0 && (starts[i] ?? 0) > clamped) i--;
      const piece = pieces[i];
      if (piece === undefined) return { file: "<empty>", line: 1, column: 1 };
      const local = clamped - (starts[i] ?? 0);
      return isSourceText(piece) ? piece.positionAt(local) : piece.at;
    },
  };
}
