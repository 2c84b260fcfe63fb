import { setTimeout as sleep } from "node:timers/promises";

/**
 * Polls `pred` every 10 ms until it returns true, or rejects after `timeoutMs` with a message naming
 * `what`. Use it instead of fixed sleeps: a test waits exactly as long as the system needs.
 */
export async function waitFor(
  pred: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await pred()) return;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}
