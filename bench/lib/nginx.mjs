// nginx with `examples/proxies/nginx.conf` (only its addresses and file paths rewritten, as
// packages/server/test/nginx.test.ts does), in front of an app, asking Vigil about every request.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { atExit, childrenOf, freePort, root, sleep, track, workDir } from './processes.mjs';

export const NGINX = '/usr/sbin/nginx';

/** `nginx version: nginx/1.22.1` → `1.22.1`, or null when nginx is missing. */
export function nginxVersion() {
  if (!existsSync(NGINX)) return null;
  const probe = spawnSync(NGINX, ['-v'], { encoding: 'utf8' });
  return /nginx\/(\S+)/.exec(`${probe.stderr}${probe.stdout}`)?.[1] ?? null;
}

function render(conf, dir, ports) {
  let out = conf;
  const replace = (from, to) => {
    if (!out.includes(from)) throw new Error(`examples/proxies/nginx.conf no longer contains "${from}"`);
    out = out.replace(from, to);
  };
  replace('listen 8000;', `listen 127.0.0.1:${ports.nginx};`);
  replace('server 127.0.0.1:8080;', `server 127.0.0.1:${ports.vigil};`);
  replace('server 127.0.0.1:3000;', `server 127.0.0.1:${ports.app};`);
  replace('error_log /var/log/nginx/error.log warn;', `error_log ${dir}/error.log warn;`);
  replace(
    'access_log /var/log/nginx/access.log;',
    [
      // No access log: a line per request would measure the disk, not the check.
      'access_log off;',
      `client_body_temp_path ${dir}/client_body;`,
      `proxy_temp_path ${dir}/proxy;`,
      `fastcgi_temp_path ${dir}/fastcgi;`,
      `uwsgi_temp_path ${dir}/uwsgi;`,
      `scgi_temp_path ${dir}/scgi;`,
    ].join('\n  '),
  );
  return out;
}

/** Starts nginx in front of `vigilUrl` and `appUrl`; resolves with its URL and its PIDs. */
export async function startNginx(vigilUrl, appUrl) {
  const dir = join(workDir, 'nginx');
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755); // workers drop to an unprivileged user when nginx starts as root
  const ports = {
    nginx: await freePort(),
    vigil: Number(new URL(vigilUrl).port),
    app: Number(new URL(appUrl).port),
  };
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, render(readFileSync(join(root, 'examples/proxies/nginx.conf'), 'utf8'), dir, ports));
  const args = ['-p', dir, '-e', join(dir, 'error.log'), '-c', conf];
  const check = spawnSync(NGINX, [...args, '-t'], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`nginx -t refused the example:\n${check.stderr}`);
  const child = track(
    spawn(NGINX, [...args, '-g', `daemon off; pid ${join(dir, 'nginx.pid')};`], { stdio: 'ignore' }),
  );
  // The master is killed at exit by its PID; its workers, which would outlive it, go first.
  atExit(() => {
    for (const pid of childrenOf(child.pid)) process.kill(pid, 'SIGKILL');
  });
  const url = `http://127.0.0.1:${ports.nginx}`;
  for (let i = 0; i < 200; i++) {
    try {
      await fetch(`${url}/login`);
      return { url, child, pids: () => [child.pid, ...childrenOf(child.pid)], stop: () => stopNginx(child) };
    } catch {
      if (child.exitCode !== null) break;
      await sleep(50);
    }
  }
  throw new Error(`nginx did not start:\n${readFileSync(join(dir, 'error.log'), 'utf8')}`);
}

/**
 * Graceful stop (SIGQUIT: the master lets its workers finish, then exits), bounded; a worker still
 * there afterwards is killed by its PID, so none outlives the run.
 */
async function stopNginx(child) {
  const workers = childrenOf(child.pid);
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGQUIT');
    await Promise.race([exited, sleep(5000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  for (const pid of workers) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone: the usual case
    }
  }
}
