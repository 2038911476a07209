// The browser SDK's figures (issue 3): its size, min+gzip of an esbuild bundle of its main export,
// beside react-idle-timer and @ng-idle/core bundled the same way (their frameworks — React, Angular,
// RxJS — left out, as an app already has them); and the heartbeats it sends per user-hour, from
// its own schedule (packages/client heartbeat.ts), against a fixed-interval keepalive.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { root, versionOf } from './processes.mjs';

const FRAMEWORKS = ['react', 'react-dom', 'react/jsx-runtime', '@angular/*', 'rxjs', 'rxjs/*', 'tslib'];

async function bundleSize(esbuild, specifier, contents = `export * from '${specifier}';`) {
  const result = await esbuild.build({
    stdin: { contents, resolveDir: root, loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    external: FRAMEWORKS,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].contents;
  return { minBytes: code.length, minGzipBytes: gzipSync(code, { level: 9 }).length };
}

/** Sizes of @vigil/client and, when installed, of react-idle-timer and @ng-idle/core. */
export async function clientSizes() {
  const esbuild = await import('esbuild');
  const libraries = [
    { name: '@vigil/client', version: versionOf('@vigil/client') ?? 'workspace' },
    { name: 'react-idle-timer', version: versionOf('react-idle-timer') },
    { name: '@ng-idle/core', version: versionOf('@ng-idle/core') },
  ];
  const sizes = [];
  for (const library of libraries) {
    if (library.version === null) {
      sizes.push({ ...library, missing: true });
      continue;
    }
    sizes.push({ ...library, ...(await bundleSize(esbuild, library.name)) });
  }
  // What an app that uses only the heartbeat client pays (the warning element, the frame bridge and
  // the other exports shaken off): `export *` above is the whole package, as for the others.
  const only = `export { createVigil } from '@vigil/client';`;
  sizes.splice(1, 0, {
    name: '@vigil/client, `createVigil` only',
    version: sizes[0].version,
    ...(await bundleSize(esbuild, '@vigil/client', only)),
  });
  return { esbuild: esbuild.version, sizes };
}

/**
 * Heartbeats in one hour, by the client's own schedule (`planHeartbeat`, with the intervals the
 * client derives from the default policy's status), for a user active throughout (input every 5 s)
 * and for one who is idle throughout; and what a keepalive on a fixed timer sends either way.
 */
export async function heartbeatsPerHour(policy, keepaliveIntervalMs = 60_000) {
  const module = join(root, 'packages/client/dist/heartbeat.js');
  if (!existsSync(module)) return null;
  const { initialBeatState, markActiveSent, planHeartbeat } = await import(module);
  const config = {
    heartbeatIntervalMs: policy.heartbeatIntervalMs,
    sleepingIntervalMs: 2 * policy.heartbeatIntervalMs,
  };
  const simulate = (active) => {
    const state = initialBeatState();
    const counts = { active: 0, sleeping: 0 };
    for (let now = 0; now < 3_600_000; now += 1000) {
      if (active && now % 5000 === 0) state.lastActivityAt = now;
      const plan = planHeartbeat(state, config);
      if (plan === null || plan.at > now) continue;
      counts[plan.kind]++;
      if (plan.kind === 'active') markActiveSent(state, now);
      else state.lastSentAt = now;
    }
    return counts;
  };
  return {
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    sleepingIntervalMs: config.sleepingIntervalMs,
    activeHour: simulate(true),
    idleHour: simulate(false),
    keepaliveIntervalMs,
    keepalivePerHour: Math.round(3_600_000 / keepaliveIntervalMs),
  };
}
