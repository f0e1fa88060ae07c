/**
 * Token readers for the condition language. Falco's grammar is context
 * dependent (a bare value may contain `/`, `*`, `.`, `<`; `in` is an
 * operator after a field but a value inside a list), so instead of one token
 * stream the parser asks for the token it expects next, like libsinsp's
 * scannerless parser. Token shapes follow libsinsp's parser.h.
 */

const FIELD_NAME = /[a-zA-Z]+[a-zA-Z0-9_]*(?:\.[a-zA-Z]+[a-zA-Z0-9_]*)+/y;
const IDENTIFIER = /[a-zA-Z]+[a-zA-Z0-9_]*/y;
const FIELD_ARG_BARE = /[^\][\s"']+/y;
const BARE_STRING = /[^()\s"'=,]+/y;
const NUMBER = /(?:0[xX][0-9a-zA-Z]+|[+-]?[0-9]+\.?[0-9]*(?:[eE][+-][0-9]+)?)/y;

const BLANKS = new Set([" ", "\t", "\b", "\r", "\n"]);

function isWordChar(c: string | undefined): boolean {
  return c !== undefined && /[a-zA-Z0-9_.]/.test(c);
}

export function unescapeQuoted(body: string): string {
  return body.replace(/\\(.)/gs, (m, c: string) => {
    switch (c) {
      case "n":
        return "\n";
      case "t":
        return "\t";
      case "r":
        return "\r";
      case "\\":
      case '"':
      case "'":
        return c;
      default:
        return m;
    }
  });
}

/** A quoted string: its unescaped text, and where it ended. */
export interface QuotedToken {
  readonly text: string;
}

export class ConditionCursor {
  readonly text: string;
  pos = 0;

  constructor(text: string) {
    this.text = text;
  }

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): string | undefined {
    return this.text[this.pos];
  }

  /** Skips blanks; true when there were some. */
  skipBlank(): boolean {
    const start = this.pos;
    while (this.pos < this.text.length && BLANKS.has(this.text[this.pos] ?? "")) this.pos++;
    return this.pos > start;
  }

  /** Consumes `c` if it is the next character. */
  tryChar(c: string): boolean {
    if (this.text[this.pos] === c) {
      this.pos++;
      return true;
    }
    return false;
  }

  /** Consumes a keyword (`and`, `or`, `not`) when it is a whole word. */
  tryKeyword(word: string): boolean {
    if (this.text.startsWith(word, this.pos) && !isWordChar(this.text[this.pos + word.length])) {
      this.pos += word.length;
      return true;
    }
    return false;
  }

  #sticky(re: RegExp): string | undefined {
    re.lastIndex = this.pos;
    const m = re.exec(this.text);
    if (m === null) return undefined;
    this.pos += m[0].length;
    return m[0];
  }

  /** A dotted field name: `proc.name`, `evt.arg.flags`. */
  tryFieldName(): string | undefined {
    // A field name must not run on into more word characters (`proc.name-x` is no field).
    const start = this.pos;
    const name = this.#sticky(FIELD_NAME);
    if (name !== undefined && isWordChar(this.text[this.pos])) {
      this.pos = start;
      return undefined;
    }
    return name;
  }

  /** A macro name or keyword-like word. */
  tryIdentifier(): string | undefined {
    const start = this.pos;
    const word = this.#sticky(IDENTIFIER);
    if (word !== undefined && isWordChar(this.text[this.pos])) {
      this.pos = start;
      return undefined;
    }
    return word;
  }

  /** `name(` for a transformer in `names`, consuming the parenthesis. */
  tryCall(names: ReadonlySet<string>): string | undefined {
    const start = this.pos;
    const word = this.#sticky(IDENTIFIER);
    if (word !== undefined && names.has(word)) {
      this.skipBlank();
      if (this.tryChar("(")) return word;
    }
    this.pos = start;
    return undefined;
  }

  /** The argument inside `[...]` of a field: quoted or bare. */
  tryFieldArg(): string | undefined {
    return this.tryQuoted()?.text ?? this.#sticky(FIELD_ARG_BARE);
  }

  /** An operator spelled in `spellings` (longest first); word operators must end at a word boundary. */
  tryOperator(spellings: readonly string[]): string | undefined {
    for (const op of spellings) {
      if (!this.text.startsWith(op, this.pos)) continue;
      const wordy = /^[a-z]/.test(op);
      if (wordy && isWordChar(this.text[this.pos + op.length])) continue;
      this.pos += op.length;
      return op;
    }
    return undefined;
  }

  /** A '…' or "…" string with backslash escapes; undefined (and nothing consumed) when unterminated. */
  tryQuoted(): QuotedToken | undefined {
    const quote = this.text[this.pos];
    if (quote !== "'" && quote !== '"') return undefined;
    for (let i = this.pos + 1; i < this.text.length; i++) {
      const c = this.text[i];
      if (c === "\\") {
        i++;
        continue;
      }
      if (c === quote) {
        const body = this.text.slice(this.pos + 1, i);
        this.pos = i + 1;
        return { text: unescapeQuoted(body) };
      }
    }
    return undefined;
  }

  /** True when the next character opens a quote that is never closed. */
  atUnterminatedQuote(): boolean {
    const c = this.text[this.pos];
    return (c === "'" || c === '"') && this.tryQuotedPeek() === undefined;
  }

  private tryQuotedPeek(): QuotedToken | undefined {
    const save = this.pos;
    const q = this.tryQuoted();
    this.pos = save;
    return q;
  }

  /** A bare value: anything up to a blank, quote, parenthesis, comma or `=`. */
  tryBareString(): string | undefined {
    return this.#sticky(BARE_STRING);
  }

  /** A decimal or hex number. */
  tryNumber(): string | undefined {
    const start = this.pos;
    const n = this.#sticky(NUMBER);
    // "12abc" is not a number followed by garbage: treat the whole thing as not-a-number.
    if (n !== undefined && this.pos < this.text.length && /[^\s()=,]/.test(this.text[this.pos] ?? "")) {
      this.pos = start;
      return undefined;
    }
    return n;
  }

  /** A short excerpt of what comes next, for error messages. */
  excerpt(): string {
    const rest = this.text.slice(this.pos);
    const m = /^\S{1,24}/.exec(rest);
    return m === null ? rest.slice(0, 1) : m[0];
  }
}
