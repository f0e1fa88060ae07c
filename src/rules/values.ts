/**
 * Field value types, and the conversion of condition constants to them at
 * compile time ("1000" → 1000 for a number field), so the per-event path
 * compares values of one type only.
 */
import { canonicalIpAddress, type IpNetwork, parseIpNetwork } from "./ip-address.js";

/**
 * - string: text (paths, names).
 * - number: an integer that fits a JS number (pids, uids, ports, fds).
 * - bigint: 64-bit integers such as nanosecond times.
 * - boolean: true/false.
 * - ipaddr: an address as RFC 5952 text; constants may be addresses or CIDR networks.
 * - ipnet: an address compared against networks (fd.net, fd.snet …).
 * - bytes: raw buffers; constants are hex (`bcontains 2f6574`).
 */
export type FieldType = "string" | "number" | "bigint" | "boolean" | "ipaddr" | "ipnet" | "bytes";

/** What an extractor returns for a present value. */
export type RuntimeValue = string | number | bigint | boolean | Uint8Array;

/** An IP constant: one address (canonical text) or a network. */
export type IpConstant =
  | { readonly kind: "addr"; readonly text: string }
  | { readonly kind: "net"; readonly net: IpNetwork };

/** A constant converted to its field's type. */
export type Constant = string | number | bigint | boolean | Uint8Array | IpConstant;

export type Conversion =
  | { readonly ok: true; readonly value: Constant }
  | { readonly ok: false; readonly message: string };

const INTEGER = /^[+-]?\d+$/;
const HEX = /^0[xX][0-9a-fA-F]+$/;

function convertNumber(text: string): Conversion {
  const t = text.trim();
  if (INTEGER.test(t) || HEX.test(t)) {
    const n = Number(t);
    if (Number.isSafeInteger(n)) return { ok: true, value: n };
    return { ok: false, message: `'${text}' is out of range` };
  }
  return { ok: false, message: `'${text}' is not a number` };
}

function convertBigint(text: string): Conversion {
  const t = text.trim();
  if (INTEGER.test(t)) return { ok: true, value: BigInt(t.startsWith("+") ? t.slice(1) : t) };
  if (HEX.test(t)) return { ok: true, value: BigInt(t) };
  return { ok: false, message: `'${text}' is not a number` };
}

function convertHexBytes(text: string): Conversion {
  const t = text.trim();
  if (t.length === 0 || t.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(t)) {
    return { ok: false, message: `'${text}' is not an even-length hex string` };
  }
  return { ok: true, value: Uint8Array.from(Buffer.from(t, "hex")) };
}

function convertIp(text: string, networksOnly: boolean): Conversion {
  if (!networksOnly && !text.includes("/")) {
    const canonical = canonicalIpAddress(text);
    if (canonical !== undefined) return { ok: true, value: { kind: "addr", text: canonical } };
  }
  const net = parseIpNetwork(text);
  if (net !== undefined) return { ok: true, value: { kind: "net", net } };
  return { ok: false, message: `'${text}' is not an IP ${networksOnly ? "network" : "address or network"}` };
}

export function convertConstant(type: FieldType, text: string): Conversion {
  switch (type) {
    case "string":
      return { ok: true, value: text };
    case "number":
      return convertNumber(text);
    case "bigint":
      return convertBigint(text);
    case "boolean":
      if (text === "true") return { ok: true, value: true };
      if (text === "false") return { ok: true, value: false };
      return { ok: false, message: `'${text}' is not a boolean (true or false)` };
    case "ipaddr":
      return convertIp(text, false);
    case "ipnet":
      return convertIp(text, true);
    case "bytes":
      return convertHexBytes(text);
  }
}

/** Falco's article for messages: "a number field", "an ipaddr field". */
export function describeType(type: FieldType): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}
