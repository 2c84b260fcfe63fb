import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OncePer } from "../../src/util/once-per.js";

describe("OncePer", () => {
  it("lets a key through once per interval", () => {
    const gate = new OncePer(60_000);
    assert.equal(gate.allow("192.0.2.1", 0), true);
    assert.equal(gate.allow("192.0.2.1", 59_999), false);
    assert.equal(gate.allow("192.0.2.2", 59_999), true);
    assert.equal(gate.allow("192.0.2.1", 60_000), true);
  });

  it("stays bounded under many distinct keys", () => {
    const gate = new OncePer(60_000, 100);
    for (let i = 0; i < 1000; i++) assert.equal(gate.allow(`k${i}`, 0), true);
    assert.equal(gate.allow("k999", 1), false);
  });
});
