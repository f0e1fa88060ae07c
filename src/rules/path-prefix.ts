/**
 * The `pmatch` operator: does any of a set of paths contain the value, path
 * component by component? `/usr/bin` matches `/usr/bin` and `/usr/bin/ls`,
 * not `/usr/binx` nor `/usr`. A component of a search path may be a glob
 * (`/home/*\/.ssh`). Same semantics as libsinsp's path_prefix_search; built
 * once as a trie so matching walks the value's components once.
 */
import { globToRegExp, hasGlobChars } from "./glob.js";

interface TrieNode {
  /** A search path ends here: everything below matches. */
  terminal: boolean;
  readonly children: Map<string, TrieNode>;
  readonly globChildren: { readonly re: RegExp; readonly node: TrieNode }[];
}

function newNode(): TrieNode {
  return { terminal: false, children: new Map(), globChildren: [] };
}

function components(path: string): string[] {
  return path.split("/").filter((c) => c !== "");
}

export class PathPrefixSet {
  readonly #root = newNode();

  constructor(paths: Iterable<string>) {
    for (const p of paths) this.#add(components(p));
  }

  #add(comps: readonly string[]): void {
    let node = this.#root;
    for (const c of comps) {
      if (node.terminal) return; // a shorter prefix already matches everything below
      let next: TrieNode | undefined;
      if (hasGlobChars(c)) {
        const source = globToRegExp(c).source;
        next = node.globChildren.find((g) => g.re.source === source)?.node;
        if (next === undefined) {
          next = newNode();
          node.globChildren.push({ re: new RegExp(source, "s"), node: next });
        }
      } else {
        next = node.children.get(c);
        if (next === undefined) {
          next = newNode();
          node.children.set(c, next);
        }
      }
      node = next;
    }
    node.terminal = true;
  }

  matches(path: string): boolean {
    return this.#match(this.#root, components(path), 0);
  }

  #match(node: TrieNode, comps: readonly string[], i: number): boolean {
    if (node.terminal) return true;
    const c = comps[i];
    if (c === undefined) return false;
    const direct = node.children.get(c);
    if (direct !== undefined && this.#match(direct, comps, i + 1)) return true;
    for (const g of node.globChildren) {
      if (g.re.test(c) && this.#match(g.node, comps, i + 1)) return true;
    }
    return false;
  }
}
