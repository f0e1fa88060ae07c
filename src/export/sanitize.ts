import { posix } from "node:path";

/**
 * Secrets out of command lines and environment values before they leave the
 * agent. The semantic conventions ask that process.command_line/args not be
 * collected unsanitized, and a security sensor sees every password typed on
 * a command line. Patterns are compiled once; a cheap pre-check skips text
 * that holds none of the trigger words (most of it).
 */

export const REDACTED = "[REDACTED]";

export interface SanitizerOptions {
  /** Off: everything passes through unchanged. Default on. */
  enabled?: boolean;
  /**
   * Extra patterns (JavaScript regular expressions, matched case-insensitively
   * against each argument and against whole text). With a capture group,
   * group 1 is the secret that is replaced; without one, the whole match.
   */
  patterns?: readonly string[];
}

/** Names that make the next argument, or the value after "=", a secret. */
const SECRET_NAME =
  "(?:password|passwd|passphrase|pass|pwd|secret|token|api[-_]?key|apikey|access[-_]?key|secret[-_]?key|client[-_]?secret|private[-_]?key|auth[-_]?token|access[-_]?token|refresh[-_]?token|session[-_]?token|credentials?)";

/** Clients whose `-p<secret>` (glued) is a password. */
const GLUED_P_CLIENTS: ReadonlySet<string> = new Set([
  "mysql",
  "mysqldump",
  "mysqladmin",
  "mysqlimport",
  "mysqlcheck",
  "mysqlshow",
  "mysqlpump",
  "mysqlsh",
  "mariadb",
  "mariadb-dump",
  "mariadb-admin",
  "sshpass",
]);
/** Clients whose next argument after this flag is a password. */
const SPLIT_FLAGS: Readonly<Record<string, ReadonlySet<string>>> = {
  "redis-cli": new Set(["-a", "--pass", "--askpass"]),
  sshpass: new Set(["-p"]),
  curl: new Set(["-u", "--user", "-H", "--header", "--oauth2-bearer", "--proxy-user"]),
  wget: new Set(["--password", "--http-password", "--ftp-password", "--header"]),
};

/** A text pattern: group 1 (when present) is what is replaced. */
interface TextPattern {
  readonly re: RegExp;
  readonly group: boolean;
}

