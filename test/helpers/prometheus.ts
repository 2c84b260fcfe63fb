import assert from "node:assert/strict";
import parsePrometheusTextFormat, { type ParsedFamily } from "parse-prometheus-text-format";

/** A scrape, parsed by a strict text-format parser (it throws on any malformed line). */
export class Scrape {
  readonly families: ReadonlyMap<string, ParsedFamily>;

  constructor(readonly text: string) {
    this.families = new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
  }

  family(name: string): ParsedFamily {
    const family = this.families.get(name);
    assert.ok(family, `metric ${name} in the scrape:\n${this.text}`);
    return family;
  }

  /** The value of the sample of `name` whose labels are exactly `labels`; undefined if none. */
  value(name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
    const wanted = JSON.stringify(Object.entries(labels).sort());
    const sample = this.family(name).metrics.find(
      (m) => JSON.stringify(Object.entries(m.labels ?? {}).sort()) === wanted,
    );
    return sample?.value === undefined ? undefined : Number(sample.value);
  }
}

/** GET http://HOST:PORT/metrics; asserts a 200 with the text format's content type. */
export async function scrape(url: string): Promise<Scrape> {
  const response = await fetch(url);
  assert.equal(response.status, 200, `GET ${url}`);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return new Scrape(await response.text());
}
