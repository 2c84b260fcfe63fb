import assert from "node:assert/strict";
import fs from "node:fs";
import { after, describe, it } from "node:test";
import * as zmq from "zeromq";
import { loadNode, writeNetworkFiles } from "../../src/demo/local-network.js";
import {
  AHEAD_BATCH_SIGNATURES,
  BACKLOG_AFTER_MESSAGES,
  LiveBacklog,
  MAX_WAITING_MESSAGES,
} from "../../src/node/live-backlog.js";
import type { Verdicts } from "../../src/node/verify-pool.js";
import { sealEnvelope } from "../../src/protocol/envelope.js";
import { signReport } from "../../src/protocol/report.js";
import { waitFor } from "../helpers/wait.js";

/** A LiveBacklog whose pool answers only when the test says so; records what it takes in. */
function backlogUnderTest() {
  const taken: { name: string; verdicts: Verdicts | undefined }[] = [];
  const batches: { messages: readonly Buffer[][]; answer: () => void }[] = [];
  const names = new Map<readonly Buffer[], string>();
  const backlog = new LiveBacklog({
    verify: (messages) =>
      new Promise<Verdicts>((resolve) => {
        batches.push({ messages, answer: () => resolve(() => true) });
      }),
    take: (frames, verdicts) => taken.push({ name: names.get(frames)!, verdicts }),
    worthChecking: (frames) => !names.get(frames)!.startsWith("sync"),
    senderOf: (frames) => (names.get(frames)!.startsWith("quiet") ? "quiet" : "busy"),
  });
  /** A message of `signatures` signatures: a header and signature frame, then report frame pairs. */
  const message = (name: string, signatures = 2): Buffer[] => {
    const frames = Array.from({ length: signatures * 2 }, () => Buffer.from(name));
    names.set(frames, name);
    return frames;
  };
  /** One sender has kept the socket busy for a while already: its next messages wait and are checked ahead. */
  const backlogged = (): void => {
    for (let i = 0; i < BACKLOG_AFTER_MESSAGES; i++) backlog.offer(message(`burst ${i}`), true);
    taken.splice(0);
  };
  return { backlog, taken, batches, message, backlogged };
}

