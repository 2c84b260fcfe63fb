import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { checkEntry, type EntryContext } from "../../src/protocol/check-entry.js";
import { MAX_ENTRIES, MAX_FRAME_BYTES, REPORT_SIGNING_TAG } from "../../src/protocol/constants.js";
import { type Entry, openMessage, sealEnvelope } from "../../src/protocol/envelope.js";
import type { RejectCode } from "../../src/protocol/rejections.js";
import { encodeReport, type OriginReport, type SignedReport, signReport } from "../../src/protocol/report.js";
import { sha256, signTagged } from "../../src/protocol/signing.js";
import { testKey } from "../helpers/keys.js";

const origin = testKey(1);
const hop = testKey(2);
const me = testKey(3);
const stranger = testKey(4);
const NOW = 1_767_225_600_000;
const DAY = 86_400_000;

const friends = new Map([[hop.publicKey.toString("hex"), { name: "hop" }]]);
const recipient = { self: me.publicKey, friendBySigningKey: (k: Buffer) => friends.get(k.toString("hex")) };

function report(overrides: Partial<OriginReport> = {}): OriginReport {
  return { ip: "203.0.113.7", time: NOW - 1000, origin: origin.publicKey, jail: "sshd", ...overrides };
}

function entryFor(signed: SignedReport, overrides: Partial<Entry> = {}): Entry {
  return { id: signed.id, trust: 100, path: [origin.publicKey, hop.publicKey], ...overrides };
}

function message(
  signed: SignedReport,
  entry: Entry = entryFor(signed),
  from = hop,
  to = me.publicKey,
): Buffer[] {
  return sealEnvelope({ from: from.publicKey, to, entries: [entry] }, [signed], from.signer);
}

const ctx: EntryContext = {
  self: me.publicKey,
  hop: hop.publicKey,
  now: NOW,
  lifetimeMs: DAY,
  maxHops: 6,
  known: () => undefined,
};

/** Runs the whole receive path (message, then entry) and returns the reject code or "ok". */
function receive(frames: Buffer[], context: EntryContext = ctx): RejectCode | "ok" {
  const opened = openMessage(frames, recipient);
  if (!opened.ok) return opened.code;
  const { envelope, reports } = opened.value;
  const checked = checkEntry(envelope.entries[0]!, reports[0]!, context);
  return checked.ok ? "ok" : checked.code;
}

/** A report signed over arbitrary bytes, as a hostile origin could produce. */
function signedBytes(bytes: Buffer, key = origin): SignedReport {
  return {
    report: report(),
    bytes,
    signature: signTagged(REPORT_SIGNING_TAG, bytes, key.signer),
    id: sha256(bytes),
  };
}

describe("protocol: a well-formed message", () => {
  it("is accepted, IPv4 and IPv6, with and without a jail", () => {
    for (const r of [report(), report({ ip: "2001:db8::7" }), report({ jail: "" })]) {
      assert.equal(receive(message(signReport(r, origin.signer))), "ok");
    }
  });

  it("carries up to 64 reports in one envelope, each checked on its own", () => {
    const signed = Array.from({ length: MAX_ENTRIES }, (_, i) =>
      signReport(report({ ip: `198.51.100.${i}` }), origin.signer),
    );
    const frames = sealEnvelope(
      { from: hop.publicKey, to: me.publicKey, entries: signed.map((s) => entryFor(s)) },
      signed,
      hop.signer,
    );
    const opened = openMessage(frames, recipient);
    assert.ok(opened.ok);
    assert.equal(opened.value.envelope.entries.length, MAX_ENTRIES);
    for (const [i, e] of opened.value.envelope.entries.entries()) {
      assert.ok(checkEntry(e, opened.value.reports[i]!, ctx).ok);
    }
  });
});

