/**
 * The tools column: search, style (attribute, filter, legend), object types, datasets, detail,
 * sun and shadows, measure, screenshot.
 *
 * It owns the DOM of `nav.tools` in index.html and turns its controls into calls on the
 * thematic styler, the camera and the tilesets.
 */
import Cesium from "./cesium.js";
import { labelFor } from "./format.js";
import { MeasureTool } from "./measure.js";
import { flyToOblique } from "./scene.js";
import { search } from "./search.js";
import { afterTileLoads } from "./status.js";
import { Sun, bindSunControls } from "./sun.js";
import { bindTypeToggles, countTypes, familiesOf } from "./types.js";

const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);

/** Attributes that make no sense to colour by. */
const NOT_STYLABLE = new Set(["id", "description", "parent_id", "name"]);

/**
 * Fly to a search hit's bounding box (a sphere around its footprint and height).
 *
 * @param {Cesium.Viewer} viewer
 * @param {number[]} bbox `[minLon, minLat, minH, maxLon, maxLat, maxH]` or 4 numbers
 * @param {{duration?: number}} [options]
 * @returns {Promise<void>}
 */
export function flyToBbox(viewer, bbox, options = {}) {
  const [w, s, lo, e, n, hi] = bbox.length === 6 ? bbox : [bbox[0], bbox[1], 0, bbox[2], bbox[3], 0];
  const corners = [
    Cesium.Cartesian3.fromDegrees(w, s, lo),
    Cesium.Cartesian3.fromDegrees(e, n, hi),
    Cesium.Cartesian3.fromDegrees(w, n, lo),
    Cesium.Cartesian3.fromDegrees(e, s, hi),
  ];
  const sphere = Cesium.BoundingSphere.fromPoints(corners);
  sphere.radius = Math.max(sphere.radius, 20);
  return flyToOblique(viewer, sphere, { duration: 1.5, ...options });
}

/**
 * Wire every control; returns handles for tests.
 *
 * @param {object} o
 * @param {Cesium.Viewer} o.viewer
 * @param {import("./thematic.js").Thematic} o.thematic
 * @param {import("./live.js").LiveStore} o.live
 * @param {import("./datasets.js").Dataset[]} o.datasets
 * @param {Cesium.Cesium3DTileset[]} o.tilesets
 * @param {import("./urlstate.js").ViewState} o.initial
 * @param {string} o.collectionsUrl
 * @param {() => void} o.onChange the shareable state changed
 * @param {(hit: import("./search.js").Hit) => void} o.onFound a search hit was chosen
 * @returns {{applyStyle: () => void, liveLoaded: () => void, measure: MeasureTool, sun: Sun,
 *   hiddenFamilies: () => string[], typesReady: Promise<void>}}
 */
