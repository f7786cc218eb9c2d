/**
 * Measure distance and height between two points on the city.
 *
 * While the tool is on, a click (or Enter: the centre of the view) picks a point on the
 * rendered surface (`scene.pickPosition`, the depth buffer); two points give the straight
 * distance, the horizontal distance and the height difference, drawn as a right triangle with
 * labels and listed in the readout. A third point starts a new measurement; Esc or the button
 * ends the tool.
 */
import Cesium from "./cesium.js";

const LINE = Cesium.Color.fromCssColorString("#ffd23f");
const LEG = Cesium.Color.WHITE.withAlpha(0.9);

/**
 * @typedef {object} Measurement
 * @property {number} straight   distance between the points, m
 * @property {number} horizontal distance in the first point's horizon plane (east, north), m
 * @property {number} height     ellipsoidal height of the second minus the first, m
 */

/**
 * Measure from `a` to `b` (ECEF, metres).
 *
 * @param {Cesium.Cartesian3} a
 * @param {Cesium.Cartesian3} b
 * @returns {Measurement}
 */
export function measureBetween(a, b) {
  const toLocal = Cesium.Matrix4.inverseTransformation(
    Cesium.Transforms.eastNorthUpToFixedFrame(a),
    new Cesium.Matrix4(),
  );
  const enu = Cesium.Matrix4.multiplyByPoint(toLocal, b, new Cesium.Cartesian3());
  return {
    straight: Cesium.Cartesian3.distance(a, b),
    horizontal: Math.hypot(enu.x, enu.y),
    height: Cesium.Cartographic.fromCartesian(b).height - Cesium.Cartographic.fromCartesian(a).height,
  };
}

/**
 * @param {number} metres
 * @param {boolean} [signed] write a + before positive values
 * @returns {string} e.g. `12.34 m`
 */