describe("protocol: every rejection has its code", () => {
  const good = signReport(report(), origin.signer);

  it("forged origin: signed by someone else in the origin's name", () => {
    const forged = signedBytes(encodeReport(report()), stranger);
    assert.equal(receive(message(forged)), "bad-origin-signature");
  });

  it("report bytes changed after signing (id recomputed): bad origin signature", () => {
    const tampered = Buffer.from(good.bytes);
    tampered[tampered.length - 1] = "x".charCodeAt(0); // jail sshd -> sshx
    const forged = { ...good, bytes: tampered, id: sha256(tampered) };
    assert.equal(receive(message(forged)), "bad-origin-signature");
  });

  it("report bytes changed but the id kept: id mismatch", () => {
    const tampered = Buffer.from(good.bytes);
    tampered[4] = 0x7f;
    assert.equal(receive(message({ ...good, bytes: tampered })), "id-mismatch");
  });

  it("tampered hop wrapper: trust raised after the hop signed", () => {
    const frames = message(good, entryFor(good, { trust: 40 }));
    const envelope = Buffer.from(frames[0]!);
    envelope[68 + 32] = 100; // first entry's trust byte
    frames[0] = envelope;
    assert.equal(receive(frames), "bad-hop-signature");
  });

  it("unknown hop: an envelope signed by a node that is not our friend", () => {
    const frames = message(good, entryFor(good, { path: [origin.publicKey, stranger.publicKey] }), stranger);
    assert.equal(receive(frames), "unknown-hop");
  });

  it("a hop claiming to be a friend without its key", () => {
    const frames = message(good);
    frames[1] = signTagged(Buffer.from("f2bp2p/v1/envelope\0"), frames[0]!, stranger.signer);
    assert.equal(receive(frames), "bad-hop-signature");
  });

  it("an envelope addressed to another node (replayed by a friend)", () => {
    assert.equal(receive(message(good, entryFor(good), hop, stranger.publicKey)), "wrong-recipient");
  });

  it("wrong version, in the envelope and in the report", () => {
    const frames = message(good);
    const envelope = Buffer.from(frames[0]!);
    envelope[0] = 2;
    assert.equal(receive([envelope, ...frames.slice(1)]), "bad-version");

    const bytes = Buffer.from(good.bytes);
    bytes[0] = 2;
    assert.equal(receive(message(signedBytes(bytes))), "bad-version");
  });

  it("wrong kind: a report where an envelope belongs", () => {
    const frames = message(good);
    assert.equal(receive([good.bytes, ...frames.slice(1)]), "bad-kind");
  });

  it("oversized frames and fields", () => {
    const frames = message(good);
    assert.equal(receive([Buffer.alloc(MAX_FRAME_BYTES + 1), ...frames.slice(1)]), "frame-too-large");
    assert.equal(receive([...frames.slice(0, 2), Buffer.alloc(200), frames[3]!]), "frame-too-large");
    const longJail = signedBytes(encodeReport(report({ jail: "j".repeat(33) })));
    assert.equal(receive(message(longJail)), "field-too-large");
    const trailing = signedBytes(Buffer.concat([good.bytes, Buffer.from([0])]));
    assert.equal(receive(message(trailing)), "malformed");
  });

  it("frame count that does not match the envelope", () => {
    const frames = message(good);
    assert.equal(receive(frames.slice(0, 3)), "bad-frame-count");
    assert.equal(receive([...frames, good.bytes, good.signature]), "bad-frame-count");
    assert.equal(receive([frames[0]!]), "bad-frame-count");
    assert.equal(receive(Array.from({ length: 200 }, () => Buffer.alloc(1))), "bad-frame-count");
  });

  it("invalid IPs: hostnames, leading zeros, non-canonical IPv6, CIDRs", () => {
    for (const ip of [
      "example.com",
      "203.0.113.007",
      "2001:DB8::7",
      "2001:db8:0::7",
      "203.0.113.0/24",
      "::ffff:203.0.113.7",
      "",
    ]) {
      assert.equal(receive(message(signedBytes(encodeReport(report({ ip }))))), "invalid-ip", ip);
    }
  });

  it("invalid jail names", () => {
    assert.equal(receive(message(signedBytes(encodeReport(report({ jail: "ssh d" }))))), "invalid-jail");
  });

  it("trust above 100", () => {
    assert.equal(receive(message(good, entryFor(good, { trust: 101 }))), "bad-trust");
  });

  it("paths: not ending with the hop, not starting with the origin, repeating a node", () => {
    assert.equal(receive(message(good, entryFor(good, { path: [origin.publicKey] }))), "bad-path");
    assert.equal(
      receive(message(good, entryFor(good, { path: [stranger.publicKey, hop.publicKey] }))),
      "bad-path",
    );
    const repeat = [origin.publicKey, stranger.publicKey, origin.publicKey, hop.publicKey];
    assert.equal(receive(message(good, entryFor(good, { path: repeat }))), "bad-path");
  });

  it("a path that already holds us is a loop; our own report coming back is refused", () => {
    assert.equal(
      receive(message(good, entryFor(good, { path: [origin.publicKey, me.publicKey, hop.publicKey] }))),
      "loop",
    );
    const mine = signReport(report({ origin: me.publicKey }), me.signer);
    assert.equal(
      receive(message(mine, entryFor(mine, { path: [me.publicKey, hop.publicKey] }))),
      "own-report",
    );
  });

  it("a path longer than our max hops", () => {
    const path = [origin.publicKey, testKey(10).publicKey, testKey(11).publicKey, hop.publicKey];
    assert.equal(receive(message(good, entryFor(good, { path })), { ...ctx, maxHops: 3 }), "path-too-long");
  });

  it("expired and from the future", () => {
    assert.equal(receive(message(signReport(report({ time: NOW - DAY }), origin.signer))), "expired");
    assert.equal(
      receive(message(signReport(report({ time: NOW + 6 * 60_000 }), origin.signer))),
      "from-future",
    );
    assert.equal(receive(message(signReport(report({ time: NOW + 60_000 }), origin.signer))), "ok");
  });
});

describe("protocol: hostile input never throws", () => {
  it("random frames are refused with a code", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), (raw) => {
        const result = receive(raw.map((r) => Buffer.from(r)));
        assert.notEqual(result, "ok");
      }),
      { numRuns: 2000 },
    );
  });

  it("single-byte corruption anywhere in a valid message is always caught", () => {
    const frames = message(signReport(report(), origin.signer));
    const sizes = frames.map((f) => f.length);
    fc.assert(
      fc.property(
        fc
          .integer({ min: 0, max: frames.length - 1 })
          .chain((f) =>
            fc.tuple(
              fc.constant(f),
              fc.integer({ min: 0, max: sizes[f]! - 1 }),
              fc.integer({ min: 1, max: 255 }),
            ),
          ),
        ([f, at, xor]) => {
          const copy = frames.map((b) => Buffer.from(b));
          copy[f]![at]! ^= xor;
          assert.notEqual(receive(copy), "ok");
        },
      ),
      { numRuns: 1000 },
    );
  });
});
