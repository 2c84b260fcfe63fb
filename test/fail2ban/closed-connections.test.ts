import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ClosedConnections, parseProcNetTcp } from "../../src/fail2ban/closed-connections.js";

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1E1F 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1E1F 0200007F:D431 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
   2: 0100007F:1E1F 0300007F:D432 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 0 10 -1
   3: 0100007F:9C40 0200007F:1E1F 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
   garbage line
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1E1F 00000000000000000000000001000000:D433 04 00000000:00000000 00:00000000 00000000     0        0 0 1 0000000000000000
   1: 0000000000000000FFFF00000100007F:1E1F 0000000000000000FFFF00000500007F:D434 06 00000000:00000000 00:00000000 00000000     0        0 0 1 0000000000000000
   2: 00000000000000000000000001000000:1E1F B80D0120000000000000000005000000:D435 06 00000000:00000000 00:00000000 00000000     0        0 0 1 0000000000000000
`;

describe("connections the node closed, from the kernel's table", () => {
  it("parses /proc/net/tcp and tcp6: addresses, ports and states", () => {
    assert.deepEqual(parseProcNetTcp(TCP, 4).slice(1, 3), [
      { localPort: 7711, remote: "127.0.0.2", remotePort: 54321, state: 6 },
      { localPort: 7711, remote: "127.0.0.3", remotePort: 54322, state: 1 },
    ]);
    assert.equal(parseProcNetTcp(TCP, 4).length, 4);
    assert.deepEqual(
      parseProcNetTcp(TCP6, 6).map((e) => e.remote),
      ["::1", "127.0.0.5", "2001:db8::5"],
    );
  });

  it("reports each connection to the port closed here once, and forgets those the kernel forgot", () => {
    const closed = new ClosedConnections(7711);
    const table = [...parseProcNetTcp(TCP, 4), ...parseProcNetTcp(TCP6, 6)];
    // Not the listening socket, not the established one, not another port's: the closed ones.
    assert.deepEqual(closed.newlyClosed(table), ["127.0.0.2", "::1", "127.0.0.5", "2001:db8::5"]);
    assert.deepEqual(closed.newlyClosed(table), []);
    assert.deepEqual(closed.newlyClosed([]), []);
    assert.deepEqual(closed.newlyClosed(table.slice(1, 2)), ["127.0.0.2"]);
  });
});
