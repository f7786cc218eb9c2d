/**
 * The Cesium viewer, configured to work offline: no ion, no Bing/OSM, no geocoder.
 *
 * The only imagery is Natural Earth II, which ships inside Cesium's build and is served by
 * twin under `/viewer/cesium/`. Terrain is the bare WGS84 ellipsoid.
 */
import Cesium from "./cesium.js";

/**
 * Create the viewer in `container` with every network-using default switched off.
 *
 * @param {HTMLElement | string} container element (or its id) that receives the canvas
 * @returns {Cesium.Viewer}
 */
export function createViewer(container) {
  // Nothing may talk to Cesium ion: no token, and no ion-backed defaults below.
  Cesium.Ion.defaultAccessToken = "";

  const imagery = Cesium.TileMapServiceImageryProvider.fromUrl(
    Cesium.buildModuleUrl("Assets/Textures/NaturalEarthII"),
  );
  const viewer = new Cesium.Viewer(container, {
    baseLayer: Cesium.ImageryLayer.fromProviderAsync(imagery),
    terrainProvider: new Cesium.EllipsoidTerrainProvider(),
    baseLayerPicker: false,
    geocoder: false,
    homeButton: false,
    sceneModePicker: false,
    navigationHelpButton: false,
    animation: false,
    timeline: false,
    fullscreenButton: false,
    infoBox: false,
    selectionIndicator: false,
    shadows: false,
    // Render only when something changed (camera, tiles, highlight): the scene is static, and
    // software WebGL (SwiftShader in CI) would otherwise spend every core on identical frames.
    requestRenderMode: true,
    maximumRenderTimeChange: Infinity,
  });

  const scene = viewer.scene;
  scene.globe.baseColor = Cesium.Color.fromCssColorString("#1b2a33");
  scene.globe.enableLighting = false;
  // Buildings sit at their ellipsoidal height; the ellipsoid "terrain" is tens of metres
  // below them, so testing depth against it would only clip them.
  scene.globe.depthTestAgainstTerrain = false;
  // Software WebGL (SwiftShader in CI, VMs without a GPU) pays for every shader program once,
  // at its first draw (1–8 s each on a busy CPU), and for every multisample on every frame.
  // The sky and ground atmosphere and fog are the largest programs the scene would compile and
  // add nothing to a district seen from a few hundred metres: a plain sky replaces them. One
  // sample per pixel plus FXAA keeps edges smooth at a quarter of the fill cost of 4× MSAA.
  scene.msaaSamples = 1;
  scene.fog.enabled = false;
  scene.skyAtmosphere.show = false;
  scene.globe.showGroundAtmosphere = false;
  scene.sun.show = false;
  scene.moon.show = false;
  scene.skyBox.show = false;
  scene.backgroundColor = Cesium.Color.fromCssColorString("#7f9db3");
  scene.postProcessStages.fxaa.enabled = true;
  useCameraLight(scene);
  return viewer;
}

/**
 * Light the city from over the viewer's shoulder, whatever the time of day.
 *
 * The default sun light follows the clock, so at night buildings turn black. A light that
 * comes from behind, slightly to the right and above the camera keeps walls and roofs
 * distinguishable from every angle.
 *
 * @param {Cesium.Scene} scene
 */
export function useCameraLight(scene) {
  const light = new Cesium.DirectionalLight({
    direction: new Cesium.Cartesian3(0, 0, -1),
    intensity: 2.2,
  });
  scene.light = light;
  const down = new Cesium.Cartesian3();
  const right = new Cesium.Cartesian3();
  const direction = new Cesium.Cartesian3();
  scene.preRender.addEventListener(() => {
    const camera = scene.camera;
    scene.globe.ellipsoid.geodeticSurfaceNormal(camera.positionWC, down);
    Cesium.Cartesian3.negate(down, down);
    Cesium.Cartesian3.clone(camera.directionWC, direction);
    Cesium.Cartesian3.multiplyByScalar(camera.rightWC, 0.6, right);
    Cesium.Cartesian3.multiplyByScalar(down, 0.8, down);
    Cesium.Cartesian3.add(direction, right, direction);
    Cesium.Cartesian3.add(direction, down, direction);
    Cesium.Cartesian3.normalize(direction, light.direction);
  });
}

/**
 * Fly (or jump) to an oblique view over a bounding sphere.
 *
 * @param {Cesium.Viewer} viewer
 * @param {Cesium.BoundingSphere} sphere what to frame
 * @param {{duration?: number}} [options] flight seconds; 0 jumps
 * @returns {Promise<void>} settles when the camera has arrived (or the flight was cancelled)
 */
export function flyToOblique(viewer, sphere, { duration = 2 } = {}) {
  const offset = new Cesium.HeadingPitchRange(
    Cesium.Math.toRadians(-30),
    Cesium.Math.toRadians(-35),
    Math.max(sphere.radius * 1.7, 150),
  );
  return new Promise((resolve) => {
    viewer.camera.flyToBoundingSphere(sphere, {
      offset,
      duration,
      complete: resolve,
      cancel: resolve,
    });
  });
}
