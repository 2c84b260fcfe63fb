import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  EARLY_REDIAL_MIN_INTERVAL_MS,
  nextLinkState,
  RELINK_MAX_DELAY_MS,
  redialsEarly,
  relinkDelay,
} from "../../src/transport/link-state.js";

describe("link state rules", () => {
  it("dials early a friend heard from only while libzmq waits out a backoff, at most once a second", () => {
    assert.equal(redialsEarly(true, undefined, 10_000), true);
    assert.equal(redialsEarly(false, undefined, 10_000), false, "an attempt under way, or connected");
    assert.equal(redialsEarly(true, 10_000, 10_000 + EARLY_REDIAL_MIN_INTERVAL_MS - 1), false);
    assert.equal(redialsEarly(true, 10_000, 10_000 + EARLY_REDIAL_MIN_INTERVAL_MS), true);
  });

  it("keeps the reason of a failed handshake through the disconnect that follows, and replaces the socket", () => {
    const refused = nextLinkState("connecting", "handshake:error:auth");
    assert.deepEqual(refused, { state: "refused", replace: false });
    assert.deepEqual(nextLinkState(refused.state, "disconnect"), { state: "refused", replace: true });
    assert.deepEqual(nextLinkState("connecting", "handshake:error:protocol"), {
      state: "handshake-failed",
      replace: false,
    });
  });

  it("calls a drop during the greeting a failed handshake (garbage gives no handshake event)", () => {
    assert.deepEqual(nextLinkState("connecting", "disconnect"), { state: "handshake-failed", replace: true });
    assert.deepEqual(nextLinkState("unreachable", "disconnect"), {
      state: "handshake-failed",
      replace: true,
    });
  });

  it("a drop of a live connection is 'disconnected'; a refused TCP connect is 'unreachable'", () => {
    assert.deepEqual(nextLinkState("connected", "disconnect"), { state: "disconnected", replace: true });
    assert.deepEqual(nextLinkState("disconnected", "connect:retry"), {
      state: "unreachable",
      replace: false,
    });
    assert.deepEqual(nextLinkState("refused", "handshake"), { state: "connected", replace: false });
  });

  it("backs off from the first delay, doubling, up to the maximum", () => {
    assert.deepEqual(
      [0, 1, 2, 3].map((n) => relinkDelay(n, 100, 1000)),
      [100, 200, 400, 800],
    );
    assert.equal(relinkDelay(4, 100, 1000), 1000);
    assert.equal(relinkDelay(10_000), RELINK_MAX_DELAY_MS);
  });
});