/** Lets pending promise callbacks and setImmediate callbacks run. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("live backlog: signatures checked ahead while messages wait", () => {
  it("takes a message in at once, unchecked, when nothing waits and nothing more is coming", () => {
    const { backlog, taken, batches, message } = backlogUnderTest();
    assert.equal(backlog.offer(message("alone"), false), undefined);
    assert.deepEqual(taken, [{ name: "alone", verdicts: undefined }]);
    assert.equal(batches.length, 0);
  });

  it("takes a short burst in at once too: a backlog is more than BACKLOG_AFTER_MESSAGES in a row", () => {
    const { backlog, taken, batches, message } = backlogUnderTest();
    const burst = Array.from({ length: BACKLOG_AFTER_MESSAGES }, (_, i) => `copy ${i}`);
    for (const name of burst) backlog.offer(message(name), true);
    assert.deepEqual(
      taken.map((t) => t.name),
      burst,
    );
    backlog.offer(message("next"), true);
    assert.equal(taken.length, BACKLOG_AFTER_MESSAGES);
    assert.equal(batches.length, 0, "a batch not yet full waits for more, or for the end of the turn");
    assert.equal(backlog.waiting, 1);
  });

  it("takes another sender's message in at once while the busy sender's messages wait", async () => {
    const { backlog, taken, batches, message, backlogged } = backlogUnderTest();
    backlogged();
    backlog.offer(message("busy 1"), true);
    backlog.offer(message("quiet 1"), true);
    backlog.offer(message("busy 2"), true);
    assert.deepEqual(
      taken.map((t) => t.name),
      ["quiet 1"],
    );
    backlog.offer(message("busy 3"), false);
    for (const batch of batches) batch.answer();
    await waitFor(() => taken.length === 4, 5000, "the busy sender's messages");
    assert.deepEqual(
      taken.map((t) => t.name),
      ["quiet 1", "busy 1", "busy 2", "busy 3"],
    );
  });

  it("takes waiting messages in strictly in arrival order, each once its batch is checked", async () => {
    const { backlog, taken, batches, message, backlogged } = backlogUnderTest();
    backlogged();
    // 32 envelopes of 2 signatures fill the first batch; the rest go when the burst ends.
    for (let i = 0; i < AHEAD_BATCH_SIGNATURES / 2; i++) backlog.offer(message(`a${i}`), true);
    backlog.offer(message("sync page"), true);
    backlog.offer(message("b0"), true);
    backlog.offer(message("b1"), false);
    assert.equal(batches.length, 2);
    assert.equal(batches[0]!.messages.length, AHEAD_BATCH_SIGNATURES / 2);
    assert.deepEqual(
      batches[1]!.messages.map((m) => m[0]!.toString()),
      ["b0", "b1"],
    );
    assert.equal(taken.length, 0);
    // The second batch answers first: nothing may overtake the first batch's messages.
    batches[1]!.answer();
    await turn();
    assert.equal(taken.length, 0);
    batches[0]!.answer();
    await waitFor(() => taken.length === AHEAD_BATCH_SIGNATURES / 2 + 3, 5000, "every message taken in");
    const expected = [
      ...Array.from({ length: AHEAD_BATCH_SIGNATURES / 2 }, (_, i) => `a${i}`),
      "sync page",
      "b0",
      "b1",
    ];
    assert.deepEqual(
      taken.map((t) => t.name),
      expected,
    );
    // A message not worth checking ahead (a sync page) comes with no verdicts: it is checked as usual.
    assert.equal(taken.find((t) => t.name === "sync page")!.verdicts, undefined);
    assert.equal(
      taken.find((t) => t.name === "b1")!.verdicts?.({ bytes: Buffer.alloc(0), signature: Buffer.alloc(0) }),
      true,
    );
    assert.equal(backlog.waiting, 0);
  });

  it("holds the listener back once MAX_WAITING_MESSAGES wait, and lets it read on as they are taken in", async () => {
    const { backlog, taken, batches, message, backlogged } = backlogUnderTest();
    backlogged();
    let held: Promise<void> | undefined;
    for (let i = 0; i < MAX_WAITING_MESSAGES && held === undefined; i++)
      held = backlog.offer(message(`m${i}`, 1), true);
    assert.ok(held !== undefined, "a promise once the queue is full");
    assert.equal(backlog.waiting, MAX_WAITING_MESSAGES);
    let readOn = false;
    void held.then(() => (readOn = true));
    await turn();
    assert.equal(readOn, false);
    for (const batch of batches) batch.answer();
    await waitFor(() => readOn, 5000, "the listener to be let go");
    await waitFor(() => taken.length === MAX_WAITING_MESSAGES, 5000, "every message taken in");
  });

  it("forgets what waits when the node stops, and lets a held-back listener go", async () => {
    const { backlog, taken, message, backlogged } = backlogUnderTest();
    backlogged();
    let held: Promise<void> | undefined;
    for (let i = 0; held === undefined; i++) held = backlog.offer(message(`m${i}`, 1), true);
    backlog.clear();
    await held;
    assert.equal(backlog.waiting, 0);
    assert.equal(taken.length, 0);
  });
});

describe("live backlog in a real node", { timeout: 60_000 }, async () => {
  const files = await writeNetworkFiles({
    nodes: [{ name: "me" }, { name: "friend" }],
    links: [["me", "friend"]],
  });
  after(() => fs.rmSync(files.dir, { recursive: true, force: true }));
  const context = new zmq.Context();
  const me = loadNode(files.configs.get("me")!, { context });
  const friend = loadNode(files.configs.get("friend")!, { context });
  await me.start();
  after(() => Promise.all([me.stop(), friend.stop()]));

  it("takes a burst of envelopes in order, checked on threads, and refuses each forged signature", async () => {
    const count = 300;
    const now = Date.now();
    const messages: Buffer[][] = [];
    const good: string[] = [];
    const badHop = new Set<number>();
    const badOrigin = new Set<number>();
    const badFrames = new Set<number>();
    for (let i = 0; i < count; i++) {
      const ip = i < 250 ? `198.51.100.${i + 1}` : `203.0.113.${i - 249}`;
      const signed = signReport(
        { ip, time: now, origin: friend.identity.signingPublicKey, jail: "sshd" },
        friend.identity.signer,
      );
      const frames = sealEnvelope(
        {
          from: friend.identity.signingPublicKey,
          to: me.identity.signingPublicKey,
          entries: [{ id: signed.id, trust: 100, path: [friend.identity.signingPublicKey] }],
        },
        [signed],
        friend.identity.signer,
      );
      if (i % 37 === 5) {
        frames[1]![9]! ^= 1; // the friend's signature over the envelope
        badHop.add(i);
      } else if (i % 41 === 7) {
        frames[3]![17]! ^= 1; // the origin's signature over the report
        badOrigin.add(i);
      } else if (i % 43 === 11) {
        frames.push(Buffer.alloc(1)); // an odd frame count: never sent to a thread, refused whole
        badFrames.add(i);
      } else good.push(ip);
      messages.push(frames);
    }
    const accepted: string[] = [];
    me.on("report:accepted", ({ ip }) => accepted.push(ip));
    const { curvePublicKey, curveSecretKey } = friend.identity;
    const push = new zmq.Push({
      context,
      curveServerKey: me.identity.curvePublicKey,
      curvePublicKey,
      curveSecretKey,
      linger: 2000,
    });
    try {
      push.connect(me.config.listen);
      for (const frames of messages) await push.send(frames);
      await waitFor(() => me.stats.messages === count, 30_000, "every message taken in");
    } finally {
      push.close();
    }
    await waitFor(() => accepted.length === good.length, 10_000, "every good report accepted");
    assert.deepEqual(accepted, good);
    assert.equal(me.stats.rejected["bad-hop-signature"], badHop.size);
    assert.equal(me.stats.rejected["bad-origin-signature"], badOrigin.size);
    assert.equal(me.stats.rejected["bad-frame-count"], badFrames.size);
    // Sent faster than they are taken in: most waited, and were checked ahead on the pool's threads.
    assert.ok(me.stats.checkedAhead > count / 2, `${me.stats.checkedAhead} of ${count} checked ahead`);
  });
});
