import { bucketAdd } from './bucket-add.js';
import { bucketApply } from './bucket-apply.js';
import { bucketLease } from './bucket-lease.js';
import { bucketPopEnded } from './bucket-pop-ended.js';
import { sessionCreate } from './session-create.js';
import { sessionEnd } from './session-end.js';
import { sessionEndIfLive } from './session-end-if-live.js';
import { sessionExpire } from './session-expire.js';
import { sessionGet } from './session-get.js';
import { sessionPurge } from './session-purge.js';
import { sessionTouch } from './session-touch.js';
import { sessionWarn } from './session-warn.js';
import { subjectAdd } from './subject-add.js';
import { subjectForget } from './subject-forget.js';

/**
 * Every script, each defined once per client with `defineCommand` (sent by SHA, re-sent on
 * NOSCRIPT). Each touches the keys of one hash tag only: a session (`session…`), an index bucket
 * (`bucket…`) or a subject (`subject…`), so each runs on one slot of a Redis Cluster.
 */
export const SCRIPTS = {
  sessionCreate,
  sessionGet,
  sessionTouch,
  sessionEnd,
  sessionEndIfLive,
  sessionExpire,
  sessionWarn,
  sessionPurge,
  bucketAdd,
  bucketLease,
  bucketApply,
  bucketPopEnded,
  subjectAdd,
  subjectForget,
} as const;

export type ScriptName = keyof typeof SCRIPTS;
