import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import type { ControlRequest, ControlResponse } from "../node/control-protocol.js";
import { groupName } from "../util/folder-owner.js";
import { unsafeFolder } from "../util/unsafe-folder.js";

export class NodeNotRunningError extends Error {
  readonly code = "ERR_NODE_NOT_RUNNING";
  constructor(socketPath: string, cause: string) {
    super(
      `cannot reach the f2bp2p node at ${socketPath} (${cause}): is 'f2bp2p run' (or the f2bp2p service) running?`,
    );
    this.name = "NodeNotRunningError";
  }
}

/**
 * The socket is there but may not be used: this user lacks the permission (EACCES, EPERM: the
 * message says who may), or the path is not safe to talk to (a symlink, or a folder another user
 * can write: what answers there could be theirs, not the node). `why` is given for the latter only.
 */
export class ControlAccessError extends Error {
  readonly code = "ERR_CONTROL_ACCESS";
  constructor(socketPath: string, why?: string) {
    super(
      why === undefined
        ? `permission denied on ${socketPath}: ${whoMayUse(socketPath)}`
        : `${socketPath}: ${why}`,
    );
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

/** Refuses a control socket path another local user could have put there. */
function checkSocketPath(socketPath: string): void {
  let unsafe: string | undefined;
  try {
    if (fs.lstatSync(socketPath).isSymbolicLink()) unsafe = "is a symlink, not the node's socket";
    else unsafe = unsafeFolder(path.dirname(socketPath), process.geteuid?.() ?? 0, { owner: false });
    if (unsafe !== undefined && !unsafe.startsWith("is ")) unsafe = `its folder is not safe: ${unsafe}`;
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EACCES" || code === "EPERM") throw new ControlAccessError(socketPath);
    return; // missing: connecting says so
  }
  if (unsafe !== undefined) throw new ControlAccessError(socketPath, `refusing to use it: ${unsafe}`);
}

/** Sends one request to the running node and waits for its one-line answer. */
export function askNode(
  socketPath: string,
  request: ControlRequest,
  timeoutMs = 5000,
): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    checkSocketPath(socketPath);
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
