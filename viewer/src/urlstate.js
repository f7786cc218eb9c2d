/**
 * The shareable view in the URL hash: camera, selected object, style, hidden object types and
 * the sun (shadows on at a date and time).
 *
 * `#cam=lon,lat,height,heading,pitch&sel=dataset/id&style=attr&src=live&filter=…&mode=hide
 * &hide=vegetation,terrain&sun=2026-06-21T10:00Z` (degrees, metres, UTC).
 */

/**
 * @typedef {object} ViewState
 * @property {{lon: number, lat: number, height: number, heading: number, pitch: number} | null} camera
 * @property {{dataset: string, id: string} | null} selected
 * @property {{attribute: string, source: "static" | "live", filter: string, mode: "dim" | "hide"}} style
 * @property {string[]} hidden object-type families switched off (see types.js)
 * @property {Date | null} sun the sun's time when shadows are on, null when off
 * @property {string[]} ignored `key=value` of every parameter that was unknown or unusable
 */

const KEYS = new Set(["cam", "sel", "style", "src", "filter", "mode", "hide", "sun"]);

/**
 * Parse a location hash.
 *
 * @param {string} hash e.g. `window.location.hash`
 * @returns {ViewState}
 */
export function parseHash(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  let camera = null;
  const cam = (params.get("cam") ?? "").split(",").map(Number);
  if (cam.length === 5 && cam.every(Number.isFinite)) {
    const [lon, lat, height, heading, pitch] = cam;
    camera = { lon, lat, height, heading, pitch };
  }
  let selected = null;
  const sel = params.get("sel");
  if (sel && sel.includes("/")) {
    const at = sel.indexOf("/");
    selected = { dataset: sel.slice(0, at), id: sel.slice(at + 1) };
  }
  let sun = params.get("sun") ? new Date(params.get("sun")) : null;
  if (sun && !Number.isFinite(sun.getTime())) sun = null;
  const unusable = {
    cam: camera === null,
    sel: selected === null,
    sun: sun === null,
    src: !["live", "static"].includes(params.get("src")),
    mode: !["dim", "hide"].includes(params.get("mode")),
  };
  const ignored = [...params.entries()]
    .filter(([key]) => !KEYS.has(key) || unusable[key])
    .map(([key, value]) => `${key}=${value}`);
  return {
    camera,
    selected,
    hidden: (params.get("hide") ?? "").split(",").filter(Boolean),
    sun,
    ignored,
    style: {
      attribute: params.get("style") ?? "",
      source: params.get("src") === "live" ? "live" : "static",
      filter: params.get("filter") ?? "",
      mode: params.get("mode") === "hide" ? "hide" : "dim",
    },
  };
}

/**
 * Format a view state as a hash (without `#`).
 *
 * @param {ViewState} state
 * @returns {string}
 */
export function formatHash(state) {
  const params = new URLSearchParams();
  if (state.camera) {
    const c = state.camera;
    params.set(
      "cam",
      [c.lon.toFixed(6), c.lat.toFixed(6), c.height.toFixed(1), c.heading.toFixed(1), c.pitch.toFixed(1)].join(","),
    );
  }
  if (state.selected) params.set("sel", `${state.selected.dataset}/${state.selected.id}`);
  if (state.style.attribute) {
    params.set("style", state.style.attribute);
    if (state.style.source === "live") params.set("src", "live");
  }
  if (state.style.filter) {
    params.set("filter", state.style.filter);
    if (state.style.mode === "hide") params.set("mode", "hide");
  }
  if (state.hidden?.length) params.set("hide", state.hidden.join(","));
  if (state.sun) params.set("sun", `${state.sun.toISOString().slice(0, 16)}Z`);
  return params.toString();
}
