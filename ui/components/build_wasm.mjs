// Compile conv_simd.wat and write it into decoder.js as the base64 constant CONV_WASM.
// Run: (cd /tmp && npm install wabt@1.0.39) && NODE_PATH=/tmp/node_modules node ui/components/build_wasm.mjs
// wabt is a build tool here, never shipped: the app carries only the compiled bytes (a few hundred).
import fs from "fs";
import path from "path";
import { createRequire } from "module";

const here = path.dirname(new URL(import.meta.url).pathname);
const require = createRequire(process.env.NODE_PATH ? path.join(process.env.NODE_PATH, "x.js") : import.meta.url);
const wabt = await require("wabt")();
const source = fs.readFileSync(path.join(here, "conv_simd.wat"), "utf8");
const module = wabt.parseWat("conv_simd.wat", source, { simd: true });
module.validate();
const { buffer } = module.toBinary({});
const b64 = Buffer.from(buffer).toString("base64");
const file = path.join(here, "decoder.js");
const js = fs.readFileSync(file, "utf8").replace(/const CONV_WASM = "[^"]*";/, `const CONV_WASM = "${b64}";`);
fs.writeFileSync(file, js);
console.log(`conv_simd.wasm: ${buffer.length} bytes written into decoder.js`);
