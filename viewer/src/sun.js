/**
 * Sun and shadows for shadow studies: a date and a time of day set the scene clock, the sun
 * lights the city from where it stands at that moment and casts shadows; switched off, the
 * camera light (scene.js) comes back.
 *
 * Times are shown in the city's standard time, approximated from its longitude (UTC + lon/15,
 * rounded: the nautical time zone; no daylight saving), and kept in the URL as UTC.
 */
import Cesium from "./cesium.js";

/**
 * The nautical time zone of a longitude, in hours east of UTC.
 *
 * @param {number} lonDegrees
 * @returns {number} e.g. 1 for Karlsruhe (8.4° E), -5 for New York (74° W)
 */
export function zoneOffsetHours(lonDegrees) {
  return Math.round(lonDegrees / 15) || 0;
}

/**
 * Split a UTC instant into the zone's local date (`YYYY-MM-DD`) and minutes since midnight.
 *
 * @param {Date} when
 * @param {number} offsetHours
 * @returns {{date: string, minutes: number}}
 */
export function toLocal(when, offsetHours) {
  const local = new Date(when.getTime() + offsetHours * 3_600_000);
  return {
    date: local.toISOString().slice(0, 10),
    minutes: local.getUTCHours() * 60 + local.getUTCMinutes(),
  };
}

/**
 * The UTC instant of a local date and time of day in the zone.
 *
 * @param {string} date `YYYY-MM-DD`
 * @param {number} minutes since local midnight
 * @param {number} offsetHours
 * @returns {Date}
 */
export function fromLocal(date, minutes, offsetHours) {
  const midnight = Date.parse(`${date}T00:00:00Z`);
  return new Date(midnight + (minutes - offsetHours * 60) * 60_000);
}

/**
 * Format minutes since midnight as `HH:MM`.
 *
 * @param {number} minutes
 * @returns {string}
 */
export function clockText(minutes) {
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}`;
}

export class Sun {
  /** @param {Cesium.Viewer} viewer */
  constructor(viewer) {
    this.viewer = viewer;
    this.cameraLight = viewer.scene.light;
    this.sunLight = new Cesium.SunLight();
    /** @type {Date | null} the sun's time while shadows are on */
    this.time = null;
  }

  /**
   * Switch shadows on at `when` (the sun where it stands then), or off with null.
   *
   * @param {Date | null} when
   */
  set(when) {
    const { viewer } = this;
    const scene = viewer.scene;
    this.time = when;
    if (when) {
      viewer.clock.shouldAnimate = false;
      viewer.clock.currentTime = Cesium.JulianDate.fromDate(when);
      scene.light = this.sunLight;
      viewer.shadows = true;
    } else {
      scene.light = this.cameraLight;
      viewer.shadows = false;
    }
    scene.requestRender();
  }
}

/**
 * Wire the sun controls: the shadows switch, the date and the time-of-day slider.
 *
 * @param {Sun} sun
 * @param {{toggle: HTMLInputElement, date: HTMLInputElement, time: HTMLInputElement,
 *   timeText: HTMLElement}} controls
 * @param {number} offsetHours the city's zone (see {@link zoneOffsetHours})
 * @param {Date | null} initial shadows on at this time (from the URL), or off
 * @param {() => void} onChange the shareable state changed
 */
export function bindSunControls(sun, controls, offsetHours, initial, onChange) {
  const { toggle, date, time, timeText } = controls;
  const zone = `UTC${offsetHours < 0 ? "−" : "+"}${Math.abs(offsetHours)}`;
  const today = new Date().toISOString().slice(0, 10);
  const start = toLocal(initial ?? fromLocal(today, 12 * 60, offsetHours), offsetHours);
  date.value = start.date;
  time.value = String(start.minutes);
  const show = () => {
    timeText.textContent = `${clockText(Number(time.value))} ${zone}`;
    time.setAttribute("aria-valuetext", timeText.textContent);
  };
  const apply = () => {
    show();
    const when = date.value ? fromLocal(date.value, Number(time.value), offsetHours) : null;
    sun.set(toggle.checked && when ? when : null);
    date.disabled = !toggle.checked;
    time.disabled = !toggle.checked;
    onChange();
  };
  toggle.checked = initial !== null;
  toggle.addEventListener("change", apply);
  date.addEventListener("change", apply);
  time.addEventListener("input", apply);
  apply();
}
