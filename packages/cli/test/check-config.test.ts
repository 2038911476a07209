import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Io, main } from '@vigil/cli';
import { runVigil, tempDir, writeJson } from './helpers.js';

/** Runs the CLI in-process and keeps what it printed. */
async function vigil(args: string[], cwd: string) {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env: {},
    cwd,
  };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

const good = {
  policies: {
    default: { idleTimeout: '2m', absoluteTimeout: '1h', warnBefore: '30s' },
    demo: { idleTimeout: '30s', absoluteTimeout: '10m' },
    admin: { extends: 'nist-aal3', idleTimeout: '10m' },
  },
  heartbeatRateLimit: { burst: 20, perSecond: 2 },
};

test('check-config: a valid file exits 0 and summarises each policy in human units', async (t) => {
  const dir = tempDir(t);
  writeJson(dir, 'good.json', good);
  const { code, stdout, stderr } = await vigil(['check-config', 'good.json'], dir);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /good\.json is valid/);
  assert.match(stdout, /default\s+idle 2m · absolute 1h · warn 30s before · heartbeat every 40s/);
  assert.match(stdout, /demo\s+idle 30s · absolute 10m/);
  assert.match(stdout, /admin\s+idle 10m · absolute 12h/);
  assert.match(stdout, /burst 20, then 2\/s/);
});

test('check-config: without a default policy, says the built-in one applies', async (t) => {
  const dir = tempDir(t);
  writeJson(dir, 'nodefault.json', { policies: { demo: { idleTimeout: '30s', absoluteTimeout: '10m' } } });
  const { code, stdout } = await vigil(['check-config', 'nodefault.json'], dir);
  assert.equal(code, 0);
  assert.match(stdout, /default\s+idle 15m · absolute 8h.*built-in/);
});

test('check-config: reports every problem on its own line with its field and rule, exit 1', async (t) => {
  const dir = tempDir(t);
  writeJson(dir, 'bad.json', {
    policies: {
      default: { idleTimeout: '2m', absoluteTimeout: '1h', warnBefore: '5m', heartbeatInterval: '3m' },
      typo: { idleTimeout: '2 minutes', absoluteTimeout: '1h' },
      inverted: { idleTimeout: '2h', absoluteTimeout: '1h' },
      loose: { extends: 'nist-aal3', idleTimeout: '30m' },
    },
    extra: true,
  });
  const { code, stdout, stderr } = await vigil(['check-config', 'bad.json'], dir);
  assert.equal(code, 1);
  assert.equal(stdout, '');
  const expected = [
    ['policies.default.warnBefore', 'lt_idleTimeout'],
    ['policies.default.heartbeatInterval', 'lt_idleTimeout'],
    ['policies.typo.idleTimeout', 'duration'],
    ['policies.inverted.idleTimeout', 'lte_absoluteTimeout'],
    ['policies.loose.idleTimeout', 'preset_max'],
    ['extra', 'unknown_field'],
  ];
  const lines = stderr.split('\n');
  for (const [field, rule] of expected) {
    const line = lines.find((l) => l.trim().startsWith(`${field}:`) && l.includes(`[${rule}]`));
    assert.ok(line, `expected a line for ${field} [${rule}] in:\n${stderr}`);
  }
  assert.match(stderr, /6 problems/);
});

test('check-config: missing file, broken JSON and no argument are clear errors', async (t) => {
  const dir = tempDir(t);
  const missing = await vigil(['check-config', 'nope.json'], dir);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read config file nope\.json: no such file/);

  writeJson(dir, 'broken.json', '{\n  "policies": {\n    "default": {"idleTimeout": "2m",}\n  }\n}\n');
  const broken = await vigil(['check-config', 'broken.json'], dir);
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /broken\.json is not valid JSON: .*line 3/);
  assert.doesNotMatch(broken.stderr, /at .*\.js:\d+/, 'no stack trace');

  writeJson(dir, 'trailing.json', '{"policies": {}} x\n');
  const trailing = await vigil(['check-config', 'trailing.json'], dir);
  assert.equal(trailing.code, 1);
  assert.match(trailing.stderr, /trailing\.json is not valid JSON: .* after JSON at line 1, column 18$/m);
  assert.doesNotMatch(trailing.stderr, /position/, 'a line and a column, not a character position too');

  const usage = await vigil(['check-config'], dir);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /Usage: vigil check-config FILE/);
});

test('the real command: exit codes, --version, unknown command', async (t) => {
  const dir = tempDir(t);
  const goodPath = writeJson(dir, 'good.json', good);
  const badPath = writeJson(dir, 'bad.json', { policies: { default: { idleTimeout: '1h' } } });
  const [ok, bad, version, unknown, helpOn, helpOnNothing, benchExtra] = await Promise.all([
    runVigil(['check-config', goodPath]),
    runVigil(['check-config', badPath]),
    runVigil(['--version']),
    runVigil(['frobnicate']),
    runVigil(['help', 'migrate']),
    runVigil(['help', 'frobnicate']),
    runVigil(['bench', 'everything']),
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /policies\.default\.absoluteTimeout: is required \[required\]/);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^vigil \d+\.\d+\.\d+/);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
  assert.equal(helpOn.code, 0);
  assert.match(helpOn.stdout, /^Usage: vigil migrate --store SPEC/);
  assert.equal(helpOnNothing.code, 2, 'help on a command that does not exist is not a success');
  assert.match(helpOnNothing.stderr, /no help on "frobnicate": it is not a command/);
  assert.equal(benchExtra.code, 2);
  assert.match(benchExtra.stderr, /unexpected argument "everything"[\s\S]*Usage: vigil bench/);
});
