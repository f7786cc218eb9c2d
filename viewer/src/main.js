/**
 * twin viewer entry point: offline Cesium scene, every dataset's tileset, click-to-inspect,
 * thematic styling (static and live), search, and the view in the URL.
 *
 * Test hook: `window.twinViewer = {viewer, panel, thematic, live, datasets, tilesets, ready}`;
 * `ready` resolves once the camera has framed the city, its tiles are in and the tools work.
 * `body[data-tiles-loaded="true"]` says every tile the current view needs is in (status.js).
 */
import Cesium from "./cesium.js";
import { historyChart } from "./chart.js";
import { addTileset, fetchDatasets, fetchItem, itemUrl } from "./datasets.js";
import { UNITS } from "./format.js";
import { LiveStore, unitText } from "./live.js";
import { Panel } from "./panel.js";
import { Highlighter, listenForPicks, tileProperties } from "./picking.js";
import { createViewer, flyToOblique } from "./scene.js";
import { afterTileLoads, trackLoading } from "./status.js";
import { Thematic } from "./thematic.js";
import { bindTools } from "./tools.js";
import { formatHash, parseHash } from "./urlstate.js";

/** @typedef {import("./datasets.js").Dataset} Dataset */

const ROOT_URL = new URL("../", window.location.href).href;
const COLLECTIONS_URL = new URL("ogc/collections", ROOT_URL).href;
const INITIAL = parseHash(window.location.hash);
if (INITIAL.ignored.length) {
  const note = document.querySelector('[data-testid="url-note"]');
  note.textContent = `Link parameters ignored: ${INITIAL.ignored.join(", ")}`;
  note.hidden = false;
}

/**
 * Load every dataset and frame them all (or restore the camera from the URL).
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
  if (INITIAL.camera) {
    setCamera(viewer, INITIAL.camera);
  } else {
    const sphere = Cesium.BoundingSphere.fromBoundingSpheres(tilesets.map((t) => t.boundingSphere));
    const instant = new URLSearchParams(window.location.search).has("instant");
    await flyToOblique(viewer, sphere, { duration: instant ? 0 : 2.5 });
  }
  loading.setSettled();
  return { datasets, tilesets };
}

/**
 * Put the camera at a position (degrees, metres) with heading and pitch (degrees).
 *
 * @param {Cesium.Viewer} viewer
 * @param {{lon: number, lat: number, height: number, heading: number, pitch: number}} c
 */
export function setCamera(viewer, c) {
  viewer.camera.setView({
    destination: Cesium.Cartesian3.fromDegrees(c.lon, c.lat, c.height),
    orientation: {
      heading: Cesium.Math.toRadians(c.heading),
      pitch: Cesium.Math.toRadians(c.pitch),
      roll: 0,
    },
  });
}

/**
 * @param {Cesium.Viewer} viewer
 * @returns {{lon: number, lat: number, height: number, heading: number, pitch: number}}
 */
export function getCamera(viewer) {
  const p = viewer.camera.positionCartographic;
  return {
    lon: Cesium.Math.toDegrees(p.longitude),
    lat: Cesium.Math.toDegrees(p.latitude),
    height: p.height,
    heading: Cesium.Math.toDegrees(viewer.camera.heading),
    pitch: Cesium.Math.toDegrees(viewer.camera.pitch),
  };
}

/**
 * Settle once the tileset has loaded every tile of the current view.
 *
 * Checked after each frame: a tileset outside the view turns `tilesLoaded` without raising
 * `allTilesLoaded` (its load progress never changed).
 *
 * @param {Cesium.Scene} scene
 * @param {Cesium.Cesium3DTileset} tileset
 * @returns {Promise<void>}
 */
function tilesIn(scene, tileset) {
  return new Promise((resolve) => {
    const remove = scene.postRender.addEventListener(() => {
      if (!tileset.tilesLoaded) return;
      remove();
      resolve();
    });
    scene.requestRender();
  });
}

