/**
 * Sun and shadows for shadow studies: a date and a time of day set the scene clock, the sun
 * lights the city from where it stands at that moment and casts shadows; switched off, the
 * camera light (scene.js) comes back.
 *
 * The date and time are read in a chosen UTC offset (the browser's at start: a planner usually
 * sits in the city's zone; summer time is an offset like any other) and kept in the URL as UTC.
 */
import Cesium from "./cesium.js";

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
 * @param {number} hours
 * @returns {string} e.g. `UTC+2`, `UTC−5`
 */
export function zoneText(hours) {
  return `UTC${hours < 0 ? "−" : "+"}${Math.abs(hours)}`;
}

/**
 * Wire the sun controls: the shadows switch, the date, the time-of-day slider and its zone.
 *
 * @param {Sun} sun
 * @param {{toggle: HTMLInputElement, date: HTMLInputElement, time: HTMLInputElement,
 *   timeText: HTMLElement, zone: HTMLSelectElement}} controls
 * @param {Date | null} initial shadows on at this time (from the URL), or off
 * @param {() => void} onChange the shareable state changed
 */
export function bindSunControls(sun, controls, initial, onChange) {
  const { toggle, date, time, timeText, zone } = controls;
  const browserOffset = Math.round(-new Date().getTimezoneOffset() / 60);
  for (let h = -12; h <= 14; h++) zone.append(new Option(zoneText(h), String(h)));
  zone.value = String(browserOffset);
  const offset = () => Number(zone.value);
  const today = new Date().toISOString().slice(0, 10);
  const showLocal = (when) => {
    const local = toLocal(when, offset());
    date.value = local.date;
    time.value = String(local.minutes);
  };
  showLocal(initial ?? fromLocal(today, 12 * 60, offset()));
  const apply = () => {
    timeText.textContent = clockText(Number(time.value));
    time.setAttribute("aria-valuetext", `${timeText.textContent} ${zoneText(offset())}`);
    const when = date.value ? fromLocal(date.value, Number(time.value), offset()) : null;
    sun.set(toggle.checked && when ? when : null);
    onChange();
  };
  toggle.checked = initial !== null;
  toggle.addEventListener("change", apply);
  date.addEventListener("change", apply);
  time.addEventListener("input", apply);
  // A new zone shows the same instant in other local figures.
  let shownOffset = offset();
  zone.addEventListener("change", () => {
    const when = fromLocal(date.value, Number(time.value), shownOffset);
    shownOffset = offset();
    showLocal(when);
    apply();
  });
  apply();
}
