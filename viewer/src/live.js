/**
 * Live values joined onto buildings: the initial snapshot (`POST /api/joined/{dataset}`),
 * then `/live` Server-Sent Events, and the NGSI-LD temporal history of one attribute.
 */

/**
 * @typedef {object} LiveValue
 * @property {unknown} value
 * @property {string} [observedAt]
 * @property {string} [unitCode]
 */

/** UN/CEFACT unit codes used by NGSI-LD `unitCode`, as display units. */
const UNIT_CODES = { CEL: "°C", KWH: "kWh", P1: "%", C62: "", 59: "ppm", MTR: "m", KWT: "kW", WTT: "W" };

/**
 * Display text of a unit code ("" when unknown or absent).
 *
 * @param {string | undefined} code
 * @returns {string}
 */
export function unitText(code) {
  return code ? (UNIT_CODES[code] ?? code) : "";
}

/**
 * The store's key of one object.
 *
 * @param {string} dataset
 * @param {string} id
 * @returns {string} "dataset\u0000id"
 */
const keyOf = (dataset, id) => `${dataset}\u0000${id}`;

export class LiveStore {
  /** @param {string} base absolute URL of the server root (ending in "/") */
  constructor(base) {
    this.base = base;
    /** @type {Map<string, Map<string, LiveValue>>} "dataset\u0000id" → attribute → value */
    this.byObject = new Map();
    /** @type {Map<string, string>} attribute → unitCode */
    this.units = new Map();
    /** @type {Map<string, string>} "dataset\u0000id" → NGSI-LD entity id */
    this.entityIds = new Map();
    /** @type {Set<(change: object) => void>} */
    this.listeners = new Set();
    /** @type {Set<string>} "dataset\u0000id" of every object whose values were asked for */
    this.requested = new Set();
    this.source = null;
  }

  /** @returns {string[]} live attribute names seen so far, sorted */
  attributes() {
    const names = new Set();
    for (const attrs of this.byObject.values()) for (const n of attrs.keys()) names.add(n);
    return [...names].sort();
  }

  /**
   * @param {string} dataset
   * @param {string} id
   * @returns {Map<string, LiveValue>}
   */
  valuesOf(dataset, id) {
    return this.byObject.get(keyOf(dataset, id)) ?? new Map();
  }

  /**
   * Values of one attribute over all objects (for the thematic ramp).
   *
   * @param {string} attribute
   * @returns {Map<string, unknown>} object id → value
   */
  column(attribute) {
    const out = new Map();
    for (const [key, attrs] of this.byObject) {
      const v = attrs.get(attribute);
      if (v !== undefined) out.set(key.split("\u0000")[1], v.value);
    }
    return out;
  }

  /**
   * Load the joined live values of those of `ids` no earlier call asked for, in batches.
   *
   * Called again as tiles load (another dataset flown to, finer levels), it fetches the new
   * buildings only. Ids of a failed request may be asked for again.
   *
   * @param {string} dataset
   * @param {string[]} ids
   * @returns {Promise<number>} how many ids were fetched
   */
  async load(dataset, ids) {
    const fresh = [...new Set(ids)].filter((id) => !this.requested.has(keyOf(dataset, id)));
    fresh.forEach((id) => this.requested.add(keyOf(dataset, id)));
    for (let i = 0; i < fresh.length; i += 500) {
      const batch = fresh.slice(i, i + 500);
      try {
        await this.loadBatch(dataset, batch);
      } catch (error) {
        fresh.slice(i).forEach((id) => this.requested.delete(keyOf(dataset, id)));
        throw error;
      }
    }
    return fresh.length;
  }

  /**
   * Fetch and store the joined live values of one batch of ids (one request).
   *
   * @param {string} dataset
   * @param {string[]} ids
   */
  async loadBatch(dataset, ids) {
    const response = await fetch(new URL(`api/joined/${encodeURIComponent(dataset)}`, this.base), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ids }),
    });
    if (!response.ok) throw new Error(`joined values: HTTP ${response.status}`);
    const body = await response.json();
    for (const building of body.buildings ?? []) {
      const key = keyOf(dataset, building.id);
      this.entityIds.set(key, building.entityId);
      const attrs = new Map();
      for (const [name, v] of Object.entries(building.live ?? {})) {
        attrs.set(name, v);
        if (v.unitCode) this.units.set(name, v.unitCode);
      }
      this.byObject.set(key, attrs);
    }
  }

  /**
   * Subscribe to `/live`; every change updates the store, then calls the listeners.
   *
   * @param {(change: {dataset: string, id: string, attribute: string, value: unknown,
   *   observedAt: string}) => void} listener
   */
  subscribe(listener) {
    this.listeners.add(listener);
    if (this.source) return;
    this.source = new EventSource(new URL("live", this.base));
    this.source.addEventListener("change", (event) => {
      const change = JSON.parse(event.data);
      const key = keyOf(change.dataset, change.id);
      if (!this.byObject.has(key)) this.byObject.set(key, new Map());
      const previous = this.byObject.get(key).get(change.attribute);
      this.byObject.get(key).set(change.attribute, {
        value: change.value,
        observedAt: change.observedAt,
        unitCode: change.unitCode ?? previous?.unitCode ?? this.units.get(change.attribute),
      });
      for (const l of this.listeners) l(change);
    });
  }

  /**
   * The NGSI-LD entity id of an object (as the server reported it; null before load).
   *
   * @param {string} dataset
   * @param {string} id
   * @returns {string | null}
   */
  entityId(dataset, id) {
    return this.entityIds.get(keyOf(dataset, id)) ?? null;
  }

  /**
   * Fetch the last `lastN` values of one attribute from the temporal API.
   *
   * @param {string} entityId
   * @param {string} attribute
   * @param {number} [lastN]
   * @param {AbortSignal} [signal]
   * @returns {Promise<{t: number, value: number}[]>} oldest first
   */
  async history(entityId, attribute, lastN = 60, signal) {
    const url = new URL(`ngsi-ld/v1/temporal/entities/${encodeURIComponent(entityId)}`, this.base);
    url.searchParams.set("attrs", attribute);
    url.searchParams.set("lastN", String(lastN));
    const response = await fetch(url, { headers: { Accept: "application/json" }, signal });
    if (response.status === 404) return [];
    if (!response.ok) throw new Error(`history: HTTP ${response.status}`);
    const body = await response.json();
    let series = body[attribute] ?? [];
    if (!Array.isArray(series)) series = [series];
    return series
      .filter((p) => typeof p.value === "number" && p.observedAt)
      .map((p) => ({ t: Date.parse(p.observedAt), value: p.value }))
      .sort((a, b) => a.t - b.t);
  }
}
