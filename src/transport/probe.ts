import dns from "node:dns/promises";
import * as zmq from "zeromq";
import { parseEndpointHost } from "../config/load.js";
import { parseIp } from "../protocol/ip.js";
import { HANDSHAKE_INTERVAL_MS } from "./socket-options.js";

export interface ProbeTarget {
  readonly endpoint: string;
  /** The friend's CURVE server key (z85), from its friend file. */
  readonly serverKey: string;
  readonly curvePublicKey: string;
  readonly curveSecretKey: string;
}

export type ProbeOutcome =
  /** The CURVE handshake succeeded: the friend's listener admitted our key. */
  | { readonly ok: true; readonly addresses: readonly string[] }
  | {
      readonly ok: false;
      /** How far it got: the name did not resolve, no TCP connection, or the handshake failed. */
      readonly stage: "resolve" | "connect" | "handshake" | "admit";
      readonly detail: string;
    };

/**
 * Dials one friend the way its link does (a CURVE client with our keys and its server key) and
 * waits for the first decisive socket monitor event: `handshake` (admitted), `handshake:error:auth`
 * (its ZAP handler refused our key), another handshake failure, or a failed connect. Nothing is sent.
 * Gives up after `timeoutMs` (a firewall that drops packets answers nothing). Never rejects.
 */
export async function probeFriend(
  target: ProbeTarget,
  timeoutMs = HANDSHAKE_INTERVAL_MS,
): Promise<ProbeOutcome> {
  const host = parseEndpointHost(target.endpoint);
  let addresses: string[];
  if (parseIp(host) !== null) addresses = [host];
  else {
    try {
      addresses = (await dns.lookup(host, { all: true })).map((a) => a.address);
    } catch (err: unknown) {
      return {
        ok: false,
        stage: "resolve",
        detail: `${host} does not resolve (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      };
    }
  }
  // A PUSH socket, as the friend link uses: the listener accepts no other socket type.
  const socket = new zmq.Push({
    curveServerKey: target.serverKey,
    curvePublicKey: target.curvePublicKey,
    curveSecretKey: target.curveSecretKey,
    ipv6: true,
    immediate: true,
    linger: 0,
    handshakeInterval: timeoutMs,
  });
  try {
    const outcome = await new Promise<ProbeOutcome>((resolve) => {
      let connected = false;
      const timer = setTimeout(
        () =>
          resolve(
            connected
              ? {
                  ok: false,
                  stage: "handshake",
                  detail: `connected, but no CURVE handshake within ${timeoutMs / 1000} s`,
                }
              : {
                  ok: false,
                  stage: "connect",
                  detail: `no connection within ${timeoutMs / 1000} s (filtered by a firewall?)`,
                },
          ),
        timeoutMs,
      );
      const done = (outcome: ProbeOutcome): void => {
        clearTimeout(timer);
        resolve(outcome);
      };
      socket.events.on("connect", () => {
        connected = true;
      });
      socket.events.on("handshake", () => done({ ok: true, addresses }));
      socket.events.on("handshake:error:auth", (e) =>
        done({
          ok: false,
          stage: "admit",
          detail: `the friend refused our key (ZAP status ${e.error.status ?? "?"}): is this node in its friends.d, with our current curve_key?`,
        }),
      );
      socket.events.on("handshake:error:protocol", () =>
        done({
          ok: false,
          stage: "handshake",
          detail: "CURVE handshake failed (protocol error): does its friend file have its current curve_key?",
        }),
      );
      socket.events.on("handshake:error:other", (e) =>
        done({ ok: false, stage: "handshake", detail: `CURVE handshake failed (${e.error.message})` }),
      );
      socket.events.on("connect:retry", () => {
        if (!connected)
          done({
            ok: false,
            stage: "connect",
            detail: "connection refused or unreachable (is its node running and listening there?)",
          });
      });
      socket.events.on("disconnect", () => {
        // A server that cannot decrypt our HELLO (wrong server key on our side) just closes.
        if (connected)
          done({
            ok: false,
            stage: "handshake",
            detail:
              "the friend closed the connection during the CURVE handshake: does its friend file have its current curve_key?",
          });
      });
      socket.connect(target.endpoint);
    });
    return outcome;
  } finally {
    socket.close();
  }
}
