// A Map that forgets everything once it holds `limit` entries and a new key arrives: for caches
// where a forgotten entry costs only the read that brings it back (prepared statement texts,
// settings kept between requests, facts the alert rules read, "last used" marks). Clearing at once
// keeps the bound with no bookkeeping per read; a key already there is replaced without clearing.
export class BoundedMap<K, V> extends Map<K, V> {
  readonly #limit: number;

  constructor(limit: number) {
    super();
    this.#limit = limit;
  }

  override set(key: K, value: V): this {
    if (this.size >= this.#limit && !this.has(key)) this.clear();
    return super.set(key, value);
  }
}
