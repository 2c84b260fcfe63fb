import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { REJECT_SEVERITY } from "../../src/protocol/rejections.js";
import { REPO_ROOT } from "../helpers/fail2ban.js";

describe("reject codes and their severity", () => {
  const spec = fs.readFileSync(path.join(REPO_ROOT, "docs", "protocol.md"), "utf8");
  const section = spec.slice(spec.indexOf("## 11. Reject codes"), spec.indexOf("## 12."));

  it("docs/protocol.md section 11 lists exactly the codes the node uses", () => {
    const documented = [...section.matchAll(/^\| `([a-z-]+)` \|/gm)].map((m) => m[1]).sort();
    assert.deepEqual(documented, Object.keys(REJECT_SEVERITY).sort());
  });

  it("the severities the spec names are the ones the node uses", () => {
    const named = (severity: string): string[] => {
      const sentence = new RegExp(`\\*\\*${severity}\\*\\*[^;.]*`).exec(section)?.[0] ?? "";
      return [...sentence.matchAll(/`([a-z-]+)`/g)].map((m) => m[1]!).sort();
    };
    const bySeverity = (severity: string): string[] =>
      Object.entries(REJECT_SEVERITY)
        .filter(([, s]) => s === severity)
        .map(([code]) => code)
        .sort();
    assert.deepEqual(named("stale"), bySeverity("stale"));
    assert.deepEqual(named("local-policy"), bySeverity("local-policy"));
  });
});
