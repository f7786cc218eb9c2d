/**
 * Thematic styling of every tileset: colour by an attribute (static or live), a filter
 * expression that dims or hides the rest, object types switched off, and the picked feature's
 * highlight.
 *
 * Static attributes become a `Cesium3DTileStyle` with one condition per class; live ones an
 * `evaluateColor` over an id → value map (re-evaluated with `makeStyleDirty`, never reloading
 * tiles). Colours are MIXed into the tile materials, so roofs and walls keep their own shade.
 */
import Cesium from "./cesium.js";
import { formatWithUnit } from "./format.js";
import {
  DIMMED,
  NO_VALUE,
  RAMP,
  categoryColors,
  isNumeric,
  quantileBreaks,
  rampColor,
  rampLegend,
  stepColors,
} from "./ramp.js";

const TINT = "#ffc94d";
const PLAIN = "#ffffff";
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * @typedef {object} StyleSpec
 * @property {string} attribute  attribute name ("" for none)
 * @property {"static" | "live"} source where its values come from
 * @property {string} filter     user expression, e.g. `measuredHeight > 10` ("" for none)
 * @property {"dim" | "hide"} mode what happens to features failing the filter
 */

/**
 * @typedef {object} Legend
 * @property {string} title
 * @property {{color: string, label: string}[]} rows
 */

/**
 * Reference a feature property in a Cesium style expression.
 *
 * @param {string} name
 * @returns {string}
 */
export function propertyRef(name) {
  return IDENT.test(name) ? `\${${name}}` : `\${feature[${JSON.stringify(name)}]}`;
}

