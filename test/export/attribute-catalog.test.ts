import { describe, expect, it } from "vitest";
import {
  DETECTION_EVENT_NAME,
  LOG_RECORD_ATTRIBUTE_KEYS,
  LOKI_INDEX_LABEL_KEYS,
  lokiName,
  OUTPUT_FIELD_ATTRIBUTE_PREFIX,
  RESOURCE_ATTRIBUTE_KEYS,
  WORKLOAD_ATTRIBUTE_KEYS,
} from "../../src/export/attribute-catalog.js";

describe("attribute catalog", () => {
  it("lists the semantic-convention keys the mapping uses, by where they land", () => {
    expect(LOG_RECORD_ATTRIBUTE_KEYS).toEqual(
      expect.arrayContaining([
        "security_rule.name",
        "security_rule.uuid",
        "process.pid",
        "file.path",
        "peregrine.detection.id",
      ]),
    );
    expect(RESOURCE_ATTRIBUTE_KEYS).toEqual(
      expect.arrayContaining(["service.name", "host.id", "k8s.namespace.name"]),
    );
    expect(RESOURCE_ATTRIBUTE_KEYS).not.toContain("process.pid");
    expect(LOG_RECORD_ATTRIBUTE_KEYS).not.toContain("service.name");
    for (const key of WORKLOAD_ATTRIBUTE_KEYS) {
      expect(LOG_RECORD_ATTRIBUTE_KEYS).toContain(key);
      expect(RESOURCE_ATTRIBUTE_KEYS).toContain(key);
    }
    expect(new Set(LOG_RECORD_ATTRIBUTE_KEYS).size).toBe(LOG_RECORD_ATTRIBUTE_KEYS.length);
    expect(DETECTION_EVENT_NAME).toBe("peregrine.detection");
    expect(OUTPUT_FIELD_ATTRIBUTE_PREFIX).toBe("peregrine.field.");
  });

  it("flattens names as Loki does and knows which become index labels", () => {
    expect(lokiName("security_rule.ruleset.name")).toBe("security_rule_ruleset_name");
    expect(lokiName("peregrine.field.proc.aname[2]")).toBe("peregrine_field_proc_aname_2_");
    expect(LOKI_INDEX_LABEL_KEYS).toEqual(expect.arrayContaining(["service.name", "k8s.pod.name"]));
    expect(LOKI_INDEX_LABEL_KEYS).not.toContain("host.name");
  });
});
