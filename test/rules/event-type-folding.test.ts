/**
 * evt.type checks the rule's own type index already decides are folded to
 * constants at compile time; the answers must stay exactly those of the
 * unfolded condition, for every event type the rule is indexed under.
 */
import { describe, expect, it } from "vitest";
import { connectEvent, enriched, execEvent, fire, load, openEvent, proc, ruleText } from "./helpers.js";

const cat = proc({ name: "cat" });
const events = {
  openat: enriched(openEvent(), { process: cat }),
  connect: enriched(connectEvent({ dport: 443 }), { process: cat }),
  execve: enriched(execEvent(), { process: cat }),
};

describe("evt.type folding", () => {
  it.each([
    ["evt.type = openat and proc.name = cat", ["openat"]],
    ["evt.type in (openat, connect) and proc.name = cat", ["openat", "connect"]],
    [
      "(evt.type = openat and proc.name = cat) or (evt.type = connect and fd.sport = 443)",
      ["openat", "connect"],
    ],
    ["(evt.type = openat and proc.name = dog) or (evt.type = connect and fd.sport = 443)", ["connect"]],
    ["evt.type in (openat, connect) and not evt.type = connect", ["openat"]],
    ["evt.type in (openat, connect) and evt.type != openat", ["connect"]],
    ["evt.type in (openat, execve) and (evt.type = execve or proc.name = dog)", ["execve"]],
    ["evt.type in (openat, connect, execve) and not (evt.type in (connect, execve))", ["openat"]],
  ])("%s fires on %j", (condition, expected) => {
    const rs = load(ruleText(condition));
    const fired = Object.entries(events)
      .filter(([, e]) => fire(rs, { ...e }).length > 0)
      .map(([t]) => t);
    expect(fired).toEqual(expected);
  });
});
