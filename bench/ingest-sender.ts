/**
 * Child process of the ingest benchmark: plays the friend. Connects a CURVE PUSH socket (the friend's
 * keys) to the node's listener and, on "go", sends pre-built messages as fast as the socket takes them.
 * Talks to the parent over IPC only; exits when told to, when the parent goes away, or after 10 minutes.
 */
import * as zmq from "zeromq";
import { readMessages } from "./frames-file.js";

type Command =
  | { op: "load"; file: string }
  | { op: "connect"; endpoint: string; serverKey: string; publicKey: string; secretKey: string }
  | { op: "go"; set: number }
  | { op: "trickle"; set: number; intervalMs: number }
  | { op: "exit" };

const sets: Buffer[][][] = [];
let socket: zmq.Push | undefined;
const context = new zmq.Context();

function reply(message: Record<string, unknown>): void {
  process.send?.(message);
}

async function connect(command: Extract<Command, { op: "connect" }>): Promise<void> {
  socket?.close();
  const push = new zmq.Push({
    context,
    curveServerKey: command.serverKey,
    curvePublicKey: command.publicKey,
    curveSecretKey: command.secretKey,
    sendHighWaterMark: 1000,
    linger: 1000,
  });
  socket = push;
  const handshake = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no CURVE handshake with the node in 10 s")), 10_000);
    push.events.on("handshake", () => {
      clearTimeout(timer);
      resolve();
    });
  });
  push.connect(command.endpoint);
  await handshake;
}

async function go(set: number): Promise<void> {
  const messages = sets[set];
  if (socket === undefined || messages === undefined) throw new Error("not connected or no such set");
  const start = performance.now();
  for (const frames of messages) await socket.send(frames);
  reply({ op: "sent", ms: performance.now() - start });
}

/** Sends one message every `intervalMs`, and replies with each one's wall-clock send time (ms). */
async function trickle(set: number, intervalMs: number): Promise<void> {
  const messages = sets[set];
  if (socket === undefined || messages === undefined) throw new Error("not connected or no such set");
  const times: number[] = [];
  for (const frames of messages) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    times.push(performance.timeOrigin + performance.now());
    await socket.send(frames);
  }
  reply({ op: "trickled", times });
}

const deadline = setTimeout(() => process.exit(3), 10 * 60_000);
deadline.unref();
process.on("disconnect", () => process.exit(0));
process.on("message", (command: Command) => {
  const work = async (): Promise<void> => {
    switch (command.op) {
      case "load":
        sets.push(readMessages(command.file));
        reply({ op: "loaded", set: sets.length - 1 });
        return;
      case "connect":
        await connect(command);
        reply({ op: "ready" });
        return;
      case "go":
        await go(command.set);
        return;
      case "trickle":
        await trickle(command.set, command.intervalMs);
        return;
      case "exit":
        socket?.close();
        process.exit(0);
    }
  };
  work().catch((err: unknown) => {
    reply({ op: "error", message: err instanceof Error ? err.message : String(err) });
  });
});
reply({ op: "started" });
