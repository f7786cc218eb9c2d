/**
 * Object-type filters: one toggle per family of city-object types (buildings, bridges,
 * vegetation, terrain …) present in the datasets, counted by the OGC aggregate endpoint.
 *
 * A family gathers the CityGML/CityJSON types a planner thinks of as one thing (a Building and
 * its BuildingParts, a Road and a Track). Hiding a family hides its features through the tiles'
 * `type` property (see `Thematic.hideTypes`).
 */

/** Families in display order: key, label and the types they gather (matched by prefix). */
const FAMILIES = [
  ["buildings", "Buildings", /^(Building|Room|Storey|IntBuildingInstallation|BuildingFurniture)/],
  ["bridges", "Bridges", /^(Bridge|IntBridge)/],
  ["tunnels", "Tunnels", /^(Tunnel|IntTunnel|HollowSpace)/],
  ["transport", "Roads & rails", /^(Road|Track|Railway|Square|Waterway|TransportationComplex|TrafficArea|AuxiliaryTrafficArea|Intersection|Section|Marking|Hole)/],
  ["water", "Water", /^Water/],
  ["vegetation", "Vegetation", /^(PlantCover|SolitaryVegetationObject)/],
  ["terrain", "Terrain", /^(ReliefFeature|TINRelief|RasterRelief|MassPointRelief|BreaklineRelief)/],
  ["landuse", "Land use", /^LandUse/],
  ["furniture", "Furniture", /^CityFurniture/],
  ["generic", "Generic objects", /^(GenericCityObject|GenericOccupiedSpace|GenericUnoccupiedSpace|GenericLogicalSpace|GenericThematicSurface)/],
];

/**
 * @typedef {object} TypeFamily
 * @property {string} key     stable name for the URL, e.g. `vegetation`
 * @property {string} label   what the toggle says
 * @property {string[]} types the object types it gathers that are present
 * @property {number} count   how many objects of those types the datasets hold
 */

/**
 * Name the family of an object type: `BuildingPart` → buildings; unknown types are their own.
 *
 * @param {string} type e.g. `PlantCover`
 * @returns {{key: string, label: string}}
 */
export function familyOf(type) {
  const found = FAMILIES.find(([, , pattern]) => pattern.test(type));
  return found ? { key: found[0], label: found[1] } : { key: type, label: type };
}

/**
 * Gather per-type counts into families, in display order (unknown types last, by name).
 *
 * @param {Map<string, number>} counts object type → count
 * @returns {TypeFamily[]}
 */
export function familiesOf(counts) {
  /** @type {Map<string, TypeFamily>} */
  const byKey = new Map();
  for (const [type, count] of counts) {
    const { key, label } = familyOf(type);
    const family = byKey.get(key) ?? { key, label, types: [], count: 0 };
    family.types.push(type);
    family.count += count;
    byKey.set(key, family);
  }
  const order = (key) => {
    const i = FAMILIES.findIndex(([k]) => k === key);
    return i === -1 ? FAMILIES.length : i;
  };
  return [...byKey.values()].sort((a, b) => order(a.key) - order(b.key) || a.key.localeCompare(b.key));
}

/**
 * Count the objects of each type in every dataset (`/aggregate?groupby=type&stats=count`).
 *
 * @param {string} collectionsUrl
 * @param {string[]} datasets collection ids
 * @returns {Promise<Map<string, number>>} object type → count over all datasets
 */
export async function countTypes(collectionsUrl, datasets) {
  const base = String(collectionsUrl).replace(/\/?$/, "/");
  const counts = new Map();
  for (const dataset of datasets) {
    const url = new URL(`${encodeURIComponent(dataset)}/aggregate`, base);
    url.searchParams.set("groupby", "type");
    url.searchParams.set("stats", "count");
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`object types of ${dataset}: HTTP ${response.status}`);
    for (const group of (await response.json()).groups ?? []) {
      const type = String(group.key);
      counts.set(type, (counts.get(type) ?? 0) + Number(group.count));
    }
  }
  return counts;
}

/**
 * Fill `list` with one checkbox per family; report the hidden families on every change.
 *
 * @param {HTMLElement} list the `<ul>` of toggles
 * @param {TypeFamily[]} families
 * @param {Set<string>} hidden family keys hidden at start (from the URL)
 * @param {(hiddenKeys: string[], hiddenTypes: string[]) => void} onChange
 */
export function bindTypeToggles(list, families, hidden, onChange) {
  const boxes = families.map((family) => {
    const li = document.createElement("li");
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = !hidden.has(family.key);
    box.dataset.testid = `type-toggle-${family.key}`;
    box.addEventListener("change", report);
    const count = document.createElement("span");
    count.className = "tools__count";
    count.textContent = family.count.toLocaleString("en");
    label.append(box, document.createTextNode(` ${family.label} `), count);
    li.append(label);
    return { family, box };
  });
  function report() {
    const off = boxes.filter((b) => !b.box.checked).map((b) => b.family);
    onChange(
      off.map((f) => f.key),
      off.flatMap((f) => f.types),
    );
  }
  list.replaceChildren(...boxes.map((b) => b.box.closest("li")));
  report();
}
