import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = ['fs', 'path', 'os', 'crypto', 'child_process', 'url', 'util', 'stream', 'worker_threads', 'module', 'buffer', 'process'];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'scratch/', 'bench/results/', 'test-output/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // The core and the adapters it may load know no environment: no Node built-ins, no DOM globals.
    files: ['src/**/*.ts', 'adapters/memory.ts', 'adapters/kv.ts', 'engines/**/*.ts'],
    // The node:sqlite engine is Node's own, like the fs adapter (it loads node:sqlite at run time).
    ignores: ['engines/node-sqlite.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*', ...nodeBuiltins], message: 'src/ runs everywhere: Node-only code belongs in adapters/.' },
            { group: ['**/cli/*', '**/dashboard/*'], message: 'the core never imports the command or the dashboard.' },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        ...['window', 'document', 'indexedDB', 'localStorage', 'navigator', 'process', 'Buffer', 'require', '__dirname', 'setImmediate'].map(
          (name) => ({ name, message: 'src/ runs everywhere: environment-specific code belongs in adapters/.' }),
        ),
      ],
    },
  },
  {
    // The core stands on its own: adapters, engines, the command and the dashboard build on it, never
    // the other way (its in-memory default lives in src/memory-adapter.ts; adapters/memory re-exports it).
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*', ...nodeBuiltins], message: 'src/ runs everywhere: Node-only code belongs in adapters/.' },
            { group: ['**/adapters/*', '**/engines/*', '**/cli/*', '**/dashboard/*'], message: 'src/ is the core: it imports nothing from adapters/, engines/, cli/ or dashboard/.' },
          ],
        },
      ],
    },
  },
  {
    // The node:sqlite engine is Node code (it reaches node:sqlite and the fs adapter's lock rule).
    files: ['engines/node-sqlite.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/cli/*', '**/dashboard/*'], message: 'an engine never imports the command or the dashboard.' }] }],
    },
  },
  {
    // Browser code: no Node built-ins (a browser bundle must not pull them in).
    files: ['adapters/indexeddb.ts', 'browser/**/*.ts', 'dashboard/**/*.ts', 'examples/browser/**/*.js', 'test/browser/pages/**/*.ts', 'test/browser/entries/**/*.ts', 'bench/browser/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['node:*', ...nodeBuiltins], message: 'browser code: no Node built-ins.' }] }],
    },
  },
  {
    files: ['examples/worker/**/*.js', 'test/edge/**/*.js'],
    languageOptions: { globals: { Response: 'readonly', URL: 'readonly' } },
  },
  {
    files: ['examples/browser/**/*.js'],
    languageOptions: { globals: { document: 'readonly', crypto: 'readonly', addEventListener: 'readonly', globalThis: 'readonly', URL: 'readonly' } },
  },
  {
    // The packed package's consumer (test/package/): Node scripts and pages that run in Chromium.
    files: ['test/package/consumer/**/*.js', 'test/package/consumer/**/*.mjs', 'test/package/consumer/**/*.cjs'],
    languageOptions: { globals: { document: 'readonly', location: 'readonly', require: 'readonly', WebAssembly: 'readonly' } },
  },
  {
    // Its CommonJS script loads the package the way CommonJS users do.
    files: ['test/package/consumer/**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly', performance: 'readonly', Buffer: 'readonly', globalThis: 'readonly' } },
  },
);
