// @ts-check
// V8 settings for the service's processes. A semi-space (half of V8's young generation) of 4 MB
// instead of Node's 16 MB: `npm run bench:send` measured the sender's peak RSS about 30 MB lower
// at the same messages per second, and `npm run bench:web` the same requests per second.
// V8 reads them only when a process starts, so they stand where processes start: the first line of
// bin/newsletter.js (`npx newsletter …`), the npm scripts, and the benchmarks' child processes;
// test/cli/node-flags.test.ts keeps those in step with this list.
export const NODE_FLAGS = ['--max-semi-space-size=4'];
