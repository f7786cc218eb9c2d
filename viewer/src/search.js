/**
 * Server-side search of city objects by gml:id or name (OGC API items with a CQL2 filter).
 */

/**
 * Build the CQL2 text filter for a query: exact id, or id/name containing it (any case).
 *
 * @param {string} query
 * @returns {string}
 */
export function searchFilter(query) {
  const quoted = (s) => `'${s.replace(/'/g, "''")}'`;
  const like = quoted(`%${query.toLowerCase().replace(/[%_\\]/g, "\\$&")}%`);
  return `id = ${quoted(query)} OR CASEI(id) LIKE ${like} OR CASEI(name) LIKE ${like}`;
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
    const url = new URL(`${encodeURIComponent(dataset)}/items`, base);
    url.searchParams.set("filter", searchFilter(query));
    url.searchParams.set("filter-lang", "cql2-text");
    url.searchParams.set("limit", "10");
    const response = await fetch(url, { headers: { Accept: "application/geo+json" }, signal });
    if (!response.ok) throw new Error(`search: HTTP ${response.status}`);
    const body = await response.json();
    for (const f of body.features ?? []) {
      const name = f.properties?.name;
      hits.push({
        dataset,
        id: String(f.id),
        label: name ? `${name} · ${f.id}` : String(f.id),
        bbox: f.bbox ?? [],
      });
    }
  }
  return hits.sort((a, b) => Number(b.id === query) - Number(a.id === query));
}
