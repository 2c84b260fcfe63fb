/** `f2bp2p completion`: the script yargs makes, sourced into a real bash that completes real words. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { BIN, f2bp2p } from "../helpers/cli.js";
import { tempDir } from "../helpers/node-process.js";

const exec = promisify(execFile);

describe("f2bp2p completion", () => {
  // The script calls `f2bp2p` by name, as an installed one would be found on PATH.
  const bin = tempDir("f2bp2p-completion-");
  fs.symlinkSync(BIN, path.join(bin, "f2bp2p"));
  after(() => fs.rmSync(bin, { recursive: true, force: true }));

  /** What bash offers for the words typed so far (the last one being completed). */
  async function complete(words: readonly string[]): Promise<string[]> {
    const script = [
      "source <(f2bp2p completion)",
      `COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")})`,
      `COMP_CWORD=${words.length - 1}`,
      "_f2bp2p_yargs_completions",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a bash array expansion, not a template
      'printf "%s\\n" "${COMPREPLY[@]}"',
    ].join("\n");
    const { stdout } = await exec("bash", ["-c", script], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, F2BP2P_CONFIG: "" },
    });
    return stdout.split("\n").filter((line) => line !== "");
  }

  it("prints a bash completion script", async () => {
    const run = await f2bp2p(["completion"]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^###-begin-f2bp2p-completions-###$/m);
    assert.match(run.stdout, /^complete .* f2bp2p$/m);
  });

  it("completes commands and the values of -o", async () => {
    assert.deepEqual(await complete(["f2bp2p", "st"]), ["status"]);
    assert.deepEqual(await complete(["f2bp2p", "b"]), ["bans"]);
    assert.deepEqual(await complete(["f2bp2p", "status", "-o", ""]), ["human", "json"]);
  });
});
