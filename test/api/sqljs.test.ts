import { openStore } from '../../src/index.js';
import { defineApiSuite } from './suite.js';

defineApiSuite('sql.js (memory adapter)', (clock) => openStore({ clock }));
