/**
 * Turn city-object attributes into readable text. Pure functions, no DOM, no Cesium.
 */

const LABELS = {
  id: "gml:id",
  lod: "LoD",
  parent_id: "Parent gml:id",
  co2: "CO₂",
  streetAddress: "Street",
  addressLocality: "Locality",
  addressCountry: "Country",
};

/** Units of the attributes whose unit is fixed by CityGML or by twin's catalog. */
export const UNITS = {
  measuredHeight: "m",
  height: "m",
  storeyHeightsAboveGround: "m",
  storeyHeightsBelowGround: "m",
  footprintArea: "m²",
  roofArea: "m²",
  wallArea: "m²",
  groundArea: "m²",
  volume: "m³",
};

/**
 * The panel's attribute groups, in display order: each names the keys it gathers (in their
 * display order). Every key not named lands in the last group, "Attributes".
 */
export const GROUPS = [
  {
    title: "Building",
    keys: ["measuredHeight", "height", "storeysAboveGround", "storeysBelowGround",
      "storeyHeightsAboveGround", "storeyHeightsBelowGround", "yearOfConstruction",
      "yearOfDemolition", "roofType", "footprintArea", "groundArea", "roofArea", "wallArea",
      "volume"],
  },
  {
    title: "Address",
    keys: ["streetAddress", "postalCode", "addressLocality", "addressCountry", "address"],
  },
  {
    title: "Identity",
    keys: ["class", "function", "usage", "lod", "parent_id", "creationDate", "terminationDate",
      "relativeToTerrain", "relativeToWater", "description"],
  },
];

/**
 * Make a label out of an attribute name: `yearOfConstruction` → `Year of construction`.
 *
 * @param {string} key attribute name (camelCase, snake_case or plain)
 * @returns {string}
 */
export function labelFor(key) {
  if (LABELS[key]) return LABELS[key];
  const words = key
    .replace(/[_-]+/g, " ")
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .trim()
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

const STREET = ["street", "streetName", "thoroughfareName", "thoroughfare"];
const NUMBER = ["houseNumber", "number", "thoroughfareNumber"];
const POSTCODE = ["postalCode", "postCode", "zip", "postalCodeNumber"];
const CITY = ["city", "locality", "localityName", "town"];

/** Address lines, each a list of alternative key names joined by spaces. */
const ADDRESS_LINES = [
  [STREET, NUMBER],
  [POSTCODE, CITY],
  [["dependentLocality", "district"]],
  [["region", "administrativeArea", "administrativeAreaName"]],
  [["country", "countryName"]],
];

/**
 * Format an address object as lines: street and number, postcode and city, …, country.
 *
 * Keys it does not know are appended as `key: value` lines so nothing is hidden.
 *
 * @param {Record<string, unknown> | string | null} address
 * @returns {string} newline-separated lines ("" when empty)
 */
export function formatAddress(address) {
  if (address === null || address === undefined) return "";
  if (typeof address !== "object") return String(address);
  const used = new Set();
  const pick = (names) => {
    for (const name of names) {
      const value = address[name];
      if (value !== undefined && value !== null && value !== "") {
        used.add(name);
        return String(value);
      }
    }
    return "";
  };
  const lines = [];
  for (const groups of ADDRESS_LINES) {
    const line = groups.map(pick).filter(Boolean).join(" ");
    if (line) lines.push(line);
  }
  for (const [key, value] of Object.entries(address)) {
    if (used.has(key) || value === null || value === undefined || value === "") continue;
    lines.push(`${labelFor(key)}: ${formatValue(value)}`);
  }
  return lines.join("\n");
}

/**
 * Format one attribute value for display.
 *
 * @param {unknown} value
 * @param {string} [key] attribute name, used to add a unit where one is known
 * @returns {string}
 */
export function formatValue(value, key = "") {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "number") {
    const text = Number.isInteger(value)
      ? String(value)
      : value.toLocaleString("en", { maximumFractionDigits: 3 });
    return UNITS[key] ? `${text} ${UNITS[key]}` : text;
  }
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (Array.isArray(value)) return value.map((v) => formatValue(v)).join(", ");
  if (typeof value === "object") {
    return Object.entries(value)
      .map(([k, v]) => `${labelFor(k)}: ${formatValue(v, k)}`)
      .join("\n");
  }
  return String(value);
}

/**
 * Format a value followed by a unit given apart (a live value's `unitCode`, a legend's unit).
 *
 * @param {unknown} value
 * @param {string} unit display unit ("" for none)
 * @returns {string} e.g. `1948`, `412.5 ppm`
 */
export function formatWithUnit(value, unit) {
  return `${formatValue(value)}${unit ? ` ${unit}` : ""}`;
}

/**
 * Group an object's properties for the panel: building facts, address, identity, the rest.
 *
 * Values carry their unit where {@link UNITS} knows it; `address` is formatted as postal lines
 * and left out when the flat address properties (`streetAddress` …) say the same; `skip` names
 * keys shown elsewhere. Empty groups are left out.
 *
 * @param {Record<string, unknown>} properties
 * @param {Set<string>} [skip]
 * @returns {{title: string, rows: [string, string, string][]}[]} rows are `[key, label, text]`
 */
export function groupedRows(properties, skip = new Set()) {
  const props = properties ?? {};
  const flatAddress = ["streetAddress", "postalCode", "addressLocality"].some(
    (k) => props[k] !== undefined && props[k] !== null && props[k] !== "",
  );
  const row = (key) => {
    const text = key === "address" ? formatAddress(props[key]) || "—" : formatValue(props[key], key);
    return [key, labelFor(key), text];
  };
  const placed = new Set(skip);
  if (flatAddress) placed.add("address");
  const groups = [];
  for (const { title, keys } of GROUPS) {
    const present = keys.filter((k) => !placed.has(k) && k in props);
    present.forEach((k) => placed.add(k));
    if (present.length) groups.push({ title, rows: present.map(row) });
  }
  const rest = Object.keys(props).filter((k) => !placed.has(k));
  if (rest.length) groups.push({ title: "Attributes", rows: rest.map(row) });
  return groups;
}