export function metresText(metres, signed = false) {
  const text = metres.toLocaleString("en", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return `${signed && metres > 0 ? "+" : ""}${text} m`;
}

export class MeasureTool {
  /**
   * @param {Cesium.Viewer} viewer
   * @param {{button: HTMLButtonElement, readout: HTMLElement}} elements
   */
  constructor(viewer, { button, readout }) {
    this.viewer = viewer;
    this.button = button;
    this.readout = readout;
    this.active = false;
    /** @type {Cesium.Cartesian3[]} the picked points (ECEF), at most two */
    this.points = [];
    /** @type {Measurement | null} */
    this.result = null;
    this.entities = new Cesium.CustomDataSource("measure");
    viewer.dataSources.add(this.entities);
    button.addEventListener("click", () => (this.active ? this.stop() : this.start()));
    const handler = new Cesium.ScreenSpaceEventHandler(viewer.scene.canvas);
    handler.setInputAction((click) => {
      if (this.active) this.add(click.position);
    }, Cesium.ScreenSpaceEventType.LEFT_CLICK);
    document.addEventListener("keydown", (event) => {
      if (!this.active) return;
      if (event.key === "Escape") {
        this.stop();
      } else if (event.key === "Enter" && !isTextEntry(event.target)) {
        event.preventDefault();
        const canvas = viewer.scene.canvas;
        this.add(new Cesium.Cartesian2(canvas.clientWidth / 2, canvas.clientHeight / 2));
      }
    });
  }

  /** Switch the tool on: clicks now pick points instead of objects. */
  start() {
    this.clear();
    this.active = true;
    this.button.setAttribute("aria-pressed", "true");
    document.body.classList.add("measuring");
    // Keyboard users measure from the canvas: Enter picks the point under the crosshair.
    const canvas = this.viewer.scene.canvas;
    canvas.tabIndex = 0;
    canvas.setAttribute("aria-label", "3D city: Enter picks the point under the crosshair");
    this.say("Click the first point (Enter: centre of view) · Esc ends");
  }

  /** Switch the tool off and remove what it drew. */
  stop() {
    this.active = false;
    this.button.setAttribute("aria-pressed", "false");
    document.body.classList.remove("measuring");
    if (document.activeElement === this.viewer.scene.canvas) this.button.focus();
    this.clear();
    this.readout.hidden = true;
  }

  /**
   * Pick the point under `position` (canvas pixels) and measure when it is the second.
   *
   * @param {Cesium.Cartesian2} position
   */
  add(position) {
    const scene = this.viewer.scene;
    const picked = scene.pickPositionSupported ? scene.pickPosition(position) : undefined;
    if (!picked) {
      this.say("No surface there: click on the city");
      return;
    }
    if (this.points.length === 2) this.clear();
    this.points.push(picked);
    this.entities.entities.add({
      position: picked,
      point: {
        pixelSize: 9,
        color: LINE,
        outlineColor: Cesium.Color.BLACK,
        outlineWidth: 1,
        disableDepthTestDistance: Number.POSITIVE_INFINITY,
      },
    });
    if (this.points.length === 1) {
      this.say("Click the second point · Esc ends");
    } else {
      this.result = measureBetween(this.points[0], this.points[1]);
      this.draw(this.points[0], this.points[1], this.result);
      this.show(this.result);
    }
    scene.requestRender();
  }

  /**
   * Draw the right triangle: the straight line, the horizontal leg at the lower point's height
   * and the vertical leg, each labelled.
   *
   * @param {Cesium.Cartesian3} a
   * @param {Cesium.Cartesian3} b
   * @param {Measurement} m
   */
  draw(a, b, m) {
    const [low, high] = m.height >= 0 ? [a, b] : [b, a];
    const h = Cesium.Cartographic.fromCartesian(high);
    const corner = Cesium.Cartesian3.fromRadians(
      h.longitude,
      h.latitude,
      Cesium.Cartographic.fromCartesian(low).height,
    );
    const line = (positions, color, width) => ({
      polyline: {
        positions,
        width,
        material: color,
        depthFailMaterial: color.withAlpha(0.5),
        arcType: Cesium.ArcType.NONE,
      },
    });
    const label = (at, text) => ({
      position: at,
      label: {
        text,
        font: "600 14px system-ui, sans-serif",
        fillColor: Cesium.Color.WHITE,
        showBackground: true,
        backgroundColor: Cesium.Color.fromCssColorString("#1b2a33").withAlpha(0.85),
        pixelOffset: new Cesium.Cartesian2(0, -14),
        disableDepthTestDistance: Number.POSITIVE_INFINITY,
      },
    });
    const mid = (p, q) => Cesium.Cartesian3.midpoint(p, q, new Cesium.Cartesian3());
    const add = (e) => this.entities.entities.add(e);
    add(line([a, b], LINE, 3));
    add(label(mid(a, b), metresText(m.straight)));
    if (m.horizontal > 0.01 && Math.abs(m.height) > 0.01) {
      add(line([low, corner, high], LEG, 1.5));
      add(label(mid(low, corner), `↔ ${metresText(m.horizontal)}`));
      add(label(mid(corner, high), `↕ ${metresText(m.height, true)}`));
    }
  }

  /** @param {Measurement} m */
  show(m) {
    const rows = [
      ["Distance", metresText(m.straight), "straight"],
      ["Horizontal", metresText(m.horizontal), "horizontal"],
      ["Height difference", metresText(m.height, true), "height"],
    ];
    const list = document.createElement("dl");
    for (const [label, text, key] of rows) {
      const dt = document.createElement("dt");
      dt.textContent = label;
      const dd = document.createElement("dd");
      dd.dataset.measure = key;
      dd.textContent = text;
      list.append(dt, dd);
    }
    const hint = document.createElement("p");
    hint.textContent = "Click again for a new measurement · Esc ends";
    this.readout.replaceChildren(list, hint);
    this.readout.hidden = false;
  }

  /** @param {string} text an instruction in the readout */
  say(text) {
    const p = document.createElement("p");
    p.textContent = text;
    this.readout.replaceChildren(p);
    this.readout.hidden = false;
  }

  /** Forget the points and remove the drawing. */
  clear() {
    this.points = [];
    this.result = null;
    this.entities.entities.removeAll();
    this.viewer.scene.requestRender();
  }
}

/**
 * @param {EventTarget | null} target
 * @returns {boolean} whether key presses there type text (or press a control)
 */
function isTextEntry(target) {
  return (
    target instanceof HTMLElement &&
    (target.isContentEditable || ["INPUT", "SELECT", "TEXTAREA", "BUTTON"].includes(target.tagName))
  );
}
