/**
 * Click-to-pick for 3D Tiles features, with a colour highlight on the picked one.
 */
import Cesium from "./cesium.js";

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
 * Highlights one feature at a time: a warm tint (drawn by the style, through `onSelect`) plus,
 * where WebGL allows, an outline.
 */
export class Highlighter {
  /**
   * @param {Cesium.Scene} scene
   * @param {(id: string | null) => void} onSelect tints the feature with this id (null: none)
   */
  constructor(scene, onSelect) {
    this.scene = scene;
    this.onSelect = onSelect;
    this.feature = null;
    /** @type {Cesium.PostProcessStage | null} created on the first pick (see {@link outline}) */
    this.edges = null;
    this.silhouette = null;
  }

  /**
   * Outline `feature`, creating the silhouette stage on first use.
   *
   * The stage costs a full-screen edge-detection pass on every frame while enabled, and its
   * shaders take seconds to compile on software WebGL; so it exists only once something was
   * picked and is disabled whenever nothing is selected.
   *
   * @param {Cesium.Cesium3DTileFeature | null} feature
   */
  outline(feature) {
    if (this.edges === null) {
      if (feature === null || !Cesium.PostProcessStageLibrary.isSilhouetteSupported(this.scene)) {
        return;
      }
      this.edges = Cesium.PostProcessStageLibrary.createEdgeDetectionStage();
      this.edges.uniforms.color = OUTLINE;
      this.edges.uniforms.length = 0.01;
      this.silhouette = Cesium.PostProcessStageLibrary.createSilhouetteStage([this.edges]);
      this.scene.postProcessStages.add(this.silhouette);
    }
    this.edges.selected = feature === null ? [] : [feature];
    this.silhouette.enabled = feature !== null;
  }

  /**
   * @param {Cesium.Cesium3DTileFeature | null} feature the feature to highlight instead
   * @param {string | null} [id] its id when the feature is not loaded (restored selection)
   */
  set(feature, id = null) {
    this.feature = feature;
    this.onSelect(feature ? featureId(feature) : id);
    this.outline(feature);
    this.scene.requestRender();
  }

  /** Drop the tint and the outline. */
  clear() {
    this.feature = null;
    this.outline(null);
    this.onSelect(null);
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