export function bindTools(o) {
  const { viewer, thematic, live } = o;
  const attribute = $("style-attribute");
  const filter = $("style-filter");
  const mode = $("style-mode");
  const error = $("style-error");
  const legend = $("legend");

  // Attribute choices: static ones from the tiles, live ones from the joined values.
  const group = (label, names, source) => {
    const g = document.createElement("optgroup");
    g.label = label;
    for (const n of names) {
      const opt = new Option(labelFor(n), `${source}:${n}`);
      g.append(opt);
    }
    return g;
  };
  let statics = "";
  const fillStatic = () => {
    const names = [...thematic.propertyNames()].filter((n) => !NOT_STYLABLE.has(n)).sort();
    if (names.join() === statics) return;
    statics = names.join();
    const value = attribute.value;
    const old = attribute.querySelector('optgroup[label="Attributes"]');
    const fresh = group("Attributes", names, "static");
    if (old) old.replaceWith(fresh);
    else attribute.append(fresh); // the first time, before the live group
    attribute.value = value;
  };
  const fillLive = () => {
    attribute.querySelector('optgroup[label="Live"]')?.remove();
    const names = live.attributes();
    if (names.length) attribute.append(group("Live", names, "live"));
  };
  fillStatic();
  fillLive();
  // Tiles that load later (another dataset flown to, a finer level) may bring attributes the
  // first view had none of: list them as they arrive, at most every 300 ms.
  afterTileLoads(o.tilesets, 300, fillStatic);

  function showLegend(result) {
    legend.hidden = result === null;
    if (result === null) return;
    const title = document.createElement("p");
    title.className = "legend__title";
    title.textContent = labelFor(result.title);
    const list = document.createElement("ul");
    for (const row of result.rows.slice(0, 12)) {
      const li = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = "legend__swatch";
      swatch.style.background = row.color;
      li.append(swatch, document.createTextNode(row.label));
      list.append(li);
    }
    legend.replaceChildren(title, list);
  }

  function applyStyle() {
    const [source, ...rest] = attribute.value.split(":");
    const name = rest.join(":");
    const spec = {
      attribute: name,
      source: source === "live" ? "live" : "static",
      filter: filter.value.trim(),
      mode: mode.value === "hide" ? "hide" : "dim",
    };
    if (spec.source === "live") thematic.live = live.column(name);
    try {
      showLegend(thematic.apply(spec));
      error.hidden = true;
      filter.removeAttribute("aria-invalid");
    } catch (e) {
      error.textContent = `Filter: ${e.message}`;
      error.hidden = false;
      filter.setAttribute("aria-invalid", "true");
    }
    o.onChange();
  }

  // Restore the style from the URL.
  const s = o.initial.style;
  if (s.attribute) attribute.value = `${s.source}:${s.attribute}`;
  filter.value = s.filter;
  mode.value = s.mode;
  applyStyle();
  attribute.addEventListener("change", applyStyle);
  mode.addEventListener("change", applyStyle);
  filter.addEventListener("change", applyStyle);
  filter.addEventListener("keydown", (event) => {
    if (event.key === "Enter") applyStyle();
  });
  // New live attributes appear in the list as their first values arrive.
  let known = live.attributes().join();
  const refillLive = () => {
    const now = live.attributes().join();
    if (now === known) return;
    known = now;
    const value = attribute.value;
    fillLive();
    attribute.value = value;
  };
  live.subscribe(refillLive);
  // The joined values of buildings whose tiles loaded later: list their attributes and, when
  // colouring by a live one, recolour with the new values (the legend's scale includes them).
  const liveLoaded = () => {
    refillLive();
    if (thematic.spec.source === "live") applyStyle();
  };

  // Search.
  const form = $("search-form");
  const input = $("search-input");
  const results = $("search-results");
  let searching = null;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const query = input.value.trim();
    if (!query) return;
    searching?.abort();
    searching = new AbortController();
    results.replaceChildren(Object.assign(document.createElement("li"), { textContent: "Searching…" }));
    try {
      const hits = await search(o.collectionsUrl, o.datasets.map((d) => d.id), query, searching.signal);
      const choose = (hit) => {
        results.replaceChildren();
        flyToBbox(viewer, hit.bbox);
        o.onFound(hit);
      };
      if (hits.length === 1 || (hits.length && hits[0].id === query)) {
        choose(hits[0]);
        return;
      }
      results.replaceChildren(
        ...(hits.length ? hits : [null]).map((hit) => {
          const li = document.createElement("li");
          if (!hit) {
            li.textContent = "Nothing found";
            return li;
          }
          const button = document.createElement("button");
          button.type = "button";
          button.textContent = hit.label;
          button.addEventListener("click", () => choose(hit));
          li.append(button);
          return li;
        }),
      );
    } catch (e) {
      if (e.name !== "AbortError") results.replaceChildren(Object.assign(document.createElement("li"), { textContent: e.message }));
    }
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      input.value = "";
      results.replaceChildren();
    }
  });

  // Datasets: visibility and fly-to.
  $("dataset-list").replaceChildren(
    ...o.datasets.map((d, i) => {
      const tileset = o.tilesets[i];
      const li = document.createElement("li");
      const label = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = true;
      box.dataset.testid = `dataset-visible-${d.id}`;
      box.addEventListener("change", () => {
        tileset.show = box.checked;
        viewer.scene.requestRender();
      });
      label.append(box, document.createTextNode(` ${d.title}`));
      const fly = document.createElement("button");
      fly.type = "button";
      fly.textContent = "Fly to";
      fly.setAttribute("aria-label", `Fly to ${d.title}`);
      fly.addEventListener("click", () => flyToOblique(viewer, tileset.boundingSphere));
      li.append(label, fly);
      return li;
    }),
  );

  // Detail: maximum screen-space error.
  const detail = $("detail");
  detail.addEventListener("input", () => {
    for (const t of o.tilesets) t.maximumScreenSpaceError = Number(detail.value);
    viewer.scene.requestRender();
  });

  // Screenshot: render a fresh frame, then download the canvas.
  $("screenshot").addEventListener("click", () => {
    const remove = viewer.scene.postRender.addEventListener(() => {
      remove();
      const a = document.createElement("a");
      a.href = viewer.scene.canvas.toDataURL("image/png");
      a.download = `twin-${new Date().toISOString().replace(/[:.]/g, "-")}.png`;
      a.click();
    });
    viewer.scene.requestRender();
  });

  // Object types: one toggle per family present, counted by the server.
  let hiddenFamilies = [...o.initial.hidden];
  const typesReady = countTypes(o.collectionsUrl, o.datasets.map((d) => d.id)).then(
    (counts) =>
      bindTypeToggles($("type-list"), familiesOf(counts), new Set(hiddenFamilies), (keys, types) => {
        hiddenFamilies = keys;
        thematic.hideTypes(types);
        o.onChange();
      }),
    (e) => {
      $("type-list").replaceChildren(Object.assign(document.createElement("li"), { textContent: e.message }));
    },
  );

  // Sun and shadows.
  const sun = new Sun(viewer);
  const controls = { toggle: $("shadows"), date: $("sun-date"), time: $("sun-time"),
    timeText: $("sun-time-text"), zone: $("sun-zone") };
  bindSunControls(sun, controls, o.initial.sun, o.onChange);
  if (o.initial.sun) controls.toggle.closest("details").open = true;

  const measure = new MeasureTool(viewer, { button: $("measure"), readout: $("measure-readout") });

  return { applyStyle, liveLoaded, measure, sun, hiddenFamilies: () => hiddenFamilies, typesReady };
}
