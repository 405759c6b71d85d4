// Runs the wasm32-wasip1 build of examples/wasm_rsa_verify.rs in Node's WASI (V8).
// Usage: node benches/wasm_rsa_verify.mjs target/wasm32-wasip1/release/examples/wasm_rsa_verify.wasm
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";
import { argv } from "node:process";

const wasi = new WASI({ version: "preview1", args: ["wasm_rsa_verify"], env: {} });
const module = await WebAssembly.compile(await readFile(argv[2]));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
wasi.start(instance);
