// The embedded "third-party tool": reports its user's activity to the host given in the fragment.
import { reportActivityToHost } from '@vigil/client/frame';

const hostOrigin = new URLSearchParams(location.hash.slice(1)).get('host') ?? '';
reportActivityToHost({ hostOrigin });
