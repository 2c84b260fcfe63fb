import assert from "node:assert/strict";
import { describe, it } from "node:test";
import nacl from "tweetnacl";
import {
  decodeExport,
  EXPORT_MAGIC,
  ExportFormatError,
  encodeExport,
  RECORD_REVOCATION,
} from "../../src/export/format.js";
import { verifyExport } from "../../src/export/verify.js";
import { REPORT_SIGNING_TAG } from "../../src/protocol/constants.js";
import { signReport } from "../../src/protocol/report.js";
import { testKey } from "../helpers/keys.js";

const A = testKey(1);
const B = testKey(2);
const T = 1_767_225_600_000;

/** The docs/export.md test vector: node A's report of 203.0.113.7 (docs/protocol.md 15.2), alone. */
const VECTOR_HEX =
  "463242503250455801" +
  "01007b" +
  "01010b040000019b76daa8008a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c" +
  "3230332e302e3131332e3773736864" +
  "694eac44fa6b514c46cfdef1afc3fcabcc585a5ff1a0d95ef9b1e41ac5a6a885" +
  "462d259eaa53d70e72eae28e0d7365a1b985b022aac508ffa81c1e518df06d0e" +
  "00000400000001";

function sample(): Buffer {
  return encodeExport([
    signReport({ ip: "203.0.113.7", time: T, origin: A.publicKey, jail: "sshd" }, A.signer),
    signReport({ ip: "2001:db8::5", time: T + 1, origin: B.publicKey, jail: "" }, B.signer),
  ]);
}

describe("export file format", () => {
  it("matches the test vector in docs/export.md", () => {
    const file = encodeExport([
      signReport({ ip: "203.0.113.7", time: T, origin: A.publicKey, jail: "sshd" }, A.signer),
    ]);
    assert.equal(file.toString("hex"), VECTOR_HEX);
  });

  it("verifies with libsodium's primitive alone (tweetnacl's detached verify) as documented", () => {
    const file = Buffer.from(VECTOR_HEX, "hex");
    const record = file.subarray(9 + 3, 9 + 3 + 0x7b);
    const report = record.subarray(0, record.length - 64);
    const signature = record.subarray(record.length - 64);
    const origin = report.subarray(12, 44);
    assert.ok(nacl.sign.detached.verify(Buffer.concat([REPORT_SIGNING_TAG, report]), signature, origin));
  });

  it("round-trips reports with their exact bytes", () => {
    const reports = verifyExport(sample());
    assert.deepEqual(
      reports.map((r) => [r.report.ip, r.report.jail, r.report.time]),
      [
        ["203.0.113.7", "sshd", T],
        ["2001:db8::5", "", T + 1],
      ],
    );
  });

  it("an empty export is a header and an end record", () => {
    assert.deepEqual(verifyExport(encodeExport([])), []);
  });

  it("refuses the file when any single byte is flipped", () => {
    const good = sample();
    for (let i = 0; i < good.length; i++) {
      const bad = Buffer.from(good);
      bad[i] = bad[i]! ^ 0x01;
      assert.throws(() => verifyExport(bad), ExportFormatError, `byte ${i} flipped was accepted`);
    }
  });

  it("refuses a cut-off file, trailing bytes and unknown or revocation records", () => {
    const good = sample();
    for (const cut of [0, 5, 9, 20, good.length - 1])
      assert.throws(() => decodeExport(good.subarray(0, cut)), ExportFormatError);
    assert.throws(() => decodeExport(Buffer.concat([good, Buffer.from([0])])), /after the end record/);
    const revocation = Buffer.concat([EXPORT_MAGIC, Buffer.from([1, RECORD_REVOCATION, 0, 0])]);
    assert.throws(() => decodeExport(revocation), /revocation record/);
    const unknown = Buffer.concat([EXPORT_MAGIC, Buffer.from([1, 0x7f, 0, 0])]);
    assert.throws(() => decodeExport(unknown), /unknown record kind 0x7f/);
    assert.throws(() => decodeExport(Buffer.from("hello world")), /not an f2bp2p export file/);
  });

  it("names the record whose signature fails", () => {
    const bad = sample();
    bad[bad.length - 8] = bad[bad.length - 8]! ^ 0x80; // inside the second record's signature
    assert.throws(
      () => verifyExport(bad),
      /record 2 \(2001:db8::5\): the origin's signature does not verify/,
    );
  });
});
