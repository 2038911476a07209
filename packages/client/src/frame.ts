// `@vigil/client/frame`: the frame bridge, both sides (the host page and the embedded frame).
export {
  type AcceptFrameActivityOptions,
  acceptFrameActivity,
  type FrameActivityMessage,
  type ReportActivityToHostOptions,
  reportActivityToHost,
} from './frame-bridge.js';
