/**
 * Maps the characters of a parsed YAML scalar back to where they are in the
 * file. YAML folds lines, strips indentation and unescapes quotes, so offset i
 * of a condition string is not offset start+i of the file; an error in a
 * condition must still point at the right line and column.
 */
import type { LineCounter, Scalar } from "yaml";
import type { SourcePosition } from "./errors.js";
import { mappedSourceText, type SourceText } from "./source-text.js";

export function positionOfOffset(lines: LineCounter, file: string, offset: number): SourcePosition {
  const { line, col } = lines.linePos(offset);
  return { file, line, column: col };
}

function isBlank(c: string | undefined): boolean {
  return c === " " || c === "\t" || c === "\n" || c === "\r";
}

/** Where the scalar's content starts in the file: after a quote, or after a block header line. */
function contentStart(scalar: Scalar, source: string, start: number): number {
  switch (scalar.type) {
    case "QUOTE_DOUBLE":
    case "QUOTE_SINGLE":
      return start + 1;
    case "BLOCK_FOLDED":
    case "BLOCK_LITERAL": {
      const nl = source.indexOf("\n", start);
      return nl < 0 ? start : nl + 1;
    }
    default:
      return start;
  }
}

/**
 * Aligns the scalar's value with its source text greedily: each value
 * character is matched with the next equal source character, a value blank
 * with the next source blank (folded line breaks, indentation), so escape
 * sequences and doubled quotes are skipped over. Good enough for positions of
 * error messages; it never fails, it only becomes less precise.
 */
export function scalarSourceText(
  scalar: Scalar,
  value: string,
  source: string,
  lines: LineCounter,
  file: string,
): SourceText {
  const range = scalar.range ?? [0, 0, 0];
  const end = Math.min(range[1], source.length);
  let j = contentStart(scalar, source, range[0]);
  const offsets = new Int32Array(value.length + 1);
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (isBlank(c)) {
      if (j < end && isBlank(source[j])) {
        offsets[i] = j;
        j++;
      } else if (j < end && source[j] === "\\") {
        offsets[i] = j;
        j += 2;
      } else {
        offsets[i] = j;
      }
      continue;
    }
    let k = j;
    while (k < end && source[k] !== c) k++;
    if (k < end) {
      offsets[i] = k;
      j = k + 1;
    } else {
      offsets[i] = Math.min(j, Math.max(end - 1, 0));
    }
  }
  offsets[value.length] = j;
  return mappedSourceText(value, offsets, (o) => positionOfOffset(lines, file, o));
}
