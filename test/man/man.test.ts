import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { EXIT_STATUS } from "../../src/cli/exit-codes.js";
import { NODE_DEFAULTS } from "../../src/config/validate.js";
import { helpOf, manPages } from "../../src/man/generate.js";
import { parseHelp } from "../../src/man/help.js";
import { inline, markdownToRoff } from "../../src/man/roff.js";

/** The text a reader sees: the page rendered by groff, as man(1) would show it. */
function render(page: string): { text: string; warnings: string } {
  const out = execFileSync("groff", ["-man", "-Tutf8", "-ww", "-rLL=100n", "-P-cbou"], {
    input: page,
    encoding: "utf8",
    stdio: ["pipe", "pipe", "pipe"],
  });
  const warnings = execFileSync("sh", ["-c", "groff -man -Tutf8 -ww -z 2>&1"], {
    input: page,
    encoding: "utf8",
  });
  // groff marks hyphens and quotes with Unicode forms; compare with what was typed.
  return { text: out.replace(/[‐−]/g, "-").replace(/[‘’]/g, "'").replace(/\s+/g, " "), warnings };
}

describe("man pages", () => {
  const pages = new Map(manPages("2026-11-30").map((p) => [p.file, p.text]));

  it("has a page for every command the CLI lists, and every page renders without a warning", () => {
    const commands = (helpOf([]).sections.get("Commands") ?? []).map((c) => c.name.split(/\s+/)[1]);
    assert.ok(commands.includes("keygen") && commands.includes("friend-block"), String(commands));
    assert.deepEqual(
      [...pages.keys()].sort(),
      ["f2bp2p.1", "f2bp2p.yaml.5", ...commands.map((c) => `f2bp2p-${c}.1`)].sort(),
    );
    for (const [file, text] of pages) assert.equal(render(text).warnings, "", file);
  });

  it("each command's page shows every option and example of its --help, with its description", () => {
    for (const command of ["keygen", "report", "status", "friend-block", "run"]) {
      const help = helpOf([command]);
      const page = render(pages.get(`f2bp2p-${command}.1`)!).text;
      assert.ok(page.includes(help.description), `${command}: ${help.description}`);
      for (const section of ["Options", "Positionals"]) {
        for (const option of help.sections.get(section) ?? []) {
          assert.ok(page.includes(option.name), `${command}: ${option.name}`);
          assert.ok(page.includes(option.description), `${command}: ${option.description}`);
        }
      }
      for (const example of help.examples) assert.ok(page.includes(example), `${command}: ${example}`);
    }
  });

  it("f2bp2p(1) lists every exit status of cli/exit-codes.ts, JSON output and completion", () => {
    const page = render(pages.get("f2bp2p.1")!).text;
    // Words groff hyphenated at a line end, joined again.
    const section = page
      .slice(page.indexOf("EXIT STATUS"), page.indexOf("JSON OUTPUT"))
      .replace(/(\w)- (\w)/g, "$1$2");
    for (const { code, meaning } of EXIT_STATUS) {
      assert.ok(section.includes(`${code} ${meaning}`), `exit status ${code}`);
    }
    assert.match(page, /JSON OUTPUT .*-o json.*version.*json\.md/);
    assert.match(page, /f2bp2p completion/);
  });

  it("f2bp2p.yaml(5) documents every key of f2bp2p.yaml and of a friend file", () => {
    const page = render(pages.get("f2bp2p.yaml.5")!).text;
    const keys = [
      ...Object.keys(NODE_DEFAULTS),
      "name",
      "listen",
      "ignore",
      "watch",
      "fail2ban_log",
      "jails",
    ];
    for (const key of [...keys, "endpoint", "signing_key", "curve_key", "trust"]) {
      assert.match(page, new RegExp(`\\b${key}\\b`), key);
    }
    assert.match(page, /report_lifetime Type: duration\. Default: 24h \(86400 seconds\)\./);
  });
});

describe("help parsing", () => {
  it("joins a wrapped description and splits off yargs' tags", () => {
    const help = parseHelp(
      [
        "f2bp2p keygen",
        "",
        "Create keys",
        "",
        "Options:",
        "  -c, --config   Config file [default: $F2BP2P_CONFIG, then",
        "                 /etc/f2bp2p/f2bp2p.yaml]                                   [string]",
        "      --trust    Trust suggested to friends (0-100)             [number] [default: 80]",
        "",
        "Examples:",
        "  f2bp2p keygen --name alpha",
      ].join("\n"),
    );
    assert.equal(help.usage, "f2bp2p keygen");
    assert.equal(help.description, "Create keys");
    assert.deepEqual(help.sections.get("Options"), [
      {
        name: "-c, --config",
        description: "Config file [default: $F2BP2P_CONFIG, then /etc/f2bp2p/f2bp2p.yaml]",
        tags: ["string"],
      },
      { name: "--trust", description: "Trust suggested to friends (0-100)", tags: ["number", "default: 80"] },
    ]);
    assert.deepEqual(help.examples, ["f2bp2p keygen --name alpha"]);
  });
});

describe("markdown to roff", () => {
  it("escapes what roff would read as requests or escapes", () => {
    assert.equal(inline(".hidden \\n"), "\\&.hidden \\en");
    assert.equal(
      inline("`a-b` and **bold `x*y`** and [link](#x)"),
      "\\fBa\\-b\\fR and \\fBbold \\fBx*y\\fR\\fR and link",
    );
  });

  it("turns a table into a tagged list and a code block into unfilled text", () => {
    const roff = markdownToRoff("| Key | Default |\n|---|---|\n| `a` | `1` |\n\n```yaml\n.x: 1\n```\n");
    assert.equal(roff, ".TP\n\\fBa\\fR\nDefault: \\fB1\\fR\n.PP\n.RS 4\n.nf\n\\&.x: 1\n.fi\n.RE\n");
  });
});
