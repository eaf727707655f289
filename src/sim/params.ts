/** Request parameters as MAAS (Django QueryDict) sees them: repeated keys are multi-valued. */
export class Params {
  private readonly map: Map<string, string[]>;
  constructor(map: Map<string, string[]> = new Map()) {
    this.map = map;
  }
  static fromSearch(search: URLSearchParams): Params {
    const map = new Map<string, string[]>();
    for (const [k, v] of search) {
      const list = map.get(k);
      if (list) list.push(v);
      else map.set(k, [v]);
    }
    return new Params(map);
  }
  /** The last value, as QueryDict.get returns it. */
  get(key: string): string | undefined {
    const list = this.map.get(key);
    return list === undefined ? undefined : list[list.length - 1];
  }
  all(key: string): string[] {
    return this.map.get(key) ?? [];
  }
  has(key: string): boolean {
    return this.map.has(key);
  }
  keys(): string[] {
    return [...this.map.keys()];
  }
  /** MAAS's boolean parsing: true/1/on/yes, anything else false; undefined when absent. */
  bool(key: string): boolean | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    return ["true", "1", "on", "yes"].includes(v.trim().toLowerCase());
  }
}
