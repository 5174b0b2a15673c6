import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// A real small filesystem for disk-full and read-only tests: a tmpfs of a few hundred kB mounted on
// a temporary folder (as root, as CI runs). Where mounting is not permitted, the tests that need it
// skip with one printed line.

export interface SmallDisk {
  dir: string;
  /** Fills every free byte with a file of its own (`free()` removes it). */
  fill(): void;
  free(): void;
  /** Remounts the filesystem read-only (or writable again). */
  readOnly(on: boolean): void;
  unmount(): void;
}

function canMount(): boolean {
  const probe = mkdtempSync(path.join(os.tmpdir(), 'small-disk-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

export const smallDiskAvailable = canMount();
if (!smallDiskAvailable) {
  console.warn('SKIPPING disk-full and read-only tests: mounting a small tmpfs needs root (CI runs as root)');
}

export function mountSmallDisk(sizeKb: number): SmallDisk {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'small-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k,mode=0755`, 'tmpfs', dir]);
  const filler = path.join(dir, 'filler');
  return {
    dir,
    fill() {
      // Write in 4 kB blocks until the filesystem refuses: every block is then taken.
      const block = Buffer.alloc(4096, 1);
      try {
        for (let i = 0; ; i++) writeFileSync(filler, block, { flag: i === 0 ? 'w' : 'a' });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
      }
    },
    free: () => rmSync(filler, { force: true }),
    readOnly: (on) => execFileSync('mount', ['-o', `remount,${on ? 'ro' : 'rw'}`, dir]),
    unmount() {
      execFileSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
