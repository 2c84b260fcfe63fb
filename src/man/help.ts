/**
 * Reads the `--help` text the CLI prints (yargs' layout) into its parts, so the man pages are made
 * from the CLI's own help and say exactly what `--help` says.
 */

export interface HelpEntry {
  /** The left column: `-c, --config`, `f2bp2p report <ip>`, `ip`. */
  readonly name: string;
  readonly description: string;
  /** Trailing yargs tags without brackets: `string`, `required`, `default: 80`. */
  readonly tags: readonly string[];
}

export interface Help {
  /** First line: `f2bp2p keygen`, `f2bp2p report <ip>`, `f2bp2p <command> [options]`. */
  readonly usage: string;
  /** The paragraph under the usage line. */
  readonly description: string;
  /** Sections by their title without the colon: Commands, Positionals, Options. */
  readonly sections: ReadonlyMap<string, readonly HelpEntry[]>;
  readonly examples: readonly string[];
}

/** yargs' tags stand apart from the description: after two spaces or at the start of a wrapped line. */
const TAGS =
  /(?: {2,}|\n)((?:\s*\[(?:string|number|boolean|array|count|required|default: [^\]]*|choices: [^\]]*)\])+)\s*$/;

/** Parses yargs' help output. Entries whose description wrapped are joined back into one line. */
export function parseHelp(text: string): Help {
  const lines = text.replace(/\s+$/, "").split("\n");
  const usage = lines[0]!.trim();
  const description: string[] = [];
  let i = 1;
  for (; i < lines.length && !/^\S.*:$/.test(lines[i]!); i++) {
    if (lines[i]!.trim() !== "") description.push(lines[i]!.trim());
  }
  const sections = new Map<string, (HelpEntry & { raw: string })[]>();
  const examples: string[] = [];
  let section = "";
  let column = 0;
  for (; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === "") continue;
    const title = /^(\S.*):$/.exec(line);
    if (title) {
      section = title[1]!;
      column = 0;
      if (section !== "Examples") sections.set(section, []);
      continue;
    }
    if (section === "Examples") {
      examples.push(line.trim());
      continue;
    }
    const entries = sections.get(section)!;
    const entry = /^ +(\S.*?)(?: {2,}(.*))?$/.exec(line);
    // A wrapped description goes on at the description column; entries start further left.
    const isContinuation = column > 0 && line.length - line.trimStart().length >= column;
    if (entries.length > 0 && isContinuation) {
      const previous = entries.pop()!;
      entries.push(withTags(previous.name, `${previous.raw}\n${line.trim()}`));
      continue;
    }
    if (entry === null) throw new Error(`unexpected help line: ${line}`);
    column = entry[2] === undefined ? 0 : line.lastIndexOf(entry[2]);
    entries.push(withTags(entry[1]!, entry[2] ?? ""));
  }
  return {
    usage,
    description: description.join(" "),
    sections: new Map([...sections].map(([k, v]) => [k, v.map(({ raw: _raw, ...e }) => e)])),
    examples,
  };
}

function withTags(name: string, raw: string): HelpEntry & { raw: string } {
  const tagged = TAGS.exec(raw);
  const tags = tagged ? [...tagged[1]!.matchAll(/\[([^\]]*)\]/g)].map((m) => m[1]!) : [];
  const description = (tagged ? raw.slice(0, tagged.index) : raw).replace(/\s+/g, " ").trim();
  return { name: name.trim(), description, tags, raw };
}
