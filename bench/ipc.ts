/** Request/answer over a forked child's IPC channel, every wait bounded in time. */
import type { ChildProcess } from "node:child_process";

export type Message = { op: string } & Record<string, unknown>;

/** Resolves with the child's next message whose op is `op`; rejects on its `error` message, exit or timeout. */
export function expect<M extends Message = Message>(
  child: ChildProcess,
  op: string,
  timeoutMs: number,
): Promise<M> {
  return new Promise<M>((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
    };
    const onMessage = (message: Message): void => {
      if (message.op === op) {
        done();
        resolve(message as M);
      } else if (message.op === "error") {
        done();
        reject(new Error(`child ${child.pid}: ${String(message.message)}`));
      }
    };
    const onExit = (code: number | null, signal: string | null): void => {
      done();
      reject(
        new Error(`child ${child.pid} exited (code ${code}, signal ${signal}) while we waited for '${op}'`),
      );
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`child ${child.pid}: no '${op}' within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}

/** Sends a command and waits for the answer with op `answer`. */
export function ask<M extends Message = Message>(
  child: ChildProcess,
  command: Message,
  answer: string,
  timeoutMs: number,
): Promise<M> {
  const reply = expect<M>(child, answer, timeoutMs);
  child.send(command);
  return reply;
}
