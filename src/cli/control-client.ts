import net from "node:net";
import type { ControlRequest, ControlResponse } from "../node/control-protocol.js";

export class NodeNotRunningError extends Error {
  readonly code = "ERR_NODE_NOT_RUNNING";
  constructor(socketPath: string, cause: string) {
    super(
      `cannot reach the f2bp2p node at ${socketPath} (${cause}): is 'f2bp2p run' (or the f2bp2p service) running?`,
    );
    this.name = "NodeNotRunningError";
  }
}

/** Sends one request to the running node and waits for its one-line answer. */
export function askNode(
  socketPath: string,
  request: ControlRequest,
  timeoutMs = 5000,
): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let answer = "";
    const fail = (cause: string): void => {
      socket.destroy();
      reject(new NodeNotRunningError(socketPath, cause));
    };
    socket.setEncoding("utf8");
    socket.setTimeout(timeoutMs, () => fail("no answer in time"));
    socket.once("error", (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
    socket.once("connect", () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on("data", (chunk: string) => {
      answer += chunk;
      if (answer.length > 65536) fail("answer too long");
    });
    socket.once("end", () => {
      try {
        resolve(JSON.parse(answer) as ControlResponse);
      } catch {
        fail("unreadable answer");
      }
    });
  });
}
