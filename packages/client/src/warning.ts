// `@vigil/client/warning`: the `<vigil-warning>` element and the words it uses for an ended session.
export { defineVigilWarning, type VigilWarningElement } from './warning-element.js';
export { endedMessage } from './warning-text.js';
