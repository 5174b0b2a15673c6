// @ts-check
// The Node.js lines the service runs on, checked before anything else loads. On an older Node the
// first sign would otherwise be a crash deep inside a dependency, with nothing that says what to do:
// on Node 20, `npm start` stopped with "module.enableCompileCache is not a function" and `npm test`
// with "Channel closed" (better-sqlite3 13 crashes its test processes there).
// The same range as package.json's `engines` (test/build/node-version.test.ts keeps them in step).

/**
 * Whether the service supports this Node version: `^22.14.0 || >=24.0.0`.
 * @param {string} version as in `process.versions.node`, e.g. '24.21.0'
 */
export function isSupportedNode(version) {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major >= 24 || (major === 22 && minor >= 14);
}

/**
 * What to tell someone who started `what` on an unsupported Node; undefined on a supported one.
 * @param {string} what e.g. 'newsletter'
 * @param {string} version as in `process.versions.node`
 */
export function unsupportedNodeMessage(what, version) {
  if (isSupportedNode(version)) return undefined;
  return (
    `${what} needs Node.js 24 (or 22.14 and later 22.x); this is Node ${version}.\n` +
    'Install Node 24 LTS, or in a clone of the project run `source scripts/use-node.sh 24`, which fetches it ' +
    'from the npm registry for this shell (README, "Node.js 24 or 22").\n'
  );
}
