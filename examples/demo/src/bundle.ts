import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const publicDir = fileURLToPath(new URL('../public/', import.meta.url));

/**
 * Bundles one of the demo's browser entry points (`app.ts`, `tool.ts`) with the SDK, in memory, at
 * start-up: the demo always runs the SDK's current sources and needs no separate build step.
 */
export async function bundlePage(entry: 'app.ts' | 'tool.ts'): Promise<string> {
  const result = await build({
    entryPoints: [publicDir + entry],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    write: false,
    conditions: ['vigil-source'],
    logLevel: 'silent',
  });
  const [output] = result.outputFiles;
  if (output === undefined) throw new Error(`esbuild produced nothing for ${entry}`);
  return output.text;
}

export function publicFile(name: string): string {
  return publicDir + name;
}
