/**
 * Markdown (the subset docs/ uses) to man(7) roff, so the man pages are made from the same text as
 * the docs and cannot drift from them. Handles headings, paragraphs, `-` and `1.` lists, fenced code
 * blocks, pipe tables (as tagged lists) and inline `code`, **bold**, *emphasis* and [links](...).
 */

/** Escapes text for roff: backslashes, and a `.` or `'` at the start of a line (a request). */
export function escapeRoff(text: string): string {
  return text
    .replace(/\\/g, "\\e")
    .replace(/-/g, "\\-")
    .replace(/^([.'])/gm, "\\&$1");
}

/** Inline markdown to roff fonts: `code` and **bold** bold, *emphasis* italic, links as their text. */
export function inline(text: string): string {
  let out = "";
  const pattern = /`([^`]+)`|\*\*(.+?)\*\*|\*([^*\s][^*]*)\*|\[([^\]]+)\]\(([^)]+)\)/g;
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    out += escapeRoff(text.slice(last, m.index));
    if (m[1] !== undefined) out += `\\fB${escapeRoff(m[1])}\\fR`;
    else if (m[2] !== undefined) out += `\\fB${inline(m[2])}\\fR`;
    else if (m[3] !== undefined) out += `\\fI${inline(m[3])}\\fR`;
    else out += inline(m[4]!);
    last = m.index + m[0].length;
  }
  return out + escapeRoff(text.slice(last));
}

/** Lines that start a new block, ending the paragraph before them. */
const BLOCK_START = /^(#{1,6} |```|\| |\s*[-*] |\s*\d+\. )/;

/**
 * Converts markdown to the body of a man page (no .TH). `#` headings become .SH (upper case),
 * deeper ones .SS.
 */
export function markdownToRoff(markdown: string): string {
  const lines = markdown.replace(/\r\n/g, "\n").split("\n");
  const out: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === "") {
      i++;
      continue;
    }
    const heading = /^(#{1,6}) (.*)$/.exec(line);
    if (heading) {
      const text = heading[2]!.replace(/`/g, "");
      out.push(heading[1]!.length <= 2 ? `.SH ${quoteArg(text.toUpperCase())}` : `.SS ${quoteArg(text)}`);
      i++;
      continue;
    }
    if (line.startsWith("```")) {
      const code: string[] = [];
      for (i++; i < lines.length && !lines[i]!.startsWith("```"); i++) code.push(lines[i]!);
      i++;
      out.push(".PP", ".RS 4", ".nf", ...code.map((l) => escapeRoff(l)), ".fi", ".RE");
      continue;
    }
    if (line.startsWith("|")) {
      const rows: string[][] = [];
      for (; i < lines.length && lines[i]!.startsWith("|"); i++) {
        const cells = lines[i]!.replace(/^\||\|\s*$/g, "")
          .split(/(?<!\\)\|/)
          .map((c) => c.trim());
        if (cells.every((c) => /^:?-+:?$/.test(c))) continue;
        rows.push(cells);
      }
      // A table becomes a list: the first column is the tag, the others "Header: value".
      const [header, ...body] = rows;
      for (const row of body) {
        const rest = row
          .slice(1)
          .map((cell, c) => `${inline(header?.[c + 1] ?? "")}: ${inline(cell.replace(/\\\|/g, "|"))}`);
        out.push(".TP", inline(row[0] ?? ""), rest.join(".\n.br\n"));
      }
      continue;
    }
    const item = /^(\s*)([-*]|\d+\.) (.*)$/.exec(line);
    if (item) {
      const text = [item[3]!];
      const indent = item[1]!.length + item[2]!.length + 1;
      for (i++; i < lines.length; i++) {
        const next = lines[i]!;
        if (next.trim() === "" || BLOCK_START.test(next) || !next.startsWith(" ".repeat(indent))) break;
        text.push(next.trim());
      }
      const bullet = /\d/.test(item[2]!) ? item[2]! : "\\(bu";
      out.push(`.IP ${bullet} 4`, inline(text.join(" ")));
      continue;
    }
    const paragraph: string[] = [];
    for (
      ;
      i < lines.length && lines[i]!.trim() !== "" && (paragraph.length === 0 || !BLOCK_START.test(lines[i]!));
      i++
    ) {
      paragraph.push(lines[i]!.trim());
    }
    out.push(".PP", inline(paragraph.join(" ")));
  }
  return `${out.join("\n")}\n`;
}

/** A macro argument in double quotes (roff doubles an embedded quote). */
export function quoteArg(text: string): string {
  return `"${escapeRoff(text).replace(/"/g, '""')}"`;
}
