// Node, CommonJS: every subpath with a `require` condition loads through require(); every error class names itself.
const { readFileSync } = require('node:fs');

(async () => {
  const { apiValidationError, describeErrors } = await import('./error-checks.mjs');
  const pkg = JSON.parse(readFileSync(require.resolve('@platform-agent/store/package.json'), 'utf8'));
  const subpaths = {};
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (typeof target !== 'object' || !('require' in target)) continue;
    try {
      subpaths[subpath] = { exports: Object.keys(require(`@platform-agent/store${subpath.slice(1)}`)).sort() };
    } catch (e) {
      subpaths[subpath] = { error: String(e) };
    }
  }
  const store = require('@platform-agent/store');
  const error = await apiValidationError(store);
  console.log(String(error));
  console.log(JSON.stringify({ subpaths, errors: describeErrors(store), api: { name: error && error.name, instanceOf: error instanceof store.ValidationError } }));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
