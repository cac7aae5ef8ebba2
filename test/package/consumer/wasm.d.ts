// What a bundler's asset handling declares for a .wasm import (Vite's client types do the same).
declare module '*.wasm' {
  const url: string;
  export default url;
}
