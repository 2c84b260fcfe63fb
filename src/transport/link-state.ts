/**
 * What a friend link is doing, and why it is not connected: the rules, without sockets or clocks.
 *
 * libzmq reconnects by itself only after a connection error (refused, reset, timed out). After a
 * failed handshake (the friend's ZAP refused our key, a garbled greeting, a peer that is not a CURVE
 * server) it ends the pipe for good and the socket never dials again, so the link replaces its socket.
 */

/** `connecting` until the first outcome; `refused` = the friend's ZAP handler refused our key. */
export type LinkState =
  | "connecting"
  | "connected"
  | "refused"
  | "handshake-failed"
  | "unreachable"
  | "disconnected";

/** The words `status` and the log use for each state. */
export const LINK_STATE_TEXT: Readonly<Record<LinkState, string>> = {
  connecting: "connecting",
  connected: "connected",
  refused: "friend refused our key: does it list us in friends.d with our current keys?",
  "handshake-failed":
    "handshake failed: the peer at this endpoint is not speaking CURVE with the friend's key",
  unreachable: "unreachable: no TCP connection (down, firewalled, or its name does not resolve)",
  disconnected: "disconnected: reconnecting",
};

/** First wait before a new socket replaces one whose handshake failed or whose connection dropped. */
export const RELINK_FIRST_DELAY_MS = 500;
/** Longest wait between two new sockets: a friend that keeps refusing us is retried this often. */
export const RELINK_MAX_DELAY_MS = 30_000;
/** libzmq's own reconnect after a refused or lost TCP connection (ZMQ_RECONNECT_IVL, _MAX). */
export const RECONNECT_INTERVAL_MS = 100;
export const RECONNECT_MAX_INTERVAL_MS = 5_000;

/**
 * Least time between two early dials of a friend we just heard from (redialsEarly): a friend that
 * keeps talking while our dials fail costs at most one new connection attempt a second.
 */
export const EARLY_REDIAL_MIN_INTERVAL_MS = 1_000;

/**
 * Whether a link should dial its friend at once because the friend was just heard from (an
 * authenticated message of it arrived on our listener, so it is up and reachable): only while
 * libzmq waits out its reconnect backoff after a failed attempt (`backingOff`; up to
 * RECONNECT_MAX_INTERVAL_MS), never while an attempt is under way, and at most once per
 * EARLY_REDIAL_MIN_INTERVAL_MS (`lastAt`: the previous early dial, ms, or undefined). A refused or
 * failed handshake is not a backoff of libzmq's: the link's own relink timer (relinkDelay) handles
 * it, since hearing from the friend does not fix a configuration problem.
 */
export function redialsEarly(backingOff: boolean, lastAt: number | undefined, now: number): boolean {
  return backingOff && (lastAt === undefined || now - lastAt >= EARLY_REDIAL_MIN_INTERVAL_MS);
}

/**
 * The wait in ms before the next socket, after `failures` replacements in a row without a handshake
 * (0 for the first): doubles from `first` up to `max`.
 */
export function relinkDelay(
  failures: number,
  first = RELINK_FIRST_DELAY_MS,
  max = RELINK_MAX_DELAY_MS,
): number {
  return Math.min(max, first * 2 ** Math.min(failures, 30));
}

/** The libzmq monitor events a link reacts to (zeromq.js names). */
export type LinkEvent =
  | "handshake"
  | "handshake:error:auth"
  | "handshake:error:protocol"
  | "handshake:error:other"
  | "connect:retry"
  | "disconnect";

/**
 * The state after `event`, and whether the socket must be replaced. A handshake failure is followed
 * by a `disconnect`; the failure's reason stays. Only a `disconnect` replaces the socket: it comes
 * after every failure that libzmq does not retry (a garbled greeting gives no handshake event at all).
 */
export function nextLinkState(state: LinkState, event: LinkEvent): { state: LinkState; replace: boolean } {
  switch (event) {
    case "handshake":
      return { state: "connected", replace: false };
    case "handshake:error:auth":
      return { state: "refused", replace: false };
    case "handshake:error:protocol":
    case "handshake:error:other":
      return { state: "handshake-failed", replace: false };
    case "connect:retry":
      return { state: "unreachable", replace: false };
    case "disconnect":
      if (state === "connected") return { state: "disconnected", replace: true };
      if (state === "refused" || state === "handshake-failed") return { state, replace: true };
      // Dropped during the greeting without a handshake event: the peer spoke something else.
      return { state: "handshake-failed", replace: true };
  }
}
