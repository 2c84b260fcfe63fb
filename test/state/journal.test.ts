import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { signReport } from "../../src/protocol/report.js";
import { decodeRecords, encodeRecord, Journal } from "../../src/state/journal.js";
import { VIA_SELF } from "../../src/trust/rules.js";
import { testKey } from "../helpers/keys.js";

const origin = testKey(1);
const friend = testKey(2);
const signed = signReport(
  { ip: "2001:db8::9", time: 1_767_225_600_000, origin: origin.publicKey, jail: "sshd" },
  origin.signer,
);
const relayed = {
  signed,
  trust: 64,
  via: friend.publicKey.toString("hex"),
  path: [origin.publicKey, friend.publicKey],
};
const own = { signed, trust: 100, via: VIA_SELF, path: [] };

describe("Journal", () => {
  it("round-trips relayed and own arrivals exactly", () => {
    const back = [...decodeRecords(Buffer.concat([encodeRecord(relayed), encodeRecord(own)]))];
    assert.equal(back.length, 2);
    assert.equal(back[0]!.trust, 64);
    assert.equal(back[0]!.via, relayed.via);
    assert.deepEqual(back[0]!.path, relayed.path);
    assert.deepEqual(back[0]!.signed.bytes, signed.bytes);
    assert.deepEqual(back[0]!.signed.id, signed.id);
    assert.deepEqual(back[0]!.signed.report, signed.report);
    assert.equal(back[1]!.via, VIA_SELF);
  });

  it("keeps everything before a record cut short by a crash", () => {
    const whole = Buffer.concat([encodeRecord(relayed), encodeRecord(own)]);
    for (let cut = 1; cut < encodeRecord(own).length; cut++) {
      assert.equal([...decodeRecords(whole.subarray(0, whole.length - cut))].length, 1);
    }
  });

  it("stops at a corrupt record instead of throwing", () => {
    const bad = encodeRecord(relayed);
    bad[2] = 9; // unknown format
    assert.equal([...decodeRecords(Buffer.concat([bad, encodeRecord(own)]))].length, 0);
  });

  it("compacts to the live set on open, mode 0600, then appends", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "f2bp2p-journal-"));
    const journal = new Journal(path.join(dir, "state"));
    assert.deepEqual([...journal.read()], []);
    journal.open([relayed]);
    journal.append(own);
    assert.equal([...journal.read()].length, 1, "appended records wait for flush");
    journal.flush();
    assert.equal([...journal.read()].length, 2);
    journal.close();
    assert.equal(fs.statSync(journal.file).mode & 0o777, 0o600);
    assert.equal([...journal.read()].length, 2);
    assert.equal(journal.appendedSinceRewrite, 1);
    journal.open([own]); // a running node compacts the same way
    assert.equal(journal.appendedSinceRewrite, 0);
    journal.close();
    assert.equal([...journal.read()].length, 1);
  });
});
