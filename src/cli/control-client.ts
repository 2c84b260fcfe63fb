import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import type { ControlRequest, ControlResponse } from "../node/control-protocol.js";
import { groupName } from "../util/folder-owner.js";

export class NodeNotRunningError extends Error {
  readonly code = "ERR_NODE_NOT_RUNNING";
  constructor(socketPath: string, cause: string) {
    super(
      `cannot reach the f2bp2p node at ${socketPath} (${cause}): is 'f2bp2p run' (or the f2bp2p service) running?`,
    );
    this.name = "NodeNotRunningError";
  }
}

/** The node runs, but its control socket is not for this user (EACCES): say so, and who may. */
export class ControlAccessError extends Error {
  readonly code = "ERR_CONTROL_ACCESS";
  constructor(socketPath: string) {
    super(`permission denied on ${socketPath}: ${whoMayUse(socketPath)}`);
    this.name = "ControlAccessError";
  }
}

/** Root and the socket folder's group may connect (the packaged service: group f2bp2p). */
function whoMayUse(socketPath: string): string {
  try {
    const gid = fs.statSync(path.dirname(socketPath)).gid;
    const group = groupName(gid);
    return `only root and members of group ${group} may use it (add a user: adduser USER ${group}; it takes effect at their next login)`;
  } catch {
    return "only root and members of the socket's group may use it";
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
      reject(
        cause === "EACCES" || cause === "EPERM"
          ? new ControlAccessError(socketPath)
          : new NodeNotRunningError(socketPath, cause),
      );
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
