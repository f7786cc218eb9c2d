/**
 * Colour ramps, palettes, quantile breaks and legends for thematic styling. Pure functions.
 */

/** Sequential ramp (viridis-like, colour-blind safe), low → high. */
export const RAMP = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"];

/** Categorical palette (Tableau 10). */
export const PALETTE = [
  "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
  "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
];

/** Colour of features that have no value for the styled attribute. */
export const NO_VALUE = "#9aa3a8";

/** Colour of features that fail the filter expression in "dim" mode. */
export const DIMMED = "#5a6166";

/**
 * Compute quantile class breaks of numeric values.
 *
 * >>> quantileBreaks([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 5) → [1, 3, 5, 7, 9, 10]
 *
 * @param {number[]} values
 * @param {number} classes number of classes
 * @returns {number[]} `classes + 1` ascending breaks (min … max), duplicates removed
 */
export function quantileBreaks(values, classes = RAMP.length) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return [];
  const breaks = [];
  for (let i = 0; i <= classes; i++) {
    const at = Math.min(sorted.length - 1, Math.floor((i / classes) * sorted.length));
    breaks.push(i === classes ? sorted[sorted.length - 1] : sorted[at]);
  }
  return [...new Set(breaks)];
}

/**
 * Pick the class colour of `value` given breaks from {@link quantileBreaks}.
 *
 * @param {number} value
 * @param {number[]} breaks
 * @returns {string} CSS colour
 */
export function rampColor(value, breaks) {
  if (!Number.isFinite(value) || breaks.length === 0) return NO_VALUE;
  const classes = Math.max(1, breaks.length - 1);
  let k = 0;
  while (k < classes - 1 && value >= breaks[k + 1]) k += 1;
  const at = classes === 1 ? RAMP.length - 1 : Math.round((k / (classes - 1)) * (RAMP.length - 1));
  return RAMP[at];
}

/**
 * Assign palette colours to categories, most frequent first.
 *
 * @param {unknown[]} values
 * @returns {Map<string, string>} category → CSS colour (beyond the palette: grey)
 */
export function categoryColors(values) {
  const counts = new Map();
  for (const v of values) {
    if (v === null || v === undefined || v === "") continue;
    counts.set(String(v), (counts.get(String(v)) ?? 0) + 1);
  }
  const ordered = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return new Map(ordered.map(([k], i) => [k, PALETTE[i] ?? NO_VALUE]));
}

/**
 * Decide whether values are numeric (every present value a finite number).
 *
 * @param {unknown[]} values
 * @returns {boolean}
 */
export function isNumeric(values) {
  const present = values.filter((v) => v !== null && v !== undefined && v !== "");
  return present.length > 0 && present.every((v) => typeof v === "number" && Number.isFinite(v));
}

/**
 * Legend rows for a numeric ramp: one swatch per class with its range.
 *
 * @param {number[]} breaks
 * @param {(n: number) => string} format number formatter (adds units)
 * @returns {{color: string, label: string}[]}
 */
export function rampLegend(breaks, format) {
  if (breaks.length === 1) return [{ color: rampColor(breaks[0], breaks), label: format(breaks[0]) }];
  const rows = [];
  for (let k = 0; k < breaks.length - 1; k++) {
    rows.push({
      color: rampColor(breaks[k], breaks),
      label: `${format(breaks[k])} – ${format(breaks[k + 1])}`,
    });
  }
  return rows;
}

/**
 * Colour few distinct numbers one step each along the ramp (instead of quantile classes).
 *
 * @param {number[]} distinct ascending distinct values (at most `RAMP.length`)
 * @returns {(value: number) => string}
 */
export function stepColors(distinct) {
  return (value) => {
    const k = distinct.indexOf(value);
    if (k < 0) return NO_VALUE;
    const at = distinct.length === 1 ? RAMP.length - 1 : Math.round((k / (distinct.length - 1)) * (RAMP.length - 1));
    return RAMP[at];
  };
}