/** Built-in patterns over free text (a command line, an output, an environment value). */
const TEXT_PATTERNS: readonly TextPattern[] = [
  // Authorization: Bearer abc / Basic abc, in a header argument or a log line.
  {
    re: /\b(?:proxy-)?authorization\s*[:=]\s*(?:(?:bearer|basic|digest|token|negotiate)\s+)?([^\s"',;]+)/gi,
    group: true,
  },
  // --password=x, password=x, token: x, ?access_token=x&, "secret":"x" (the value only).
  {
    re: new RegExp(
      `(?:^|[\\s&?;,"'{(-])-{0,2}[\\w.-]*${SECRET_NAME}["']?\\s*[=:]\\s*["']?([^\\s"'&;,}]+)`,
      "gi",
    ),
    group: true,
  },
  // --password x (separate word).
  { re: new RegExp(`(?:^|\\s)--?${SECRET_NAME}\\s+(?!-)([^\\s"']+)`, "gi"), group: true },
  // scheme://user:secret@host
  { re: /\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@]+:([^\s/@]+)@/gi, group: true },
  // mysql -psecret and friends, in a whole command line.
  {
    re: /(?:^|[\s/=("'])(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mysqlshow|mysqlpump|mysqlsh|mariadb|mariadb-dump|mariadb-admin|sshpass)\b[^\n]*?\s-p([^\s\-)"'\]][^\s)"'\]]*)/gi,
    group: true,
  },
  // AWS secret access key / session token values named as such.
  {
    re: /\baws_(?:secret_access_key|session_token)\b["']?\s*[=:]\s*["']?([A-Za-z0-9/+=]{16,})/gi,
    group: true,
  },
  // PEM private keys.
  { re: /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g, group: false },
];

/** Fast reject: text with none of these cannot match a built-in pattern. */
const TRIGGER =
  /(?:pass|pwd|secret|token|key|auth|credential)[\w.-]*["']?\s*[=:]|--?[\w.-]*(?:pass|pwd|secret|token|key|auth|credential)[\w.-]*\s|:\/\/[^\s/:@]+:[^\s/@]+@|mysql|mariadb|sshpass|PRIVATE KEY/i;

/** Environment variables whose whole value is a secret. */
const SECRET_ENV_NAME = new RegExp(`${SECRET_NAME}|_KEY$|^AWS_SECRET|^PGPASSWORD$`, "i");

function compileUserPattern(source: string): TextPattern {
  let re: RegExp;
  try {
    re = new RegExp(source, "gi");
  } catch (error) {
    throw new Error(`bad sanitize pattern ${JSON.stringify(source)}: ${(error as Error).message}`);
  }
  // A pattern with at least one capture group replaces group 1; otherwise the whole match.
  const group = new RegExp(`${source}|`).exec("")?.length !== 1;
  return { re, group };
}

function apply(text: string, pattern: TextPattern): string {
  pattern.re.lastIndex = 0;
  if (!pattern.group) return text.replace(pattern.re, REDACTED);
  return text.replace(pattern.re, (match: string, secret: string | undefined, offset: number) => {
    if (secret === undefined || secret === "" || secret === REDACTED) return match;
    // Replace group 1 where it sits in the match (its last occurrence: the value follows the name).
    const at = match.lastIndexOf(secret);
    void offset;
    return at < 0 ? match : match.slice(0, at) + REDACTED + match.slice(at + secret.length);
  });
}

export class Sanitizer {
  readonly enabled: boolean;
  private readonly userPatterns: readonly TextPattern[];

  constructor(options: SanitizerOptions = {}) {
    this.enabled = options.enabled !== false;
    this.userPatterns = (options.patterns ?? []).map(compileUserPattern);
  }

  /** Free text: a command line, a rendered output, a field value. */
  text(text: string): string {
    if (!this.enabled || text === "") return text;
    let out = text;
    if (TRIGGER.test(out)) for (const pattern of TEXT_PATTERNS) out = apply(out, pattern);
    for (const pattern of this.userPatterns) out = apply(out, pattern);
    return out;
  }

  /**
   * argv, argument by argument, knowing the program: flags whose value is
   * the next argument (`--password x`, `redis-cli -a x`, `curl -u u:p`) and
   * glued `-p<secret>` of the MySQL family are redacted, then each argument
   * goes through text(). Returns the input array itself when nothing changed.
   */
  argv(argv: readonly string[]): readonly string[] {
    if (!this.enabled || argv.length === 0) return argv;
    const program = posix.basename(argv[0] as string);
    const glued = GLUED_P_CLIENTS.has(program);
    const split = SPLIT_FLAGS[program];
    let out: string[] | undefined;
    const set = (i: number, value: string) => {
      if (value === argv[i]) return;
      out ??= [...argv];
      out[i] = value;
    };
    for (let i = 1; i < argv.length; i++) {
      const arg = argv[i] as string;
      const next = argv[i + 1];
      if (next !== undefined && (SEPARATE_SECRET_FLAG.test(arg) || split?.has(arg) === true)) {
        set(i, this.text(arg));
        set(i + 1, splitValue(arg, next));
        i++;
        continue;
      }
      if (glued && arg.length > 2 && arg.startsWith("-p") && arg !== "--password") {
        set(i, `-p${REDACTED}`);
        continue;
      }
      set(i, this.text(arg));
    }
    return out ?? argv;
  }

  /** One environment variable's value: wholly redacted when the name says secret, else text(). */
  envValue(name: string, value: string): string {
    if (!this.enabled) return value;
    return SECRET_ENV_NAME.test(name) ? REDACTED : this.text(value);
  }

  /**
   * Falco's proc.env rendering ("A=1 B=2 …", or one "NAME=value"): each
   * NAME=value pair's value through envValue().
   */
  envText(text: string): string {
    if (!this.enabled) return text;
    return text.replace(
      /(^|\s)([A-Za-z_][A-Za-z0-9_]*)=(\S*)/g,
      (_m, lead: string, name: string, value: string) =>
        `${lead}${name}=${value === "" ? "" : this.envValue(name, value)}`,
    );
  }
}

/** `--password x`, `-p x` is ambiguous (port for many tools): only long secret names here. */
const SEPARATE_SECRET_FLAG = new RegExp(`^--?${SECRET_NAME}$`, "i");

/** The value after a secret flag: for user:password forms keep the user, for headers keep the name. */
function splitValue(flag: string, value: string): string {
  if (flag === "-u" || flag === "--user" || flag === "--proxy-user") {
    const colon = value.indexOf(":");
    return colon < 0 ? value : `${value.slice(0, colon + 1)}${REDACTED}`;
  }
  if (flag === "-H" || flag === "--header") {
    const colon = value.indexOf(":");
    if (colon < 0) return value;
    const name = value.slice(0, colon).trim();
    return /authorization|token|key|secret|cookie/i.test(name)
      ? `${value.slice(0, colon + 1)} ${REDACTED}`
      : value;
  }
  return REDACTED;
}

/** Sanitization off: for tests and for users who asked. */
export const NO_SANITIZER = new Sanitizer({ enabled: false });
