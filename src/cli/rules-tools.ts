/** Dispatches `peregrine rules …` and `peregrine fields` to their commands. */
import { fieldDocs, formatFields } from "./fields-list.js";
import type { RulesToolCommand } from "./rules-args.js";
import { rulesListCommand } from "./rules-list.js";
import { rulesTestCommand } from "./rules-test.js";
import { rulesValidateCommand } from "./rules-validate.js";

export async function rulesToolCommand(c: RulesToolCommand): Promise<number> {
  const out = process.stdout;
  const err = process.stderr;
  switch (c.tool) {
    case "help":
      out.write(c.text);
      return 0;
    case "fields":
      out.write(formatFields(fieldDocs(undefined, c.prefix), c.json));
      return 0;
    case "validate":
      return rulesValidateCommand(c.files, c.json, out, err);
    case "list":
      return rulesListCommand(c.files, c.json, out, err);
    case "test":
      return rulesTestCommand(c.files, c.events, c.json, out, err);
  }
}
