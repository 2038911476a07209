// The browser SDK's figures (issue 3): its size, min+gzip of an esbuild bundle of its main export,
// beside react-idle-timer and @ng-idle/core (alone, and with @ng-idle/keepalive, where ng-idle's
// heartbeats live) bundled the same way in the same run (their frameworks — React, Angular, RxJS —
// left out, as an app already has them); each of the SDK's subpath exports alone and all of it
// together; and the heartbeats it sends per user-hour, from its own schedule (packages/client
// heartbeat.ts), against a fixed-interval keepalive.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { root, versionOf } from './processes.mjs';

const FRAMEWORKS = ['react', 'react-dom', 'react/jsx-runtime', '@angular/*', 'rxjs', 'rxjs/*', 'tslib'];

/** What each entry point of @vigil/client holds, for the table; a new subpath shows up untitled. */
const VIGIL_ENTRIES = {
  '.': 'the session client, `createVigil` (activity, heartbeats, tabs, retries)',
  './push': 'push from the server, `pushChannels` (WebSocket → SSE, heartbeats on the socket)',
  './warning': 'the `<vigil-warning>` dialog (`defineVigilWarning`, `endedMessage`)',
  './frame': 'the frame bridge (`acceptFrameActivity`, `reportActivityToHost`)',
  './token': 'token mode (`createTokenMode`, `defaultRefreshAfter`)',
  './fetch': '`countFetchAsActivity`',
};

async function bundleSize(esbuild, specifiers) {
  const result = await esbuild.build({
    stdin: {
      contents: specifiers.map((specifier) => `export * from '${specifier}';`).join('\n'),
      resolveDir: root,
      loader: 'js',
    },
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

/** The entry points `packages/client/package.json` exports, as import specifiers, main first. */
function vigilEntries() {
  const manifest = JSON.parse(readFileSync(join(root, 'packages/client/package.json'), 'utf8'));
  return Object.keys(manifest.exports).map((subpath) => ({
    subpath,
    specifier: subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`,
    contains: VIGIL_ENTRIES[subpath] ?? '',
  }));
}

/**
 * Sizes, all bundled by this run's esbuild the same way: @vigil/client's main export (the figure
 * issue 3 is about), each subpath export alone, everything together, and the libraries it is
 * measured against, when installed. `key` names a row for code (`main`, `all`, a subpath…).
 */
export async function clientSizes() {
  const esbuild = await import('esbuild');
  const vigilVersion = versionOf('@vigil/client') ?? 'workspace';
  const entries = vigilEntries();
  const rows = [
    ...entries.map((entry) => ({
      key: entry.subpath === '.' ? 'main' : entry.subpath.slice(2),
      name: entry.specifier,
      contains: entry.subpath === '.' ? `main export: ${entry.contains}` : entry.contains,
      version: vigilVersion,
      specifiers: [entry.specifier],
    })),
    {
      key: 'all',
      name: `${entries[0].specifier}, every entry point`,
      contains: `everything together: the main export + ${entries
        .slice(1)
        .map((entry) => `\`${entry.subpath.slice(1)}\``)
        .join(' + ')}`,
      version: vigilVersion,
      specifiers: entries.map((entry) => entry.specifier),
    },
    {
      key: 'react-idle-timer',
      name: 'react-idle-timer',
      contains: 'whole package (idle detection, prompt, cross-tab)',
      version: versionOf('react-idle-timer'),
      specifiers: ['react-idle-timer'],
    },
    {
      key: 'ng-idle',
      name: '@ng-idle/core',
      contains: 'whole package (idle detection, timeout, interrupts)',
      version: versionOf('@ng-idle/core'),
      specifiers: ['@ng-idle/core'],
    },
    {
      key: 'ng-idle+keepalive',
      name: '@ng-idle/core + @ng-idle/keepalive',
      contains: 'both packages together: with keepalive, ng-idle also sends heartbeats',
      version:
        versionOf('@ng-idle/core') && versionOf('@ng-idle/keepalive')
          ? `${versionOf('@ng-idle/core')} + ${versionOf('@ng-idle/keepalive')}`
          : null,
      specifiers: ['@ng-idle/core', '@ng-idle/keepalive'],
    },
  ];
  const sizes = [];
  for (const { specifiers, ...row } of rows) {
    sizes.push(
      row.version === null
        ? { ...row, missing: true }
        : { ...row, ...(await bundleSize(esbuild, specifiers)) },
    );
  }
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
