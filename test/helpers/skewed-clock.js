// @ts-check
// Loaded with `node --import` into a child process: its clock (Date) runs CLOCK_SKEW_MS ahead (or
// behind, when negative) of the machine's, as a sender on a machine whose clock drifted does.
// The monotonic clock (performance.now) is left alone, as drift leaves it alone.
const skewMs = Number(process.env.CLOCK_SKEW_MS ?? 0);
if (!Number.isFinite(skewMs)) throw new Error(`CLOCK_SKEW_MS must be milliseconds, got ${process.env.CLOCK_SKEW_MS}`);

const MachineDate = Date;
const skewedNow = () => MachineDate.now() + skewMs;

globalThis.Date = new Proxy(MachineDate, {
  // `new Date()` is now on the skewed clock; `new Date(x)` is x, as before.
  construct(target, args, newTarget) {
    const date = /** @type {unknown} */ (
      Reflect.construct(target, args.length === 0 ? [skewedNow()] : args, newTarget)
    );
    return /** @type {object} */ (date);
  },
  // `Date()` called as a function gives the time as a string.
  apply: () => new MachineDate(skewedNow()).toString(),
  get: (target, property, receiver) =>
    property === 'now' ? skewedNow : /** @type {unknown} */ (Reflect.get(target, property, receiver)),
});
