import { PassThrough, Readable } from 'node:stream';
import { main } from '../../src/cli/main.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

function collector(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

/** Runs the real CLI in-process with its own streams and environment. */
export async function runCli(argv: string[], env: NodeJS.ProcessEnv, stdin = ''): Promise<CliRun> {
  const out = collector();
  const err = collector();
  const code = await main(argv, { stdout: out.stream, stderr: err.stream, stdin: Readable.from([stdin]), env });
  return { code, stdout: out.text(), stderr: err.text() };
}
