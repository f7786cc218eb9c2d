/**
 * Server-side search of city objects by gml:id, name or address (OGC API items with a CQL2
 * filter; address properties only where the collection's queryables list them).
 */

/**
 * Properties searched besides the id, where the collection offers them as queryables: the
 * name and the address (schema.org PostalAddress names, as the catalog calls them).
 */
export const SEARCHED = ["name", "streetAddress", "postalCode", "addressLocality"];

/**
 * Build the CQL2 text filter for a query: exact id, or the id or one of `fields` containing
 * it, in any case (CQL2 `CASEI` and `LIKE`).
 *
 * @param {string} query
 * @param {string[]} [fields] queryable properties to search besides the id
 * @returns {string}
 */
export function searchFilter(query, fields = []) {
  const quoted = (s) => `'${s.replace(/'/g, "''")}'`;
  // The server folds both sides (Unicode case folding: "Straße" and "STRASSE" alike), which
  // JavaScript's toLowerCase cannot do ("straße" would miss the folded "strasse").
  const like = `CASEI(${quoted(`%${query.replace(/[%_\\]/g, "\\$&")}%`)})`;
  const searched = ["id", ...fields].map((f) => `CASEI(${f}) LIKE ${like}`);
  return [`id = ${quoted(query)}`, ...searched].join(" OR ");
}

/** @type {Map<string, Promise<string[]>>} queryables URL → searched fields it lists */
const fieldsCache = new Map();

/**
 * The {@link SEARCHED} properties a collection lets one filter on (from its queryables).
 *
 * @param {URL} queryablesUrl
 * @param {AbortSignal} [signal]
 * @returns {Promise<string[]>}
 */
function searchedFieldsOf(queryablesUrl, signal) {
  const key = queryablesUrl.href;
  if (!fieldsCache.has(key)) {
    const request = fetch(queryablesUrl, { headers: { Accept: "application/schema+json" }, signal })
      .then((r) => (r.ok ? r.json() : { properties: {} }))
      .then((body) => SEARCHED.filter((name) => name in (body.properties ?? {})));
    request.catch(() => fieldsCache.delete(key));
    fieldsCache.set(key, request);
  }
  return fieldsCache.get(key);
}

/**
 * @typedef {object} Hit
 * @property {string} dataset
 * @property {string} id
 * @property {string} label
 * @property {number[]} bbox `[minLon, minLat, minH, maxLon, maxLat, maxH]` (or 4 numbers)
 */

/**
 * Search every dataset; exact id matches first.
 *
 * @param {string} collectionsUrl
 * @param {string[]} datasets
 * @param {string} query
 * @param {AbortSignal} [signal]
 * @returns {Promise<Hit[]>}
 */
export async function search(collectionsUrl, datasets, query, signal) {
  const hits = [];
  const base = String(collectionsUrl).replace(/\/?$/, "/");
  for (const dataset of datasets) {
    const collection = `${encodeURIComponent(dataset)}/`;
    const fields = await searchedFieldsOf(new URL(`${collection}queryables`, base), signal);
    const url = new URL(`${collection}items`, base);
    url.searchParams.set("filter", searchFilter(query, fields));
    url.searchParams.set("filter-lang", "cql2-text");
    url.searchParams.set("limit", "10");
    const response = await fetch(url, { headers: { Accept: "application/geo+json" }, signal });
    if (!response.ok) throw new Error(`search: HTTP ${response.status}`);
    const body = await response.json();
    for (const f of body.features ?? []) {
      const p = f.properties ?? {};
      const address = [p.streetAddress, p.postalCode, p.addressLocality].filter(Boolean).join(", ");
      const title = [p.name, address].filter(Boolean).join(" · ");
      hits.push({
        dataset,
        id: String(f.id),
        label: title ? `${title} · ${f.id}` : String(f.id),
        bbox: f.bbox ?? [],
      });
    }
  }
  return hits.sort((a, b) => Number(b.id === query) - Number(a.id === query));
}
