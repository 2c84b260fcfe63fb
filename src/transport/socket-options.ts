/**
 * ZeroMQ socket options shared by both ends of a friend link; docs/security.md gives the reasons.
 * One definition here, so the listener and the friend link cannot drift apart.
 */

/** ZMTP heartbeats: a PING every 10 s; a connection with no traffic for 30 s is closed. */
export const HEARTBEAT_INTERVAL_MS = 10_000;
export const HEARTBEAT_TIMEOUT_MS = 30_000;
/**
 * TCP keepalive below ZMTP: catches a peer that vanished (power loss, NAT state dropped) while its
 * half-open connection would otherwise hold a file descriptor. First probe after 60 s idle, then
 * every 10 s, given up after 6 unanswered.
 */
export const TCP_KEEPALIVE_IDLE_S = 60;
export const TCP_KEEPALIVE_INTERVAL_S = 10;
export const TCP_KEEPALIVE_COUNT = 6;

/**
 * A connection must complete its CURVE handshake within this time or libzmq closes it (its default
 * is 30 s): an outsider holding idle or half-open connections keeps each one at most this long.
 */
export const HANDSHAKE_INTERVAL_MS = 10_000;
/**
 * Messages libzmq queues per inbound connection before it stops reading from that peer (TCP then
 * pushes back on the sender). A valid message is at most 47 KB (docs/protocol.md section 9), so a
 * friend's queue of valid messages holds at most about 4.7 MB (it was 10,000 messages, 470 MB).
 */
export const RECEIVE_HWM = 100;

/** Options both the listener and every friend link set. */
export const LINK_SOCKET_OPTIONS = {
  heartbeatInterval: HEARTBEAT_INTERVAL_MS,
  heartbeatTimeout: HEARTBEAT_TIMEOUT_MS,
  tcpKeepalive: 1,
  tcpKeepaliveIdle: TCP_KEEPALIVE_IDLE_S,
  tcpKeepaliveInterval: TCP_KEEPALIVE_INTERVAL_S,
  tcpKeepaliveCount: TCP_KEEPALIVE_COUNT,
} as const;