function start() {
  const viewer = createViewer("scene");
  const scene = viewer.scene;
  const loading = trackLoading(scene, document.getElementById("status"));
  const live = new LiveStore(ROOT_URL);
  const thematic = new Thematic(scene, {
    unitOf: (name) => UNITS[name] ?? unitText(live.units.get(name)),
  });
  const highlighter = new Highlighter(scene, (id) => thematic.select(id));
  /** @type {{dataset: string, id: string} | null} */
  let selected = null;
  let historyAttribute = "";
  let request = null;
  /** @type {ReturnType<typeof bindTools> | null} */
  let tools = null;

  const writeUrl = () => {
    const hash = formatHash({
      camera: getCamera(viewer),
      selected,
      style: thematic.spec,
      hidden: tools ? tools.hiddenFamilies() : INITIAL.hidden,
      sun: tools ? tools.sun.time : INITIAL.sun,
    });
    history.replaceState(null, "", `#${hash}`);
  };

  const panel = new Panel(document.getElementById("panel"), {
    onClose: () => {
      request?.abort();
      selected = null;
      highlighter.clear();
      writeUrl();
    },
    onHistoryAttribute: (name) => {
      historyAttribute = name;
      refreshHistory();
    },
  });

  const liveRows = () => {
    if (!selected) return new Map();
    const rows = new Map();
    for (const [name, v] of live.valuesOf(selected.dataset, selected.id)) {
      rows.set(name, { ...v, unit: unitText(v.unitCode ?? live.units.get(name)) });
    }
    return rows;
  };

  const refreshLive = () => {
    if (!selected) return;
    const rows = liveRows();
    if (!historyAttribute || !rows.has(historyAttribute)) {
      historyAttribute =
        thematic.spec.source === "live" && rows.has(thematic.spec.attribute)
          ? thematic.spec.attribute
          : ([...rows.keys()].sort()[0] ?? "");
    }
    panel.showLive(rows, historyAttribute);
  };

  let historyRequest = null;
  async function refreshHistory() {
    if (!selected || !historyAttribute) return;
    const entityId = live.entityId(selected.dataset, selected.id);
    if (!entityId) return;
    historyRequest?.abort();
    historyRequest = new AbortController();
    const wanted = { ...selected };
    try {
      const points = await live.history(entityId, historyAttribute, 60, historyRequest.signal);
      if (!selected || selected.id !== wanted.id) return;
      const unit = unitText(live.units.get(historyAttribute));
      panel.setChart(historyChart(points, { unit }));
    } catch (error) {
      if (error.name !== "AbortError") console.warn("twin viewer: history", error);
    }
  }

  /**
   * Open the panel on an object: the tile's properties at once, then the server's record.
   *
   * @param {string} dataset
   * @param {string} id
   * @param {Record<string, unknown>} fromTile
   */
  function inspect(dataset, id, fromTile) {
    request?.abort();
    request = new AbortController();
    selected = { dataset, id };
    panel.show({ id, properties: fromTile, note: "Loading details…" });
    refreshLive();
    refreshHistory();
    writeUrl();
    fetchItem(itemUrl(COLLECTIONS_URL, dataset, id), request.signal).then(
      (item) => {
        if (panel.shows(id)) panel.show({ id, properties: { ...item.properties } });
      },
      (error) => {
        if (error.name === "AbortError" || !panel.shows(id)) return;
        const note = `From the tile only (details: ${error.message}).`;
        panel.show({ id, properties: fromTile, note });
      },
    );
  }

  listenForPicks(viewer, {
    onPick(feature, id) {
      if (tools?.measure.active) return;
      highlighter.set(feature);
      inspect(feature.tileset.twinDataset.id, id, tileProperties(feature));
    },
    onMiss() {
      if (tools?.measure.active) return;
      panel.close();
    },
  });

  // Live values: recolour at most every 200 ms, update the open panel at once.
  let recolour = null;
  live.subscribe((change) => {
    if (thematic.spec.source === "live" && change.attribute === thematic.spec.attribute) {
      thematic.live.set(change.id, change.value);
      recolour ??= setTimeout(() => {
        recolour = null;
        thematic.setLive(thematic.live);
      }, 200);
    }
    if (selected && selected.dataset === change.dataset && selected.id === change.id) {
      refreshLive();
      if (change.attribute === historyAttribute) refreshHistory();
    }
  });

  /**
   * Load the live values of the loaded buildings no request has asked for yet.
   *
   * @param {Cesium.Cesium3DTileset[]} tilesets
   * @returns {Promise<number>} how many buildings were asked for
   */
  async function loadLive(tilesets) {
    let asked = 0;
    for (const tileset of tilesets) {
      const ids = thematic.staticValues("id", [tileset]).map(String);
      asked += await live.load(tileset.twinDataset.id, ids).catch((e) => {
        console.warn("twin viewer:", e);
        return 0;
      });
    }
    return asked;
  }

  const hook = { viewer, panel, thematic, live, datasets: [], tilesets: [], ready: null };
  hook.ready = loadCity(viewer, loading).then(
    async ({ datasets, tilesets }) => {
      hook.datasets = datasets;
      hook.tilesets = tilesets;
      await Promise.all(tilesets.map((tileset) => tilesIn(scene, tileset)));
      thematic.setTilesets(tilesets);
      await loadLive(tilesets);
      tools = bindTools({ viewer, thematic, live, datasets, tilesets, initial: INITIAL,
        collectionsUrl: COLLECTIONS_URL, onChange: writeUrl,
        onFound: (hit) => inspect(hit.dataset, hit.id, { id: hit.id }) });
      hook.tools = tools;
      await tools.typesReady;
      if (INITIAL.selected) {
        highlighter.set(null, INITIAL.selected.id);
        inspect(INITIAL.selected.dataset, INITIAL.selected.id, { id: INITIAL.selected.id });
      }
      // Buildings whose tiles load later (another dataset flown to, finer levels): fetch their
      // live values, a batch of new ids at a time, then recolour and fill the open panel.
      afterTileLoads(tilesets, 300, async () => {
        const before = selected && live.entityId(selected.dataset, selected.id);
        if ((await loadLive(tilesets)) === 0) return;
        tools.liveLoaded();
        if (selected && !before && live.entityId(selected.dataset, selected.id)) {
          refreshLive();
          refreshHistory();
        }
      });
      let pending = null;
      viewer.camera.moveEnd.addEventListener(() => {
        clearTimeout(pending);
        pending = setTimeout(writeUrl, 250);
      });
      writeUrl();
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
