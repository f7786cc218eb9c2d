// Decode compressed GLB files with glTF Transform (npm @gltf-transform, meshoptimizer's and Draco's
// own decoders) and write them back uncompressed, so the Khronos validator can check the decoded
// accessors (bounds, unit normals, index ranges), which it cannot read through the extensions.
// Usage: node decode_gltf.mjs IN.glb OUT.glb [IN.glb OUT.glb ...]
// Prints one JSON line per file: {path, out, vertices, extensionsUsed} or {path, failure}.
import { NodeIO } from "@gltf-transform/core";
import { ALL_EXTENSIONS } from "@gltf-transform/extensions";
import draco3d from "draco3dgltf";
import { MeshoptDecoder } from "meshoptimizer";

const COMPRESSION = ["EXT_meshopt_compression", "KHR_draco_mesh_compression"];

await MeshoptDecoder.ready;
const io = new NodeIO()
  .registerExtensions(ALL_EXTENSIONS)
  .registerDependencies({
    "draco3d.decoder": await draco3d.createDecoderModule(),
    "meshopt.decoder": MeshoptDecoder,
  });

let failed = false;
const args = process.argv.slice(2);
for (let i = 0; i + 1 < args.length; i += 2) {
  const [path, out] = [args[i], args[i + 1]];
  try {
    const document = await io.read(path);
    const used = document.getRoot().listExtensionsUsed().map((e) => e.extensionName);
    for (const extension of document.getRoot().listExtensionsUsed()) {
      if (COMPRESSION.includes(extension.extensionName)) extension.dispose();
    }
    let vertices = 0;
    for (const mesh of document.getRoot().listMeshes()) {
      for (const primitive of mesh.listPrimitives()) vertices += primitive.getAttribute("POSITION").getCount();
    }
    await io.write(out, document);
    console.log(JSON.stringify({ path, out, vertices, extensionsUsed: used }));
  } catch (error) {
    failed = true;
    console.log(JSON.stringify({ path, failure: String(error) }));
  }
}
process.exit(failed ? 2 : 0);
