// A real, small file system for a drill: a tmpfs of a few megabytes mounted on a temporary folder,
// which a filler file can fill to the last byte (ENOSPC for everyone writing there) and free again.
// Mounting needs root (CI runs the tests as root); without it the drill fails with this reason.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Scope } from '../support/stores.js';

export interface SmallDisk {
  dir: string;
  /** Writes a filler file until the disk refuses even one more byte; returns its size. */
  fill(): number;
  /** Removes the filler: the space is free again. */
  free(): void;
}

function run(command: string, args: string[]): { ok: boolean; output: string } {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  return {
    ok: result.status === 0,
    output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error?.message ?? ''}`,
  };
}

export function mountSmallDisk(scope: Scope, sizeBytes: number): SmallDisk {
  if (process.getuid?.() !== 0) {
    throw new Error('the disk-full drill mounts a small tmpfs, which needs root (CI runs the tests as root)');
  }
  const dir = mkdtempSync(join(tmpdir(), 'vigil-disk-'));
  const mounted = run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0755`, 'tmpfs', dir]);
  if (!mounted.ok) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`mount -t tmpfs failed: ${mounted.output}`);
  }
  // Clean-ups may run before the server using the disk is killed: a lazy unmount detaches it at
  // once all the same (the kernel frees it when the last file is closed).
  scope.after(() => {
    if (!run('umount', [dir]).ok) run('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  const filler = join(dir, 'filler');
  return {
    dir,
    fill() {
      const fd = openSync(filler, 'a');
      let size = 0;
      try {
        for (const chunk of [65_536, 4096, 512, 1]) {
          const bytes = Buffer.alloc(chunk, 0x5a);
          for (;;) {
            try {
              size += writeSync(fd, bytes);
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
              throw error;
            }
          }
        }
      } finally {
        closeSync(fd);
      }
      return size;
    },
    free() {
      if (existsSync(filler)) rmSync(filler);
    },
  };
}
