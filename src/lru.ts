/** A Map with a size bound that forgets the least recently used entry: every cache here is one. */
export class LruMap<K, V> {
  readonly #map = new Map<K, V>();
  constructor(readonly max: number) {}

  get(key: K): V | undefined {
    const v = this.#map.get(key);
    if (v !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, v);
    }
    return v;
  }

  /** Reads without refreshing recency. */
  peek(key: K): V | undefined {
    return this.#map.get(key);
  }

  has(key: K): boolean {
    return this.#map.has(key);
  }

  set(key: K, value: V): this {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.max) this.#map.delete(this.#map.keys().next().value as K);
    return this;
  }

  delete(key: K): boolean {
    return this.#map.delete(key);
  }

  get size(): number {
    return this.#map.size;
  }

  values(): IterableIterator<V> {
    return this.#map.values();
  }

  entries(): IterableIterator<[K, V]> {
    return this.#map.entries();
  }

  /**
   * Deletes entries from the least recently used on, while `stale` says so, and stops at the first
   * it does not: for maps whose recency order is also time order, this forgets what expired in
   * O(expired + 1).
   */
  dropOldestWhile(stale: (value: V, key: K) => boolean): void {
    for (const [key, value] of this.#map) {
      if (!stale(value, key)) return;
      this.#map.delete(key);
    }
  }

  clear(): void {
    this.#map.clear();
  }
}
