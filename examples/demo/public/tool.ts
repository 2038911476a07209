import { reportActivityToHost } from '@vigil/client/frame';

// The tool knows nothing of Vigil's API or the session: it only tells its host page, and only that
// page's origin, that its user is working. The host decides whether to believe it (allow-list).
const host = new URLSearchParams(location.search).get('host');
if (host !== null) reportActivityToHost({ hostOrigin: host });
