import type { Command } from 'commander';
import type { Config } from '../config/config.js';
import type { Services } from '../app/services.js';

/** Output streams and lazy service access for CLI commands (tests pass their own). */
export interface CliContext {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
  config(): Config;
  /** Opens (and migrates) the database on first use; commands that only print help never do. */
  services(): Promise<Services>;
  /** Sets the process exit status without throwing (e.g. 2 for a partly rejected import). */
  setExitCode(code: number): void;
}

/** A command failure whose message tells the user what to fix; printed without a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export type RegisterCommands = (program: Command, ctx: CliContext) => void;

export function parseTopicList(value: string | undefined): string[] | null {
  if (value === undefined) return null;
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return list.length > 0 ? list : null;
}
