import type { NodeConfig } from "../config/types.js";
import { MAX_REVOCATION_REASON_BYTES, REVOCATION_REASON_PATTERN } from "../protocol/constants.js";
import { parseIp } from "../protocol/ip.js";
import { askNode, ControlAccessError, NodeNotRunningError } from "./control-client.js";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "./errors.js";
import { jsonDocument } from "./output.js";

/**
 * `f2bp2p revoke IP [--reason TEXT]`: has the running node sign a revocation of its own report(s)
 * of IP and send it to its friends (docs/protocol.md section 17), which stop counting them and lift
 * their bans where the score falls below the threshold; the node lifts its own ban the same way.
 * Exit 0 revoked; 1 the node holds no live report of its own of IP (nothing revoked), or gave no
 * answer; 2 bad address or reason.
 */
export async function runRevoke(
  config: NodeConfig,
  args: { readonly ip: string; readonly reason: string | undefined; readonly json: boolean },
): Promise<number> {
  const fail = (code: number, message: string): number => {
    process.stderr.write(`f2bp2p revoke: ${message}\n`);
    return code;
  };
  const ip = parseIp(args.ip);
  if (ip === null) return fail(EXIT_USAGE, `'${args.ip}' is not an IPv4 or IPv6 address`);
  if (args.reason !== undefined && !REVOCATION_REASON_PATTERN.test(args.reason))
    return fail(
      EXIT_USAGE,
      `--reason must be at most ${MAX_REVOCATION_REASON_BYTES} printable ASCII characters (friends' logs show it)`,
    );
  let answer: Awaited<ReturnType<typeof askNode>>;
  try {
    answer = await askNode(config.controlSocket, {
      op: "revoke",
      ip: ip.text,
      ...(args.reason === undefined ? {} : { reason: args.reason }),
    });
  } catch (err: unknown) {
    if (!(err instanceof NodeNotRunningError || err instanceof ControlAccessError)) throw err;
    return fail(EXIT_FAILURE, `not revoked: ${err.message}`);
  }
  if (!answer.ok)
    return fail(
      answer.error === "store-failed" ? EXIT_FAILURE : EXIT_USAGE,
      `not revoked: ${answer.message}`,
    );
  if (answer.status === "not-reported") {
    if (args.json) process.stdout.write(jsonDocument({ ip: answer.ip, result: "not-reported" }));
    return fail(
      EXIT_FAILURE,
      `${answer.ip}: not revoked: this node holds no live report of its own of it (only the origin ` +
        "of a report can revoke it; `f2bp2p status --ip` shows who reported it)",
    );
  }
  if (answer.status !== "revoked")
    return fail(EXIT_FAILURE, `unexpected answer from the node: ${JSON.stringify(answer)}`);
  const { ok: _ok, status: _status, ...rest } = answer;
  process.stdout.write(
    args.json
      ? jsonDocument({ ...rest, result: "revoked" })
      : `${answer.ip}: revoked (reason: ${answer.reason}); sent to friends; score here ${answer.score}, ` +
          `${answer.banned ? "still banned (other origins' reports reach the threshold)" : "not banned"}\n`,
  );
  return EXIT_OK;
}
