import { defineMemoryConformance } from './memory-conformance.js';

defineMemoryConformance('memory');
