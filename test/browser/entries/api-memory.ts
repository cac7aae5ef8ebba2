// The API suite on sql.js in Chromium, on the memory adapter (openStore's default). In a browser the
// WASM binary has no default location: it is fetched from the harness's server.
import { openStore } from '../../../src/index.js';
import { defineApiSuite } from '../../api/suite.js';

defineApiSuite('sql.js in Chromium (memory adapter)', (clock) => openStore({ clock, wasm: '/sql-wasm.wasm' }));
