import { formatDuration, isPresetName, type Policy, PRESETS, type VigilConfig } from '@vigil/core';
import { loadConfig, readConfigFile } from '../config-file.js';
import { CliError, type Io } from '../io.js';
import { CHECK_CONFIG_USAGE } from '../usage.js';

/** `vigil check-config FILE`: every problem at once, or what each policy resolves to. */
export async function checkConfig(args: string[], io: Io): Promise<number> {
  const [path, ...rest] = args;
  if (path === undefined || rest.length > 0) throw new CliError(CHECK_CONFIG_USAGE, 2);
  const config = await loadConfig(path, io.cwd);
  const input = (await readConfigFile(path, io.cwd)) as { policies?: Record<string, unknown> };
  io.stdout(`${path} is valid.\n${describeConfig(config, Object.keys(input.policies ?? {}))}\n`);
  return 0;
}

/** A human summary of a resolved config: the file's own policies first, then the shared settings. */
export function describeConfig(config: VigilConfig, named: string[]): string {
  const lines: string[] = [];
  const shown = named.includes('default') ? named : ['default', ...named];
  const width = Math.max(...shown.map((name) => name.length));
  for (const name of shown) {
    const policy = config.policies.get(name);
    if (policy === undefined) continue;
    const note = named.includes(name) ? '' : ' (built-in, the config names no default)';
    lines.push(`  ${name.padEnd(width)}  ${describePolicy(policy)}${note}`);
  }
  const limit = config.heartbeatRateLimit;
  lines.push(
    '',
    `  store timeout ${formatDuration(config.storeTimeoutMs)} · ended sessions kept ${formatDuration(config.endedRetentionMs)} · heartbeats per session: burst ${limit.burst}, then ${limit.perSecond}/s`,
    `  presets, usable by name or with "extends": ${Object.keys(PRESETS).filter(isPresetName).join(', ')}`,
  );
  return `Policies:\n${lines.join('\n')}`;
}

export function describePolicy(policy: Policy): string {
  const parts = [
    `idle ${formatDuration(policy.idleTimeoutMs)}`,
    `absolute ${formatDuration(policy.absoluteTimeoutMs)}`,
    `warn ${formatDuration(policy.warnBeforeMs)} before`,
    `heartbeat every ${formatDuration(policy.heartbeatIntervalMs)}`,
    `max sessions per subject ${policy.maxSessions ?? 'unlimited'}`,
  ];
  return parts.join(' · ');
}
