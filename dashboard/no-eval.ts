/**
 * zod compiles object parsers with `new Function` when it may, and decides so while schemas are
 * built at module load: its probe (`new Function('')`) is a CSP violation under this page's policy
 * (no 'unsafe-eval'). This module turns that off; app.ts imports it before anything that builds a
 * schema. Its interpreter parses the same.
 */
import { config } from 'zod';

/**
 * Whether zod runs without generated code. app.ts reads it: the package is `sideEffects: false`,
 * so a bare `import './no-eval.js'` would be dropped by the bundler.
 */
export const zodJitless: boolean = config({ jitless: true }).jitless === true;
