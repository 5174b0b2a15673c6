import type { ChildProcess } from 'node:child_process';

/** The first message of `type` a benchmark's child process sends; rejects if it exits first. */
export function waitFor<T extends { type: string }>(child: ChildProcess, type: T['type']): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`bench server exited with ${code} before "${type}"`));
    const onMessage = (m: T) => {
      if (m.type === type) {
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(m);
      }
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}
