// Node, ESM: every subpath the package exports resolves and loads; every error class names itself.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { apiValidationError, describeErrors } from './error-checks.mjs';

const pkg = JSON.parse(readFileSync(fileURLToPath(import.meta.resolve('@platform-agent/store/package.json')), 'utf8'));
const subpaths = {};
for (const subpath of Object.keys(pkg.exports)) {
  const specifier = `@platform-agent/store${subpath.slice(1)}`;
  try {
    if (subpath.endsWith('.wasm')) {
      const file = fileURLToPath(import.meta.resolve(specifier));
      subpaths[subpath] = { file: existsSync(file), wasm: WebAssembly.validate(readFileSync(file)) };
    } else if (subpath.endsWith('.json')) {
      subpaths[subpath] = { name: (await import(specifier, { with: { type: 'json' } })).default.name };
    } else {
      subpaths[subpath] = { exports: Object.keys(await import(specifier)).sort() };
    }
  } catch (e) {
    subpaths[subpath] = { error: String(e) };
  }
}
const store = await import('@platform-agent/store');
const error = await apiValidationError(store);
console.log(String(error));
console.log(JSON.stringify({ subpaths, errors: describeErrors(store), api: { name: error?.name, instanceOf: error instanceof store.ValidationError } }));
