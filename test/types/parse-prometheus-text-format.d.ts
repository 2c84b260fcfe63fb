/** Types of the parts of parse-prometheus-text-format (which ships none) that the tests use. */
declare module "parse-prometheus-text-format" {
  export interface ParsedSample {
    readonly value?: string;
    readonly labels?: Readonly<Record<string, string>>;
    /** Histograms: cumulative counts by upper bound (`le`), and the count and sum. */
    readonly buckets?: Readonly<Record<string, string>>;
    readonly count?: string;
    readonly sum?: string;
  }
  export interface ParsedFamily {
    readonly name: string;
    readonly help: string;
    readonly type: "COUNTER" | "GAUGE" | "HISTOGRAM" | "SUMMARY" | "UNTYPED";
    readonly metrics: readonly ParsedSample[];
  }
  /** Throws InvalidLineError on any line that is not valid text format. */
  export default function parsePrometheusTextFormat(text: string): ParsedFamily[];
}
