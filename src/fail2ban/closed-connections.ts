import fs from "node:fs";

/**
 * Finds the peers of connections to the listen port that the node closed, from the kernel's socket
 * table (Linux /proc/net/tcp and tcp6). libzmq refuses NULL and PLAIN clients, garbage and
 * connections that never finish their handshake before the ZAP handler is asked, and its monitor
 * events do not say from where; but when libzmq closes such a connection first, the kernel keeps it
 * in FIN_WAIT or TIME_WAIT (60 s) with the peer's address. Each connection is reported once.
 */

/** TCP states (Linux include/net/tcp_states.h) in which this side closed first. */
const CLOSED_HERE = new Set([0x04, 0x05, 0x06, 0x0b]); // FIN_WAIT1, FIN_WAIT2, TIME_WAIT, CLOSING

export interface TcpEntry {
  readonly localPort: number;
  readonly remote: string;
  readonly remotePort: number;
  readonly state: number;
}

/** Parses the text of /proc/net/tcp (`family` 4) or /proc/net/tcp6 (6); bad lines are skipped. */
export function parseProcNetTcp(text: string, family: 4 | 6): TcpEntry[] {
  const entries: TcpEntry[] = [];
  for (const line of text.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    const local = fields[1]?.split(":");
    const remote = fields[2]?.split(":");
    const state = Number.parseInt(fields[3] ?? "", 16);
    if (local?.length !== 2 || remote?.length !== 2 || Number.isNaN(state)) continue;
    const address = family === 4 ? ipv4FromHex(remote[0]!) : ipv6FromHex(remote[0]!);
    if (address === undefined) continue;
    entries.push({
      localPort: Number.parseInt(local[1]!, 16),
      remote: address,
      remotePort: Number.parseInt(remote[1]!, 16),
      state,
    });
  }
  return entries;
}

/** `0100007F` (a 32-bit word in host order, little-endian here) is 127.0.0.1. */
function ipv4FromHex(hex: string): string | undefined {
  if (!/^[0-9A-Fa-f]{8}$/.test(hex)) return undefined;
  const bytes = Buffer.from(hex, "hex").reverse();
  return [...bytes].join(".");
}

/** Four 32-bit words, each little-endian; an IPv4-mapped address is given as plain IPv4. */
function ipv6FromHex(hex: string): string | undefined {
  if (!/^[0-9A-Fa-f]{32}$/.test(hex)) return undefined;
  const bytes = Buffer.concat(
    [0, 8, 16, 24].map((at) => Buffer.from(hex.slice(at, at + 8), "hex").reverse()),
  );
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff)
    return [...bytes.subarray(12)].join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // Compress the longest run of zero groups, as the text form of addresses does (RFC 5952).
  let best = { at: -1, length: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > best.length && j - i > 1) best = { at: i, length: j - i };
    i = j;
  }
  if (best.at < 0) return groups.join(":");
  return `${groups.slice(0, best.at).join(":")}::${groups.slice(best.at + best.length).join(":")}`;
}

/** Reads the kernel's tables; a missing file (not Linux, no IPv6) is an empty table. */
export function readProcNetTcp(): TcpEntry[] {
  const read = (file: string, family: 4 | 6): TcpEntry[] => {
    try {
      return parseProcNetTcp(fs.readFileSync(file, "utf8"), family);
    } catch {
      return [];
    }
  };
  return [...read("/proc/net/tcp", 4), ...read("/proc/net/tcp6", 6)];
}

/**
 * Remembers which closed connections were already reported; `newlyClosed` returns the ones first
 * seen now. Memory is bounded by the kernel's table: entries that left it are forgotten.
 */
export class ClosedConnections {
  readonly #port: number;
  #seen = new Set<string>();

  constructor(port: number) {
    this.#port = port;
  }

  /** Peer addresses (one per connection) of connections to the port closed here since the last call. */
  newlyClosed(table: readonly TcpEntry[]): string[] {
    const now = new Set<string>();
    const fresh: string[] = [];
    for (const entry of table) {
      if (entry.localPort !== this.#port || !CLOSED_HERE.has(entry.state)) continue;
      const id = `${entry.remote} ${entry.remotePort}`;
      now.add(id);
      if (!this.#seen.has(id)) fresh.push(entry.remote);
    }
    this.#seen = now;
    return fresh;
  }
}
