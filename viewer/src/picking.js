/**
 * Click-to-pick for 3D Tiles features, with a colour highlight on the picked one.
 */
import Cesium from "./cesium.js";

const TINT = Cesium.Color.fromCssColorString("#ffc94d");
const OUTLINE = Cesium.Color.fromCssColorString("#ffb000");

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

/**
 * Highlights one feature at a time: a warm tint plus, where WebGL allows, an outline.
 *
 * The tint multiplies the feature's own colours (white walls turn gold, red roofs deepen);
 * the silhouette keeps the pick visible whatever the building's colours are.
 */
export class Highlighter {
  /** @param {Cesium.Scene} scene */
  constructor(scene) {
    this.scene = scene;
    this.feature = null;
    this.previous = new Cesium.Color();
    this.edges = null;
    if (Cesium.PostProcessStageLibrary.isSilhouetteSupported(scene)) {
      this.edges = Cesium.PostProcessStageLibrary.createEdgeDetectionStage();
      this.edges.uniforms.color = OUTLINE;
      this.edges.uniforms.length = 0.01;
      this.edges.selected = [];
      scene.postProcessStages.add(
        Cesium.PostProcessStageLibrary.createSilhouetteStage([this.edges]),
      );
    }
  }

  /** @param {Cesium.Cesium3DTileFeature} feature the feature to highlight instead */
  set(feature) {
    this.clear();
    this.feature = feature;
    Cesium.Color.clone(feature.color, this.previous);
    feature.color = TINT;
    if (this.edges) this.edges.selected = [feature];
    this.scene.requestRender();
  }

  /** Restore the highlighted feature's colour and drop the outline. */
  clear() {
    if (this.edges) this.edges.selected = [];
    if (this.feature === null) return;
    try {
      this.feature.color = this.previous;
    } catch {
      // The tile holding the feature was unloaded; there is nothing left to restore.
    }
    this.feature = null;
    this.scene.requestRender();
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
