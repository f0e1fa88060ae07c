import { createHash } from "node:crypto";
import type { RuleInfo } from "../rules/detection.js";

/**
 * security_rule.uuid, .version and .reference of a loaded rule, computed
 * once per RuleInfo (the exporters ask per detection).
 */
export interface RuleIdentity {
  /** UUIDv5 of "<ruleset name>\n<rule name>" in our namespace: the same on every host and every run. */
  readonly uuid: string;
  /** First 12 hex digits of a SHA-256 over what we know of the rule: changes when the rule does. */
  readonly version: string;
  /** MITRE ATT&CK page of the rule's first technique tag (T1234 / T1234.001), if any. */
  readonly reference: string | undefined;
}

/** Peregrine's UUIDv5 namespace for rules (a fixed random UUID; never change it: uuids depend on it). */
export const RULE_UUID_NAMESPACE = "5f0c7a2e-9b1d-4c6e-8a3f-2d4b6e8f1a3c";

/** RFC 9562 UUIDv5: SHA-1 over namespace bytes + name, version 5, variant 10. */
export function uuidV5(name: string, namespace: string = RULE_UUID_NAMESPACE): string {
  const ns = Buffer.from(namespace.replace(/-/g, ""), "hex");
  if (ns.length !== 16) throw new Error(`bad UUID namespace "${namespace}"`);
  const hash = createHash("sha1").update(ns).update(name, "utf8").digest();
  hash[6] = ((hash[6] as number) & 0x0f) | 0x50;
  hash[8] = ((hash[8] as number) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const MITRE_TECHNIQUE = /^T(\d{4})(?:\.(\d{3}))?$/;

/** "T1003.008" → https://attack.mitre.org/techniques/T1003/008/ */
export function mitreReference(tags: readonly string[]): string | undefined {
  for (const tag of tags) {
    const m = MITRE_TECHNIQUE.exec(tag);
    if (m === null) continue;
    return m[2] === undefined
      ? `https://attack.mitre.org/techniques/T${m[1]}/`
      : `https://attack.mitre.org/techniques/T${m[1]}/${m[2]}/`;
  }
  return undefined;
}

const identities = new WeakMap<RuleInfo, RuleIdentity>();

export function ruleIdentity(rule: RuleInfo): RuleIdentity {
  let identity = identities.get(rule);
  if (identity === undefined) {
    const version = createHash("sha256")
      .update(JSON.stringify([rule.rulesetName, rule.name, rule.desc, rule.priority, rule.source, rule.tags]))
      .digest("hex")
      .slice(0, 12);
    identity = {
      uuid: uuidV5(`${rule.rulesetName}\n${rule.name}`),
      version,
      reference: mitreReference(rule.tags),
    };
    identities.set(rule, identity);
  }
  return identity;
}
