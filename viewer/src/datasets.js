/**
 * Dataset discovery: OGC API – Features collections → 3D Tiles tilesets.
 *
 * Each twin dataset is one OGC collection; the collection links its 3D Tiles 1.1 tileset
 * (`href` ending in `/tileset.json`). Nothing here talks to any host but the twin server.
 */
import Cesium from "./cesium.js";

/**
 * @typedef {object} Dataset
 * @property {string} id         collection id (= twin dataset name)
 * @property {string} title      human title, falls back to the id
 * @property {string} tilesetUrl absolute URL of the dataset's tileset.json
 * @property {number[] | null} bboxWgs84 `[minLon, minLat, (minH,) maxLon, maxLat, (maxH)]` or null
 */

/**
 * Return the href of a collection's tileset link, or null when it has none.
 *
 * @param {{links?: {href?: string}[]}} collection an OGC API collection document
 * @returns {string | null}
 */
export function tilesetHref(collection) {
  const link = (collection.links ?? []).find(
    (l) => typeof l.href === "string" && l.href.split(/[?#]/)[0].endsWith("/tileset.json"),
  );
  return link ? link.href : null;
}

/**
 * Fetch `/ogc/collections` and return every collection that links a tileset.
 *
 * @param {string | URL} collectionsUrl absolute URL of the collections document
 * @returns {Promise<Dataset[]>}
 */
export async function fetchDatasets(collectionsUrl) {
  const response = await fetch(collectionsUrl, { headers: { Accept: "application/json" } });
  if (!response.ok) {
    throw new Error(`GET ${collectionsUrl} → HTTP ${response.status}`);
  }
  const body = await response.json();
  const datasets = [];
  for (const collection of body.collections ?? []) {
    const href = tilesetHref(collection);
    if (href === null) continue;
    datasets.push({
      id: collection.id,
      title: collection.title || collection.id,
      tilesetUrl: new URL(href, collectionsUrl).href,
      bboxWgs84: collection.extent?.spatial?.bbox?.[0] ?? null,
    });
  }
  return datasets;
}

/**
 * Build the URL of one OGC API item (a city object) of a dataset.
 *
 * @param {string | URL} collectionsUrl absolute URL of the collections document
 * @param {string} datasetId collection id
 * @param {string} objectId the object's gml:id (encoded here)
 * @returns {string}
 */
export function itemUrl(collectionsUrl, datasetId, objectId) {
  const base = String(collectionsUrl).replace(/\/?$/, "/");
  return new URL(
    `${encodeURIComponent(datasetId)}/items/${encodeURIComponent(objectId)}`,
    base,
  ).href;
}

/**
 * Fetch one city object as a GeoJSON Feature.
 *
 * @param {string} url from {@link itemUrl}
 * @param {AbortSignal} [signal]
 * @returns {Promise<{id: string, properties: Record<string, unknown>}>}
 */
export async function fetchItem(url, signal) {
  const response = await fetch(url, { headers: { Accept: "application/geo+json" }, signal });
  if (!response.ok) {
    throw new Error(`HTTP ${response.status}`);
  }
  return response.json();
}

/**
 * Load a dataset's tileset into the scene.
 *
 * @param {Cesium.Viewer} viewer
 * @param {Dataset} dataset
 * @returns {Promise<Cesium.Cesium3DTileset>} the tileset, already added to `viewer.scene`
 */
export async function addTileset(viewer, dataset) {
  const tileset = await Cesium.Cesium3DTileset.fromUrl(dataset.tilesetUrl, {
    // Dynamic environment maps re-render the sky into cube maps as the camera moves: pretty on
    // a GPU, seconds per frame on software WebGL, and of little use for untextured buildings.
    environmentMapOptions: { enabled: false },
  });
  viewer.scene.primitives.add(tileset);
  return tileset;
}
