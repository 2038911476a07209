export { type DemoOptions, type RunningDemo, startDemo } from './demo.js';
