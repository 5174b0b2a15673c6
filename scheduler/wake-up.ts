/**
 * A wait that ends after `ms`, or earlier when its `wake` is called (a stop, an editor's action).
 * Returned as a pair so the owner can keep `wake` while it awaits `done`.
 */
export function wakeableWait(ms: number): { done: Promise<void>; wake: () => void } {
  let wake: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(finish, Math.max(0, ms));
    function finish() {
      clearTimeout(timer);
      resolve();
    }
    wake = finish;
  });
  return { done, wake };
}
