// Read b3dm tiles with CesiumGS 3d-tiles-tools (npm, pinned in package.json): header, feature
// table, batch table properties (JSON and binary, through its batch-table property model), and
// the embedded GLB, written out so the Khronos validator can check it.
// Usage: node read_b3dm.mjs IN.b3dm OUT.glb [IN.b3dm OUT.glb ...]
// Prints one JSON line per tile: {path, byteLength, featureTable, properties, glb, glbByteLength}
// or {path, failure}.
import { readFile, writeFile } from "node:fs/promises";
import { BatchTablePropertyTableModels, TileFormats } from "3d-tiles-tools";

let failed = false;
const args = process.argv.slice(2);
for (let i = 0; i + 1 < args.length; i += 2) {
  const [path, out] = [args[i], args[i + 1]];
  try {
    const buffer = await readFile(path);
    const tile = TileFormats.readTileData(buffer);
    const count = tile.featureTable.json.BATCH_LENGTH;
    const model = BatchTablePropertyTableModels.create(
      tile.batchTable.json,
      tile.batchTable.binary,
      {},
      count,
    );
    const properties = {};
    for (const name of model.getPropertyNames()) {
      const property = model.getPropertyModel(name);
      properties[name] = Array.from({ length: count }, (_, k) => {
        const value = property.getPropertyValue(k);
        return typeof value === "bigint" ? Number(value) : value;
      });
    }
    const glb = TileFormats.extractGlbPayload(tile);
    await writeFile(out, glb);
    console.log(
      JSON.stringify({
        path,
        byteLength: buffer.length,
        featureTable: tile.featureTable.json,
        properties,
        glb: out,
        glbByteLength: glb.length,
      }),
    );
  } catch (error) {
    failed = true;
    console.log(JSON.stringify({ path, failure: String(error) }));
  }
}
process.exit(failed ? 2 : 0);
