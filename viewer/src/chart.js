/**
 * A small history chart as inline SVG (no library): a line over time with min/max labels.
 */

const SVG = "http://www.w3.org/2000/svg";

/**
 * Render `points` into a new `<svg>` element.
 *
 * @param {{t: number, value: number}[]} points oldest first
 * @param {{width?: number, height?: number, unit?: string}} [options]
 * @returns {SVGSVGElement}
 */
export function historyChart(points, { width = 300, height = 80, unit = "" } = {}) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));
  svg.setAttribute("role", "img");
  svg.classList.add("chart");
  if (points.length === 0) {
    svg.setAttribute("aria-label", "no history yet");
    const text = document.createElementNS(SVG, "text");
    text.setAttribute("x", "4");
    text.setAttribute("y", String(height / 2));
    text.textContent = "No history yet";
    svg.append(text);
    return svg;
  }
  const pad = { left: 4, right: 4, top: 14, bottom: 14 };
  const t0 = points[0].t;
  const t1 = points[points.length - 1].t;
  const values = points.map((p) => p.value);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const x = (t) => pad.left + (t1 === t0 ? 0.5 : (t - t0) / (t1 - t0)) * (width - pad.left - pad.right);
  const y = (v) =>
    height - pad.bottom - (hi === lo ? 0.5 : (v - lo) / (hi - lo)) * (height - pad.top - pad.bottom);
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", points.map((p) => `${x(p.t).toFixed(1)},${y(p.value).toFixed(1)}`).join(" "));
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "currentColor");
  line.setAttribute("stroke-width", "1.5");
  svg.append(line);
  const fmt = (v) => `${v.toLocaleString("en", { maximumFractionDigits: 2 })}${unit ? ` ${unit}` : ""}`;
  const label = (text, ly) => {
    const el = document.createElementNS(SVG, "text");
    el.setAttribute("x", String(width - pad.right));
    el.setAttribute("y", String(ly));
    el.setAttribute("text-anchor", "end");
    el.textContent = text;
    svg.append(el);
  };
  label(`max ${fmt(hi)}`, 10);
  label(`min ${fmt(lo)}`, height - 2);
  svg.setAttribute(
    "aria-label",
    `${points.length} readings from ${new Date(t0).toLocaleTimeString()} to ` +
      `${new Date(t1).toLocaleTimeString()}, min ${fmt(lo)}, max ${fmt(hi)}`,
  );
  svg.dataset.points = String(points.length);
  return svg;
}
