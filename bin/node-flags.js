// @ts-check
// V8 settings for the service's processes, measured with `npm run bench:send` and `bench:web`:
// - a semi-space (half of V8's young generation) of 4 MB instead of Node's 16 MB: the sender's peak
//   RSS about 30 MB lower at the same messages per second, the web's requests per second the same;
// - the old generation grown by 50% after each full collection, instead of up to 4× on a machine
//   with a large heap limit: the send's heap stays at about 40 MB instead of overshooting to 70 MB
//   before its first full collection, at the same messages per second. The heap limit itself is
//   unchanged (Node's default), so large lists never meet an out-of-memory cliff.
// V8 reads these only when a process starts, so they stand where processes start: the first line of
// bin/newsletter.js (`npx newsletter …`), the npm scripts, and the benchmarks' child processes;
// test/cli/node-flags.test.ts keeps those in step with this list.
export const NODE_FLAGS = ['--max-semi-space-size=4', '--heap-growing-percent=50'];
