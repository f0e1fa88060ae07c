import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatJsonLine, formatTextLine } from "../../src/export/falco-format.js";
import { chooseStdoutFormat } from "../../src/export/stdout.js";
import { clockTimeNano, nsToHrTime, rfc3339Nano } from "../../src/export/time.js";
import { makeDetection, makeRule } from "../support/detection-fixtures.js";

const FALCO_KEYS = ["hostname", "output", "output_fields", "priority", "rule", "source", "tags", "time"];

describe("Falco JSON line", () => {
  it("has exactly Falco's keys, with Falco's spellings and typed output fields", () => {
    const line = formatJsonLine(
      makeDetection({
        outputFields: {
          "proc.name": "cat",
          "proc.pid": 4242,
          "evt.is_open_read": true,
          "container.id": null,
          "proc.exe_ino.ctime": 18_446_744_073_709_551_615n,
          "evt.rawres": -2n,
        },
      }),
    );
    expect(line.endsWith("}\n")).toBe(true);
    expect(line.indexOf("\n")).toBe(line.length - 1); // one line
    const parsed = JSON.parse(line);
    expect(Object.keys(parsed).sort()).toEqual(FALCO_KEYS);
    expect(parsed).toMatchObject({
      time: "2026-11-28T17:42:04.123456789Z",
      rule: "Read sensitive file untrusted",
      priority: "Warning",
      source: "syscall",
      hostname: "sensor-host",
      output:
        "Sensitive file opened for reading by non-trusted program (user=alice command=cat /etc/shadow file=/etc/shadow)",
      tags: ["maturity_stable", "host", "filesystem", "mitre_credential_access", "T1555"],
    });
    expect(parsed.output_fields).toEqual({
      "proc.name": "cat",
      "proc.pid": 4242,
      "evt.is_open_read": true,
      "container.id": null,
      "proc.exe_ino.ctime": Number(18_446_744_073_709_551_615n), // JSON.parse rounds; the text keeps every digit (below)
      "evt.rawres": -2,
    });
    expect(line).toContain('"proc.exe_ino.ctime":18446744073709551615,');
  });

  it("escapes what JSON must escape and writes no NaN", () => {
    const parsed = JSON.parse(
      formatJsonLine(
        makeDetection({
          rule: makeRule({ name: 'Quote " and \\ rule', priority: "INFORMATIONAL", tags: [] }),
          output: "line one\nline two\t\u0001",
          outputFields: { "fd.name": '/tmp/"x"\n', "evt.arg.x": Number.NaN },
        }),
      ),
    );
    expect(parsed.rule).toBe('Quote " and \\ rule');
    expect(parsed.priority).toBe("Informational");
    expect(parsed.output).toBe("line one\nline two\t\u0001");
    expect(parsed.output_fields).toEqual({ "fd.name": '/tmp/"x"\n', "evt.arg.x": null });
    expect(parsed.tags).toEqual([]);
  });

  it("always parses back to the same values (property)", () => {
    const value = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
    );
    fc.assert(
      fc.property(fc.string(), fc.dictionary(fc.string({ minLength: 1 }), value), (output, fields) => {
        const parsed = JSON.parse(formatJsonLine(makeDetection({ output, outputFields: fields })));
        expect(parsed.output).toBe(output);
        for (const [k, v] of Object.entries(fields)) {
          expect(parsed.output_fields[k]).toBe(typeof v === "bigint" ? Number(v) : v);
        }
      }),
    );
  });
});

describe("text line", () => {
  it("reads like Falco's, with the rule named", () => {
    expect(formatTextLine(makeDetection(), "utc")).toBe(
      "17:42:04.123456789: Warning [Read sensitive file untrusted] Sensitive file opened for reading by non-trusted program (user=alice command=cat /etc/shadow file=/etc/shadow)\n",
    );
  });

  it("keeps one detection on one line, in local time by default", () => {
    const line = formatTextLine(
      makeDetection({ output: "a\nb\r\nc", rule: makeRule({ priority: "CRITICAL" }) }),
    );
    expect(line).toMatch(
      /^\d{2}:\d{2}:\d{2}\.123456789: Critical \[Read sensitive file untrusted\] a b c\n$/,
    );
  });
});

describe("format choice", () => {
  it("is text on a TTY, JSON elsewhere, unless forced", () => {
    expect(chooseStdoutFormat(undefined, true)).toBe("text");
    expect(chooseStdoutFormat(undefined, false)).toBe("json");
    expect(chooseStdoutFormat(undefined, undefined)).toBe("json");
    expect(chooseStdoutFormat("json", true)).toBe("json");
    expect(chooseStdoutFormat("text", false)).toBe("text");
  });
});

describe("time conversions keep nanoseconds", () => {
  const epochNs = fc.bigInt({ min: 0n, max: 4_102_444_800_000_000_000n }); // up to 2100

  it("nsToHrTime is exact", () => {
    fc.assert(
      fc.property(epochNs, (ns) => {
        const [s, n] = nsToHrTime(ns);
        expect(BigInt(s) * 1_000_000_000n + BigInt(n)).toBe(ns);
        expect(n).toBeGreaterThanOrEqual(0);
        expect(n).toBeLessThan(1e9);
      }),
    );
  });

  it("rfc3339Nano agrees with Date and carries all nine digits", () => {
    fc.assert(
      fc.property(epochNs, (ns) => {
        const text = rfc3339Nano(ns);
        expect(text).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/);
        expect(Date.parse(text)).toBe(Number(ns / 1_000_000n));
        expect(text.slice(20, 29)).toBe(String(ns % 1_000_000_000n).padStart(9, "0"));
      }),
    );
    expect(rfc3339Nano(0n)).toBe("1970-01-01T00:00:00.000000000Z");
  });

  it("clockTimeNano in UTC", () => {
    expect(clockTimeNano(1_795_887_724_000_000_007n, "utc")).toBe("17:42:04.000000007");
  });
});
