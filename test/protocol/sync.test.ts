/**
 * Sync request and sync page (docs/protocol.md section 13): the test vectors of 16.6 and 16.7 as the
 * code produces them, and every check of 13.3 and 13.4 with the code it gives.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import fc from "fast-check";
import { MAX_FRAME_BYTES, SYNC_PAGE_HEADER_BYTES } from "../../src/protocol/constants.js";
import type { Entry } from "../../src/protocol/envelope.js";
import { signReport } from "../../src/protocol/report.js";
import {
  decodeSyncPage,
  decodeSyncRequest,
  openSyncPage,
  openSyncRequest,
  type SyncPage,
  type SyncRequest,
  sealSyncPage,
  sealSyncRequest,
} from "../../src/protocol/sync.js";
import { testKey } from "../helpers/keys.js";

const a = testKey(1);
const b = testKey(2);
const c = testKey(3);
const requestId = Buffer.from("0102030405060708", "hex");

/** The hex blocks of one section of docs/protocol.md, each joined into one string. */
function vectors(heading: string): string[] {
  const doc = readFileSync(new URL("../../../docs/protocol.md", import.meta.url), "utf8");
  const start = doc.indexOf(heading);
  const section = doc.slice(start, doc.indexOf("\n### ", start + heading.length));
  return [...section.matchAll(/```\n([0-9a-f\n]+)```/g)].map((m) => m[1]!.replace(/\n/g, ""));
}

const report = signReport(
  { ip: "203.0.113.7", time: 1767225600000, origin: a.publicKey, jail: "sshd" },
  a.signer,
);

const request: SyncRequest = {
  from: b.publicKey,
  to: a.publicKey,
  limit: 1024,
  logId: Buffer.alloc(16),
  after: 0,
  requestId,
};

const page: SyncPage = {
  from: a.publicKey,
  to: b.publicKey,
  requestId,
  logId: Buffer.alloc(16, 0x11),
  after: 0,
  upto: 1,
  last: true,
  more: false,
  entries: [{ id: report.id, trust: 100, path: [a.publicKey] }],
};
const carried = [{ bytes: report.bytes, signature: report.signature }];

const friends = new Map([
  [a.publicKey.toString("hex"), "a"],
  [b.publicKey.toString("hex"), "b"],
]);
const friendBySigningKey = (key: Buffer): string | undefined => friends.get(key.toString("hex"));

describe("docs/protocol.md 16.6 and 16.7: sync test vectors", () => {
  it("B's sync request to A: bytes and signature", () => {
    const [bytes, signature] = vectors("### 16.6");
    const frames = sealSyncRequest(request, b.signer);
    assert.equal(frames[0]!.toString("hex"), bytes);
    assert.equal(frames[1]!.toString("hex"), signature);
    const opened = openSyncRequest(frames, { self: a.publicKey, friendBySigningKey });
    assert.ok(opened.ok);
    assert.equal(opened.value.friend, "b");
    assert.equal(opened.value.request.limit, 1024);
  });

  it("A's sync page to B: bytes, signature, and it opens at B with the report of 16.2", () => {
    const [bytes, signature] = vectors("### 16.7");
    const frames = sealSyncPage(page, carried, a.signer);
    assert.equal(frames[0]!.toString("hex"), bytes);
    assert.equal(frames[1]!.toString("hex"), signature);
    assert.equal(frames.length, 4);
    const opened = openSyncPage(frames, { self: b.publicKey, friendBySigningKey, solicited: () => true });
    assert.ok(opened.ok);
    assert.equal(opened.value.hop, "a");
    assert.deepEqual(opened.value.reports[0]!.bytes, report.bytes);
    assert.equal(opened.value.page.upto, 1);
    assert.equal(opened.value.page.last, true);
  });
});

