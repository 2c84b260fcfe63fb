/**
 * Never-ban lists (docs/protocol.md section 18): the test vector of 16.9 as the code produces it,
 * round trips, every check of 18.2 with its code (and whether it counts against the sender), and
 * random bytes that must never throw.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import fc from "fast-check";
import { MAX_NEVER_BAN_LIST_BYTES, NEVER_BAN_LIST_SIGNING_TAG } from "../../src/protocol/constants.js";
import { type IpRange, parseRange } from "../../src/protocol/ip.js";
import {
  decodeNeverBanList,
  encodeNeverBanList,
  type NeverBanList,
  openNeverBanList,
  rangeProblem,
  sealNeverBanList,
} from "../../src/protocol/never-ban-list.js";
import { REJECT_SEVERITY } from "../../src/protocol/rejections.js";
import { signTagged } from "../../src/protocol/signing.js";
import { testKey } from "../helpers/keys.js";

const a = testKey(1);
const b = testKey(2);
const stranger = testKey(9);
const NOW = 1_767_229_200_000;
const WEEK = 7 * 86_400_000;

function vectors(heading: string): string[] {
  const doc = readFileSync(new URL("../../../docs/protocol.md", import.meta.url), "utf8");
  const start = doc.indexOf(heading);
  assert.ok(start >= 0, heading);
  const section = doc.slice(start, doc.indexOf("\n### ", start + heading.length));
  return [...section.matchAll(/```\n([0-9a-f\n]+)```/g)].map((m) => m[1]!.replace(/\n/g, ""));
}

function range(text: string): IpRange {
  const parsed = parseRange(text);
  assert.ok(parsed.ok, text);
  return parsed.range;
}

function list(overrides: Partial<NeverBanList> = {}): NeverBanList {
  return {
    from: a.publicKey,
    to: b.publicKey,
    time: NOW,
    expiresAt: NOW + WEEK,
    ranges: [range("198.51.100.0/24"), range("2001:db8:beef::/48")],
    ...overrides,
  };
}

const party = {
  self: b.publicKey,
  friendBySigningKey: (key: Buffer) => (key.equals(a.publicKey) ? "a" : undefined),
  now: NOW,
};

/** The code openNeverBanList gives, and who it counts against ("-" when nobody). */
function open(frames: Buffer[], now = NOW): string {
  const opened = openNeverBanList(frames, { ...party, now });
  return opened.ok ? "ok" : `${opened.code} ${opened.sender ?? "-"}`;
}

/** Frames of list bytes the test changed, signed again by a. */
function resigned(bytes: Buffer): Buffer[] {
  return [bytes, signTagged(NEVER_BAN_LIST_SIGNING_TAG, bytes, a.signer)];
}

