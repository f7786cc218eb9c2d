/**
 * The side panel that lists the picked city object's attributes.
 *
 * It knows the DOM of `#panel` in index.html and nothing of Cesium. Closing (× button or Esc)
 * hides it and calls `onClose`, so the caller can clear the highlight.
 */
import { formatWithUnit, groupedRows, labelFor } from "./format.js";

const HEADER_KEYS = new Set(["name", "type"]);

export class Panel {
  /**
   * @param {HTMLElement} root the `#panel` element
   * @param {{onClose?: () => void}} [options]
   */
  constructor(root, { onClose = () => {}, onHistoryAttribute = () => {} } = {}) {
    this.root = root;
    this.onClose = onClose;
    this.live = root.querySelector('[data-testid="live"]');
    this.liveValues = root.querySelector('[data-testid="live-values"]');
    this.historySelect = root.querySelector('[data-testid="history-attribute"]');
    this.chart = root.querySelector('[data-testid="history-chart"]');
    this.historySelect.addEventListener("change", () =>
      onHistoryAttribute(this.historySelect.value),
    );
    this.kicker = root.querySelector('[data-testid="object-type"]');
    this.title = root.querySelector('[data-testid="object-name"]');
    this.objectId = root.querySelector('[data-testid="object-id"]');
    this.note = root.querySelector('[data-testid="panel-note"]');
    this.props = root.querySelector('[data-testid="object-properties"]');
    this.body = root.querySelector(".panel__body");
    root.querySelector('[data-testid="panel-close"]').addEventListener("click", () => this.close());
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.isOpen) {
        event.preventDefault();
        this.close();
      }
    });
  }

  /** @returns {boolean} whether the panel is showing */
  get isOpen() {
    return !this.root.hidden;
  }

  /**
   * Tell whether the panel is open on object `id`.
   *
   * @param {string} id
   * @returns {boolean}
   */
  shows(id) {
    return this.isOpen && this.root.dataset.objectId === id;
  }

  /**
   * Show an object: its id, type, name and every property, grouped, with units.
   *
   * @param {{id: string, properties: Record<string, unknown>, note?: string}} object
   */
  show({ id, properties, note = "" }) {
    const props = properties ?? {};
    this.root.dataset.objectId = id;
    this.objectId.textContent = id;
    this.kicker.textContent = props.type ? String(props.type) : "";
    this.title.textContent = props.name ? String(props.name) : id;
    this.note.textContent = note;
    this.note.hidden = !note;
    this.props.replaceChildren(
      ...groupedRows(props, HEADER_KEYS).map(({ title, rows }) => {
        const section = document.createElement("section");
        section.dataset.group = title;
        const heading = document.createElement("h3");
        heading.className = "panel__section";
        heading.textContent = title;
        const list = document.createElement("dl");
        list.className = "panel__props";
        for (const [key, label, text] of rows) {
          const dt = document.createElement("dt");
          dt.textContent = label;
          const dd = document.createElement("dd");
          dd.dataset.attribute = key;
          dd.textContent = text;
          list.append(dt, dd);
        }
        section.append(heading, list);
        return section;
      }),
    );
    this.body.scrollTop = 0;
    if (!this.isOpen) {
      this.root.hidden = false;
      this.root.focus({ preventScroll: true });
    }
  }

  /**
   * Show the object's live values (attribute → value, unit, observedAt) and the names offered
   * for the history chart; hides the section when there are none.
   *
   * @param {Map<string, {value: unknown, observedAt?: string, unit: string}>} values
   * @param {string} chosen the attribute whose history is charted
   */
  showLive(values, chosen) {
    this.live.hidden = values.size === 0;
    const rows = [];
    for (const [name, v] of [...values.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
      const dt = document.createElement("dt");
      dt.textContent = labelFor(name);
      const dd = document.createElement("dd");
      dd.dataset.attribute = name;
      const text = formatWithUnit(v.value, v.unit);
      const when = v.observedAt ? new Date(v.observedAt) : null;
      dd.textContent = text;
      if (when) {
        const time = document.createElement("time");
        time.dateTime = v.observedAt;
        time.textContent = ` · ${when.toLocaleTimeString()}`;
        time.title = `observed at ${v.observedAt}`;
        dd.append(time);
      }
      rows.push(dt, dd);
    }
    this.liveValues.replaceChildren(...rows);
    const names = [...values.keys()].sort();
    if (this.historySelect.options.length !== names.length ||
        names.some((n, i) => this.historySelect.options[i].value !== n)) {
      this.historySelect.replaceChildren(
        ...names.map((n) => new Option(labelFor(n), n)),
      );
    }
    if (chosen && names.includes(chosen)) this.historySelect.value = chosen;
  }

  /** @param {Element} svg the history chart to show */
  setChart(svg) {
    this.chart.replaceChildren(svg);
  }

  /** Hide the panel and tell the owner (clears the highlight). Does nothing if closed. */
  close() {
    if (!this.isOpen) return;
    this.root.hidden = true;
    delete this.root.dataset.objectId;
    this.onClose();
  }
}
