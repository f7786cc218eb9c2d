/**
 * Click-to-pick for 3D Tiles features, with a colour highlight on the picked one.
 */
import Cesium from "./cesium.js";

const HIGHLIGHT = Cesium.Color.fromCssColorString("#e8a33d");

/**
 * Read a picked 3D Tiles feature's object id (property `id`, the gml:id).
 *
 * @param {unknown} picked result of `scene.pick`
 * @returns {string | null} the id, or null when nothing pickable with an id was hit
 */
export function featureId(picked) {
  if (!(picked instanceof Cesium.Cesium3DTileFeature)) return null;
  const id = picked.getProperty("id");
  return id === undefined || id === null ? null : String(id);
}

/**
 * Collect a feature's own tile properties (the fallback when the server lookup fails).
 *
 * @param {Cesium.Cesium3DTileFeature} feature
 * @returns {Record<string, unknown>}
 */
export function tileProperties(feature) {
  const properties = {};
  for (const name of feature.getPropertyIds()) {
    properties[name] = feature.getProperty(name);
  }
  return properties;
}

/** Colours one feature at a time and restores its previous colour when cleared. */
export class Highlighter {
  constructor() {
    this.feature = null;
    this.previous = new Cesium.Color();
  }

  /** @param {Cesium.Cesium3DTileFeature} feature */
  set(feature) {
    this.clear();
    this.feature = feature;
    Cesium.Color.clone(feature.color, this.previous);
    feature.color = HIGHLIGHT;
  }

  clear() {
    if (this.feature === null) return;
    try {
      this.feature.color = this.previous;
    } catch {
      // The tile holding the feature was unloaded; there is nothing left to restore.
    }
    this.feature = null;
  }
}

/**
 * Call `onPick(feature, id)` when a building is clicked and `onMiss()` for empty space.
 *
 * @param {Cesium.Viewer} viewer
 * @param {object} handlers
 * @param {(feature: Cesium.Cesium3DTileFeature, id: string) => void} handlers.onPick
 * @param {() => void} handlers.onMiss
 * @returns {Cesium.ScreenSpaceEventHandler} destroy it to stop listening
 */
export function listenForPicks(viewer, { onPick, onMiss }) {
  const handler = new Cesium.ScreenSpaceEventHandler(viewer.scene.canvas);
  handler.setInputAction((click) => {
    const picked = viewer.scene.pick(click.position);
    const id = featureId(picked);
    if (id === null) onMiss();
    else onPick(picked, id);
  }, Cesium.ScreenSpaceEventType.LEFT_CLICK);
  return handler;
}
