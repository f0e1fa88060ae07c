/** What binding fields needs, shared by the condition compiler and the output formatter. */
import type { SourcePosition } from "./errors.js";
import type { FieldCache } from "./field-cache.js";
import type { BindContext, FieldRegistry } from "./fields.js";
import type { MacroMemo } from "./macro-memo.js";

export interface BindingOptions {
  readonly fields: FieldRegistry;
  readonly cache: FieldCache;
  readonly bind: BindContext;
  /** Receives caveats of the fields used. */
  readonly warn: (message: string, pos: SourcePosition) => void;
  /**
   * When set, a comparison on a field the sensor cannot answer compiles to
   * "false" (libsinsp's rule for a missing value) and is reported here,
   * instead of failing the load.
   */
  readonly onUnsupported?: (field: string, reason: string, pos: SourcePosition) => void;
  /** When set, macro uses with identical compilations share one per-event memoized predicate. */
  readonly macros?: MacroMemo;
}
