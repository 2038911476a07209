// `@vigil/client/fetch`: counting the app's own `fetch` calls as activity, for `createVigil({ countFetchAsActivity })`.
export { countFetchAsActivity, type FetchActivityCounter } from './fetch-activity.js';
