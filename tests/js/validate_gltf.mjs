// Validate GLB files with the Khronos glTF-Validator (npm gltf-validator, pinned in package.json).
// Usage: node validate_gltf.mjs FILE.glb [FILE.glb ...]
// Prints one JSON line per file: {path, numErrors, numWarnings, numInfos, numHints, messages}.
// Exits 0 when every file was validated (whatever it found), 2 when a file could not be read.
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import validator from "gltf-validator";

let failed = false;
for (const path of process.argv.slice(2)) {
  try {
    const bytes = new Uint8Array(await readFile(path));
    const report = await validator.validateBytes(bytes, {
      uri: basename(path),
      format: "glb",
      maxIssues: 1000,
      writeTimestamp: false,
    });
    const issues = report.issues;
    console.log(
      JSON.stringify({
        path,
        numErrors: issues.numErrors,
        numWarnings: issues.numWarnings,
        numInfos: issues.numInfos,
        numHints: issues.numHints,
        messages: issues.messages,
      }),
    );
  } catch (error) {
    failed = true;
    console.log(JSON.stringify({ path, numErrors: 1, failure: String(error), messages: [] }));
  }
}
process.exit(failed ? 2 : 0);
