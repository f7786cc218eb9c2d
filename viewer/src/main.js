/**
 * twin viewer entry point: offline Cesium scene, every dataset's tileset, click-to-inspect.
 *
 * Test hook: `window.twinViewer = {viewer, datasets, tilesets, ready}`; `ready` resolves once
 * the tilesets are loaded and the camera has framed them. `body[data-tiles-loaded="true"]`
 * says every tile the current view needs is in (see status.js).
 */
import Cesium from "./cesium.js";
import { addTileset, fetchDatasets, fetchItem, itemUrl } from "./datasets.js";
import { Panel } from "./panel.js";
import { Highlighter, listenForPicks, tileProperties } from "./picking.js";
import { createViewer, flyToOblique } from "./scene.js";
import { trackLoading } from "./status.js";

/** @typedef {import("./datasets.js").Dataset} Dataset */

const COLLECTIONS_URL = new URL("../ogc/collections", window.location.href).href;

/**
 * Load every dataset and frame them all.
 *
 * @param {Cesium.Viewer} viewer
 * @param {ReturnType<typeof trackLoading>} loading
 * @returns {Promise<{datasets: Dataset[], tilesets: Cesium.Cesium3DTileset[]}>}
 */
async function loadCity(viewer, loading) {
  const datasets = await fetchDatasets(COLLECTIONS_URL);
  if (datasets.length === 0) {
    loading.fail("No datasets yet: import one with `twin import`.", "empty");
    return { datasets, tilesets: [] };
  }
  const tilesets = await Promise.all(datasets.map((d) => addTileset(viewer, d)));
  tilesets.forEach((tileset, i) => {
    tileset.twinDataset = datasets[i];
  });
  loading.setTilesets(tilesets);
  document.querySelector('[data-testid="datasets"]').textContent =
    `· ${datasets.map((d) => d.title).join(", ")}`;
  const sphere = Cesium.BoundingSphere.fromBoundingSpheres(tilesets.map((t) => t.boundingSphere));
  const instant = new URLSearchParams(window.location.search).has("instant");
  await flyToOblique(viewer, sphere, { duration: instant ? 0 : 2.5 });
  loading.setSettled();
  return { datasets, tilesets };
}

/**
 * Wire clicks to the panel: show the tile's id at once, then the server's full record.
 *
 * @param {Cesium.Viewer} viewer
 * @param {Panel} panel
 * @param {Highlighter} highlighter
 */
function inspectOnClick(viewer, panel, highlighter) {
  let request = null;
  listenForPicks(viewer, {
    onPick(feature, id) {
      request?.abort();
      request = new AbortController();
      highlighter.set(feature);
      const dataset = feature.tileset.twinDataset;
      const fromTile = tileProperties(feature);
      panel.show({ id, properties: fromTile, note: "Loading details…" });
      fetchItem(itemUrl(COLLECTIONS_URL, dataset.id, id), request.signal).then(
        (item) => {
          if (panel.shows(id)) panel.show({ id, properties: { ...item.properties } });
        },
        (error) => {
          if (error.name === "AbortError" || !panel.shows(id)) return;
          const note = `From the tile only (details: ${error.message}).`;
          panel.show({ id, properties: fromTile, note });
        },
      );
    },
    onMiss() {
      request?.abort();
      panel.close();
    },
  });
}

function start() {
  const viewer = createViewer("scene");
  const loading = trackLoading(viewer.scene, document.getElementById("status"));
  const highlighter = new Highlighter(viewer.scene);
  const panel = new Panel(document.getElementById("panel"), {
    onClose: () => highlighter.clear(),
  });
  inspectOnClick(viewer, panel, highlighter);

  const hook = { viewer, panel, datasets: [], tilesets: [], ready: null };
  hook.ready = loadCity(viewer, loading).then(
    ({ datasets, tilesets }) => {
      hook.datasets = datasets;
      hook.tilesets = tilesets;
      return hook;
    },
    (error) => {
      console.error("twin viewer:", error);
      loading.fail(`Could not load the city: ${error.message}`);
      throw error;
    },
  );
  window.twinViewer = hook;
}

start();