/** A name in a filter: words joined by dots. */
const DOTTED_NAME = /[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*/g;

/**
 * Reference a name of a filter: a known dotted name as one property (`attribute.type`, the
 * tile's name of a CityGML attribute called `type`; `externalReference.informationSystem`),
 * else each known word of it.
 *
 * @param {string} name
 * @param {Set<string>} names
 * @returns {string}
 */
function propertyRefs(name, names) {
  if (names.has(name)) return propertyRef(name);
  return name
    .split(".")
    .map((word) => (names.has(word) ? propertyRef(word) : word))
    .join(".");
}

/**
 * Translate a planner's filter (`measuredHeight > 10 and function = '1000'`) to a Cesium
 * style expression: known attribute names (dotted ones too) become `${name}`, `and/or/not` and
 * `=`/`<>` their JavaScript forms.
 *
 * @param {string} text
 * @param {Set<string>} names attribute names that may appear
 * @returns {string} "" for an empty filter
 */
export function toCesiumExpression(text, names) {
  const parts = text.trim().split(/('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")/);
  return parts
    .map((part, i) => {
      if (i % 2 === 1) return part; // a string literal, untouched
      return part
        .replace(/<>|!=/g, "!==")
        .replace(/(^|[^<>!=])=(?!=)/g, "$1===")
        .replace(/\b(and|AND)\b/g, "&&")
        .replace(/\b(or|OR)\b/g, "||")
        .replace(/\b(not|NOT)\b/g, "!")
        .replace(DOTTED_NAME, (name) => propertyRefs(name, names));
    })
    .join("");
}

/**
 * Every loaded tile content with features, root first.
 *
 * @param {Cesium.Cesium3DTileset[]} tilesets
 * @returns {Generator<Cesium.Cesium3DTileContent>}
 */
function* loadedContents(tilesets) {
  const visit = function* (tile) {
    if (tile.content?.featuresLength) yield tile.content;
    for (const child of tile.children) yield* visit(child);
  };
  for (const tileset of tilesets) yield* visit(tileset.root);
}

export class Thematic {
  /**
   * @param {Cesium.Scene} scene
   * @param {{unitOf: (attribute: string) => string}} units unit text for an attribute
   */
  constructor(scene, units) {
    this.scene = scene;
    this.units = units;
    /** @type {Cesium.Cesium3DTileset[]} */
    this.tilesets = [];
    /** @type {StyleSpec} */
    this.spec = { attribute: "", source: "static", filter: "", mode: "dim" };
    /** @type {Map<string, unknown>} live values of the styled attribute, by feature id */
    this.live = new Map();
    this.selectedId = null;
    this.colorOf = () => PLAIN;
    this.legend = null;
    this.filterExpression = null;
    /** @type {number[] | null} quantile breaks of a numeric style */
    this.breaks = null;
    /** @type {number[] | null} the distinct values of a numeric style with few of them */
    this.steps = null;
    /** @type {Set<string>} object types (the `type` property) not drawn at all */
    this.hiddenTypes = new Set();
  }

  /** @param {Cesium.Cesium3DTileset[]} tilesets */
  setTilesets(tilesets) {
    this.tilesets = tilesets;
    this.apply(this.spec);
  }

  /**
   * Collect the values of a static attribute from every loaded feature.
   *
   * @param {string} name
   * @param {Cesium.Cesium3DTileset[]} [tilesets] where to look (all styled ones by default)
   * @returns {unknown[]}
   */
  staticValues(name, tilesets = this.tilesets) {
    const values = [];
    for (const content of loadedContents(tilesets)) {
      for (let i = 0; i < content.featuresLength; i++) {
        values.push(content.getFeature(i).getProperty(name));
      }
    }
    return values;
  }

  /**
   * Property names seen in loaded features: the first feature of every loaded tile, since a
   * parent tile (a coarse LoD block) may carry only `id` and `type`.
   *
   * @returns {Set<string>}
   */
  propertyNames() {
    const names = new Set();
    for (const content of loadedContents(this.tilesets)) {
      for (const n of content.getFeature(0).getPropertyIds()) names.add(n);
    }
    return names;
  }

  /**
   * Style every tileset per `spec`; returns the legend (null when not colouring).
   *
   * @param {StyleSpec} spec
   * @returns {Legend | null}
   * @throws {Error} when the filter expression does not parse
   */
  apply(spec) {
    const names = new Set([...this.propertyNames(), ...(spec.source === "live" ? [spec.attribute] : [])]);
    const filter = spec.filter ? toCesiumExpression(spec.filter, names) : "";
    this.filterExpression = filter ? new Cesium.Expression(filter) : null; // throws if invalid
    this.spec = { ...spec };
    const values =
      spec.attribute === ""
        ? []
        : spec.source === "live"
          ? [...this.live.values()]
          : this.staticValues(spec.attribute);
    this.colorOf = this.makeColorOf(spec.attribute, values);
    this.restyle();
    return this.legend;
  }

  /**
   * Build the id → colour function and the legend for an attribute's values.
   *
   * @param {string} attribute
   * @param {unknown[]} values
   * @returns {(value: unknown) => string}
   */
  makeColorOf(attribute, values) {
    if (attribute === "") {
      this.legend = null;
      return () => PLAIN;
    }
    const unit = this.units.unitOf(attribute);
    this.breaks = null;
    this.steps = null;
    if (isNumeric(values)) {
      // The panel's number format (integers, years and ids among them, ungrouped), then the unit.
      const fmt = (n) => formatWithUnit(n, unit);
      const distinct = [...new Set(values.filter((v) => typeof v === "number"))].sort((a, b) => a - b);
      if (distinct.length <= RAMP.length) {
        const step = stepColors(distinct);
        this.steps = distinct;
        this.legend = { title: attribute, rows: distinct.map((v) => ({ color: step(v), label: fmt(v) })) };
        return (value) => (typeof value === "number" ? step(value) : NO_VALUE);
      }
      const breaks = quantileBreaks(/** @type {number[]} */ (values));
      this.breaks = breaks;
      this.legend = { title: attribute, rows: rampLegend(breaks, fmt) };
      return (value) => (typeof value === "number" ? rampColor(value, breaks) : NO_VALUE);
    }
    const colors = categoryColors(values);
    this.legend = {
      title: attribute,
      rows: [...colors.entries()].map(([label, color]) => ({ color, label })),
    };
    return (value) => colors.get(String(value)) ?? NO_VALUE;
  }

  /**
   * Colour of one feature under the current style, selection and filter.
   *
   * @param {Cesium.Cesium3DTileFeature} feature
   * @returns {string} CSS colour
   */
  featureColor(feature) {
    const id = String(feature.getProperty("id"));
    if (id === this.selectedId) return TINT;
    if (this.filterExpression && this.spec.mode === "dim" && !this.passes(feature)) return DIMMED;
    if (this.spec.attribute === "") return PLAIN;
    const value =
      this.spec.source === "live" ? this.live.get(id) : feature.getProperty(this.spec.attribute);
    return this.colorOf(value);
  }

  /**
   * @param {Cesium.Cesium3DTileFeature} feature
   * @returns {boolean} whether the feature passes the filter (true without one)
   */
  passes(feature) {
    if (!this.filterExpression) return true;
    try {
      return Boolean(this.filterExpression.evaluate(feature));
    } catch {
      return false;
    }
  }

  /** Re-create the tilesets' style from the current state and render. */
  restyle() {
    const colorCache = new Map();
    const color = {
      evaluateColor: (feature, result) => {
        const css = this.featureColor(feature);
        let c = colorCache.get(css);
        if (!c) colorCache.set(css, (c = Cesium.Color.fromCssColorString(css)));
        return Cesium.Color.clone(c, result ?? new Cesium.Color());
      },
      evaluate: (feature) => color.evaluateColor(feature),
    };
    for (const tileset of this.tilesets) {
      const style = new Cesium.Cesium3DTileStyle();
      if (this.spec.source === "static" && this.spec.attribute !== "" && !this.selectedId) {
        style.color = this.staticConditions();
      } else {
        style.color = color;
      }
      const hideFailing = this.filterExpression !== null && this.spec.mode === "hide";
      if (hideFailing || this.hiddenTypes.size) {
        style.show = {
          evaluate: (feature) =>
            !this.hiddenTypes.has(String(feature.getProperty("type"))) &&
            (!hideFailing || this.passes(feature)),
        };
      }
      tileset.style = style;
      tileset.colorBlendMode = Cesium.Cesium3DTileColorBlendMode.MIX;
      tileset.colorBlendAmount = this.spec.attribute === "" ? 0.0 : 0.7;
    }
    this.scene.requestRender();
  }

  /**
   * The static style as Cesium conditions (what a `Cesium3DTileStyle` JSON would hold).
   *
   * @returns {{conditions: [string, string][]}}
   */
  staticConditions() {
    const ref = propertyRef(this.spec.attribute);
    const conditions = [];
    if (this.filterExpression && this.spec.mode === "dim") {
      conditions.push([`!(${this.filterExpression.expression})`, `color('${DIMMED}')`]);
    }
    conditions.push([`${ref} === undefined || ${ref} === null`, `color('${NO_VALUE}')`]);
    if (this.steps) {
      for (const v of this.steps) conditions.push([`${ref} === ${v}`, `color('${this.colorOf(v)}')`]);
      conditions.push(["true", `color('${NO_VALUE}')`]);
      return { conditions };
    }
    if (this.breaks) {
      for (let k = this.breaks.length - 2; k >= 0; k--) {
        const b = this.breaks[k];
        conditions.push([`${ref} >= ${b}`, `color('${this.colorOf(b)}')`]);
      }
      conditions.push(["true", `color('${this.colorOf(this.breaks[0])}')`]);
      return { conditions };
    }
    const values = new Set(this.staticValues(this.spec.attribute));
    for (const value of values) {
      if (value === undefined || value === null) continue;
      // A BOOLEAN property reads as true/false, never as the text "true" the legend shows.
      const literal =
        typeof value === "number" || typeof value === "boolean"
          ? String(value)
          : JSON.stringify(String(value));
      conditions.push([`${ref} === ${literal}`, `color('${this.colorOf(value)}')`]);
    }
    conditions.push(["true", `color('${NO_VALUE}')`]);
    return { conditions };
  }

  /**
   * Hide the features of these object types (the tiles' `type` property); show the others.
   *
   * @param {Iterable<string>} types
   */
  hideTypes(types) {
    this.hiddenTypes = new Set(types);
    this.restyle();
  }

  /**
   * Highlight a feature by id (null clears).
   *
   * @param {string | null} id
   */
  select(id) {
    this.selectedId = id;
    this.restyle();
  }

  /**
   * Replace or update the live values of the styled attribute and recolour.
   *
   * @param {Map<string, unknown>} values id → value
   * @param {{rescale?: boolean}} [options] recompute the ramp (else keep the legend stable)
   */
  setLive(values, { rescale = false } = {}) {
    this.live = values;
    if (this.spec.source !== "live" || this.spec.attribute === "") return;
    if (rescale) this.colorOf = this.makeColorOf(this.spec.attribute, [...values.values()]);
    for (const tileset of this.tilesets) tileset.makeStyleDirty();
    this.scene.requestRender();
  }
}
