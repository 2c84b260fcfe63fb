import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { IMPORT_BATCH, MAX_CONTROL_LINE } from "../../src/node/control-protocol.js";
import { parseRequest } from "../../src/node/control-server.js";
import { importKey, importName, importSourceOf } from "../../src/node/import-source.js";
import { MAX_JAIL_BYTES } from "../../src/protocol/constants.js";
import { signReport } from "../../src/protocol/report.js";
import { testKey } from "../helpers/keys.js";

const A = testKey(1);

describe("import over the control socket", () => {
  it("a full batch of the largest reports fits in one control line", () => {
    // The longest canonical IP text (39 characters) and the longest jail label.
    const signed = signReport(
      {
        ip: "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
        time: 1_767_225_600_000,
        origin: A.publicKey,
        jail: "j".repeat(MAX_JAIL_BYTES),
      },
      A.signer,
    );
    const one = Buffer.concat([signed.bytes, signed.signature]).toString("base64");
    const line = JSON.stringify({
      op: "import",
      trust: 100,
      relay: false,
      reports: Array(IMPORT_BATCH).fill(one),
    });
    assert.ok(line.length < MAX_CONTROL_LINE, `${line.length} characters`);
    assert.deepEqual(parseRequest(line), {
      op: "import",
      trust: 100,
      relay: false,
      reports: Array(IMPORT_BATCH).fill(one),
    });
  });

  it("refuses bad trust, relay and report lists", () => {
    const bad = (fields: Record<string, unknown>) =>
      parseRequest(JSON.stringify({ op: "import", trust: 50, relay: false, reports: [], ...fields }));
    for (const trust of [-1, 101, 2.5, "50", null])
      assert.match(JSON.stringify(bad({ trust })), /trust must be an integer from 0 to 100/);
    assert.match(JSON.stringify(bad({ relay: "yes" })), /relay must be true or false/);
    assert.match(JSON.stringify(bad({ reports: [1] })), /reports must be a list/);
    assert.match(JSON.stringify(bad({ reports: Array(IMPORT_BATCH + 1).fill("") })), /at most 12/);
  });

  it("the import pseudo-friend's key carries its trust and relay flag, and is no other key", () => {
    for (const source of [
      { trust: 0, relay: false },
      { trust: 80, relay: true },
      { trust: 100, relay: false },
    ]) {
      const key = importKey(source);
      assert.equal(key.length, 32);
      assert.deepEqual(importSourceOf(key), source);
      assert.deepEqual(importSourceOf(key.toString("hex")), source);
    }
    assert.equal(importName({ trust: 40, relay: true }), "import (trust 40, relayed)");
    assert.equal(importSourceOf(A.publicKey), undefined);
    assert.equal(importSourceOf("self"), undefined);
    assert.throws(() => importKey({ trust: 101, relay: false }), RangeError);
  });
});