describe("never-ban list (protocol section 18)", () => {
  it("matches the test vector of 16.9: bytes and signature", () => {
    const [bytes, signature] = vectors("### 16.9 Never-ban list");
    const frames = sealNeverBanList(list(), a.signer);
    assert.equal(frames[0]!.toString("hex"), bytes);
    assert.equal(frames[1]!.toString("hex"), signature);
    assert.equal(frames[0]!.length, 120);
  });

  it("decodes what it encodes, ranges as canonical text", () => {
    const decoded = decodeNeverBanList(encodeNeverBanList(list()));
    assert.ok(decoded.ok);
    assert.deepEqual(
      decoded.value.ranges.map((r) => r.text),
      ["198.51.100.0/24", "2001:db8:beef::/48"],
    );
    assert.equal(decoded.value.expiresAt, NOW + WEEK);
    const single = decodeNeverBanList(encodeNeverBanList(list({ ranges: [range("203.0.113.9")] })));
    assert.ok(single.ok);
    assert.equal(single.value.ranges[0]!.text, "203.0.113.9");
    const empty = decodeNeverBanList(encodeNeverBanList(list({ ranges: [] })));
    assert.ok(empty.ok);
    assert.equal(empty.value.ranges.length, 0);
  });

  it("accepts a well-made list from a friend addressed to this node", () => {
    assert.equal(open(sealNeverBanList(list(), a.signer)), "ok");
    assert.equal(open(sealNeverBanList(list({ ranges: [] }), a.signer)), "ok");
  });

  it("refuses each broken field with its code, in the order of 18.2", () => {
    const good = sealNeverBanList(list(), a.signer);
    assert.equal(open([good[0]!]), "bad-frame-count -");
    assert.equal(open([...good, good[1]!]), "bad-frame-count -");
    assert.equal(open([Buffer.alloc(MAX_NEVER_BAN_LIST_BYTES + 1), good[1]!]), "frame-too-large -");
    assert.equal(open([good[0]!, good[1]!.subarray(1)]), "malformed -");
    const version = Buffer.from(good[0]!);
    version[0] = 2;
    assert.equal(open(resigned(version)), "bad-version -");
    const kind = Buffer.from(good[0]!);
    kind[1] = 5;
    assert.equal(open(resigned(kind)), "bad-kind -");
    const reserved = Buffer.from(good[0]!);
    reserved[3] = 1;
    assert.equal(open(resigned(reserved)), "malformed -");
    const count = Buffer.from(good[0]!);
    count[2] = 3;
    assert.equal(open(resigned(count)), "malformed -");
    const tooMany = Buffer.from(encodeNeverBanList(list({ ranges: Array(64).fill(range("203.0.113.1")) })));
    tooMany[2] = 65;
    assert.equal(open(resigned(tooMany)), "field-too-large -");
    assert.equal(
      open(sealNeverBanList(list({ from: stranger.publicKey }), stranger.signer)),
      "unknown-hop -",
    );
    assert.equal(open(sealNeverBanList(list({ to: a.publicKey }), a.signer)), "wrong-recipient -");
    assert.equal(
      open([good[0]!, sealNeverBanList(list({ time: NOW + 1 }), a.signer)[1]!]),
      "bad-hop-signature -",
    );
    // From here on the signature says who sent it: the refusal counts against that friend.
    assert.equal(open(sealNeverBanList(list({ expiresAt: NOW + WEEK + 1 }), a.signer)), "malformed a");
    assert.equal(open(sealNeverBanList(list({ expiresAt: NOW }), a.signer)), "malformed a");
    assert.equal(
      open(sealNeverBanList(list({ ranges: [{ ...range("198.51.100.0/24"), prefix: 23 }] }), a.signer)),
      "range-too-wide a",
    );
    assert.equal(
      open(sealNeverBanList(list({ ranges: [{ ...range("2001:db8::/48"), prefix: 47 }] }), a.signer)),
      "range-too-wide a",
    );
    const hostBits = encodeNeverBanList(list({ ranges: [range("198.51.100.0/24")] }));
    hostBits[84 + 2 + 3] = 1; // 198.51.100.1/24
    assert.equal(open(resigned(hostBits)), "malformed a");
    const padding = encodeNeverBanList(list({ ranges: [range("198.51.100.0/24")] }));
    padding[84 + 17] = 1;
    assert.equal(open(resigned(padding)), "malformed a");
    const family = encodeNeverBanList(list({ ranges: [range("198.51.100.0/24")] }));
    family[84] = 5;
    assert.equal(open(resigned(family)), "malformed a");
    const mapped = encodeNeverBanList(list({ ranges: [range("2001:db8::/48")] }));
    Buffer.from("00000000000000000000ffffc6336400", "hex").copy(mapped, 84 + 2);
    mapped[84 + 1] = 120;
    assert.equal(open(resigned(mapped)), "malformed a");
    assert.equal(open(sealNeverBanList(list(), a.signer), NOW + WEEK), "expired a");
    assert.equal(
      open(sealNeverBanList(list({ time: NOW + 300_001, expiresAt: NOW + WEEK }), a.signer)),
      "from-future a",
    );
    assert.equal(
      open(sealNeverBanList(list({ time: NOW + 300_000, expiresAt: NOW + WEEK }), a.signer)),
      "ok",
    );
  });

  it("gives the new codes a severity: a too-wide range is the friend's fault, an older list is stale", () => {
    assert.equal(REJECT_SEVERITY["range-too-wide"], "friend-fault");
    assert.equal(REJECT_SEVERITY.superseded, "stale");
  });

  it("knows which ranges a list may hold", () => {
    assert.equal(rangeProblem(range("198.51.100.0/24")), undefined);
    assert.equal(rangeProblem(range("2001:db8::/48")), undefined);
    assert.match(rangeProblem(range("198.51.100.0/23"))!, /wider than a never-ban list allows/);
    assert.match(rangeProblem(range("2001:db8::/32"))!, /\/48 at most for IPv6/);
    assert.throws(
      () => encodeNeverBanList(list({ ranges: Array(65).fill(range("203.0.113.1")) })),
      /at most 64/,
    );
  });

  it("never throws on random frames, and accepts nothing unsigned (10,000 cases)", () => {
    const good = sealNeverBanList(list(), a.signer)[0]!;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 1400 }),
          // Mutations of a valid list: one byte changed, the signature left as it was.
          fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 })).map(([at, x]) => {
            const copy = Uint8Array.from(good);
            copy[at] = copy[at]! ^ x;
            return copy;
          }),
        ),
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
        (bytes, signature) => {
          const opened = openNeverBanList([Buffer.from(bytes), Buffer.from(signature)], party);
          assert.equal(opened.ok, false);
          decodeNeverBanList(Buffer.from(bytes));
        },
      ),
      { numRuns: 10_000 },
    );
  });
});