describe("sync request checks (section 13.3)", () => {
  const frames = (): Buffer[] => sealSyncRequest(request, b.signer);
  const open = (f: Buffer[], self = a.publicKey) => openSyncRequest(f, { self, friendBySigningKey });
  const code = (f: Buffer[], self?: Buffer): string => {
    const r = open(f, self);
    return r.ok ? "ok" : r.code;
  };

  it("refuses each fault with its code", () => {
    assert.equal(code([frames()[0]!]), "bad-frame-count");
    assert.equal(code([...frames(), Buffer.alloc(1)]), "bad-frame-count");
    assert.equal(code([Buffer.alloc(MAX_FRAME_BYTES + 1), frames()[1]!]), "frame-too-large");
    assert.equal(code([frames()[0]!, Buffer.alloc(63)]), "malformed");
    const edit = (at: number, value: number): Buffer[] => {
      const f = frames();
      f[0]![at] = value;
      return f;
    };
    assert.equal(code(edit(0, 2)), "bad-version");
    assert.equal(code(edit(1, 2)), "bad-kind");
    assert.equal(code([Buffer.concat([frames()[0]!, Buffer.alloc(1)]), frames()[1]!]), "malformed");
    const zeroLimit = frames();
    zeroLimit[0]!.writeUInt16BE(0, 2);
    assert.equal(code(zeroLimit), "malformed");
    const bigLimit = frames();
    bigLimit[0]!.writeUInt16BE(1025, 2);
    assert.equal(code(bigLimit), "malformed");
    const hugeAfter = frames();
    hugeAfter[0]!.writeBigUInt64BE(2n ** 53n, 84);
    assert.equal(code(hugeAfter), "malformed");
    assert.equal(code(sealSyncRequest({ ...request, from: c.publicKey }, c.signer)), "unknown-hop");
    assert.equal(code(frames(), c.publicKey), "wrong-recipient");
    assert.equal(code(edit(95, 0xff)), "bad-hop-signature");
    assert.equal(code(frames()), "ok");
  });

  it("a signature over the same bytes as another kind never verifies (domain tags)", () => {
    const f = frames();
    const asPage = sealSyncPage(page, carried, b.signer);
    assert.equal(code([f[0]!, asPage[1]!]), "bad-hop-signature");
  });

  it("encodes and decodes any valid request unchanged", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1024 }),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ minLength: 8, maxLength: 8 }),
        (limit, after, logId, id) => {
          const r = { ...request, limit, after, logId: Buffer.from(logId), requestId: Buffer.from(id) };
          const decoded = decodeSyncRequest(sealSyncRequest(r, b.signer)[0]!);
          assert.ok(decoded.ok);
          assert.equal(decoded.value.limit, limit);
          assert.equal(decoded.value.after, after);
          assert.deepEqual(Buffer.from(decoded.value.logId), Buffer.from(logId));
          assert.deepEqual(Buffer.from(decoded.value.requestId), Buffer.from(id));
        },
      ),
    );
  });
});

describe("sync page checks (section 13.4)", () => {
  const open = (f: Buffer[], solicited = true, self = b.publicKey) =>
    openSyncPage(f, { self, friendBySigningKey, solicited: () => solicited });
  const code = (f: Buffer[], solicited = true, self?: Buffer): string => {
    const r = open(f, solicited, self);
    return r.ok ? "ok" : r.code;
  };
  const frames = (p: Partial<SyncPage> = {}): Buffer[] => sealSyncPage({ ...page, ...p }, carried, a.signer);

  it("refuses each fault with its code", () => {
    assert.equal(code(frames().slice(0, 3)), "bad-frame-count");
    assert.equal(code([...frames(), Buffer.alloc(1), Buffer.alloc(1)]), "bad-frame-count");
    const withFlags = (flags: number): Buffer[] => {
      const f = frames();
      f[0]![3] = flags;
      return f;
    };
    assert.equal(code(withFlags(0x04)), "malformed");
    assert.equal(code(withFlags(0x02)), "malformed", "more without last");
    const backwards = frames();
    backwards[0]!.writeBigUInt64BE(5n, 92);
    assert.equal(code(backwards), "malformed", "after > upto");
    assert.equal(code([frames()[0]!.subarray(0, SYNC_PAGE_HEADER_BYTES - 1), frames()[1]!]), "malformed");
    assert.equal(code(sealSyncPage({ ...page, from: c.publicKey }, carried, c.signer)), "unknown-hop");
    assert.equal(code(frames(), true, c.publicKey), "wrong-recipient");
    const forged = frames();
    forged[1]![0]! ^= 1;
    assert.equal(code(forged), "bad-hop-signature");
    // Whether we asked for it is decided before the signature is looked at.
    assert.equal(code(forged, false), "unsolicited");
    assert.equal(code(frames()), "ok");
  });

  it("an empty last page (nothing to send) is two frames and opens", () => {
    const f = sealSyncPage({ ...page, entries: [], upto: 7 }, [], a.signer);
    assert.equal(f.length, 2);
    const r = open(f);
    assert.ok(r.ok);
    assert.equal(r.value.page.upto, 7);
  });

  it("64 entries with long paths fit a frame only when the sender keeps to MAX_FRAME_BYTES", () => {
    const longPath = Array.from({ length: 16 }, (_, i) => testKey(10 + i).publicKey);
    const entry: Entry = { id: report.id, trust: 1, path: longPath };
    const full = sealSyncPage(
      { ...page, entries: Array(64).fill(entry) },
      Array(64).fill(carried[0]),
      a.signer,
    );
    assert.ok(full[0]!.length > MAX_FRAME_BYTES);
    assert.deepEqual(decodeSyncPage(full[0]!), { ok: false, code: "frame-too-large" });
  });
});
