/**
 * The CesiumJS namespace, loaded by index.html as the classic `cesium/Cesium.js` build.
 *
 * Modules import Cesium from here rather than reaching for the global, so the one place that
 * knows how Cesium arrives is this file.
 */
const Cesium = globalThis.Cesium;
if (!Cesium) {
  throw new Error("twin viewer: cesium/Cesium.js did not load (is /viewer/cesium/ served?)");
}

export default Cesium;
