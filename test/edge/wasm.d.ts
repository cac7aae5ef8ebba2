// Workers import a `.wasm` file as a compiled WebAssembly.Module (miniflare's CompiledWasm rule).
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
