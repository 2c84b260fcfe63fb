/**
 * The network benchmark's friend graph (seeded, so every run builds the same one) and an independent
 * prediction of what each report should reach, from the trust rules as docs/trust.md states them.
 */
import type { NetworkSpec } from "../src/demo/local-network.js";
import { prng, randInt } from "./common.js";

export interface Graph {
  readonly names: readonly string[];
  readonly threshold: readonly number[];
  readonly maxHops: readonly number[];
  /** Undirected friendships with the trust each side gives the other. */
  readonly edges: readonly {
    readonly a: number;
    readonly b: number;
    readonly trustAB: number;
    readonly trustBA: number;
  }[];
  /** adjacency[v]: [u, trust v gives u] for every friend u of v. */
  readonly adjacency: readonly (readonly (readonly [number, number])[])[];
}

export const MIN_DEGREE = 3;
export const MAX_DEGREE = 8;
const THRESHOLDS = [30, 40, 50, 60, 80];
const MAX_HOPS = [3, 4, 6];

/**
 * A connected random graph with every degree in [3, 8]: a random spanning tree first, then random
 * edges until each node has its drawn degree (or no partner is left). Trust 60–100 each way; each
 * node's threshold from {30, 40, 50, 60, 80} and max_hops from {3, 4, 6}.
 */
export function randomGraph(count: number, seed: number): Graph {
  const rand = prng(seed);
  const names = Array.from({ length: count }, (_, i) => `p${String(i).padStart(3, "0")}`);
  const want = names.map(() => randInt(rand, MIN_DEGREE, MAX_DEGREE));
  const friends = names.map(() => new Set<number>());
  const link = (a: number, b: number): void => {
    friends[a]!.add(b);
    friends[b]!.add(a);
  };
  const order = names.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  for (let i = 1; i < order.length; i++) {
    const candidates = order.slice(0, i).filter((v) => friends[v]!.size < MAX_DEGREE - 1);
    const pool = candidates.length > 0 ? candidates : order.slice(0, i);
    link(order[i]!, pool[Math.floor(rand() * pool.length)]!);
  }
  for (let attempt = 0; attempt < count * 50; attempt++) {
    const open = order.filter((v) => friends[v]!.size < want[v]!);
    if (open.length < 2) break;
    const a = open[Math.floor(rand() * open.length)]!;
    const partners = open.filter((b) => b !== a && !friends[a]!.has(b));
    if (partners.length === 0) {
      want[a] = friends[a]!.size;
      continue;
    }
    link(a, partners[Math.floor(rand() * partners.length)]!);
  }
  for (const v of order) {
    while (friends[v]!.size < MIN_DEGREE) {
      const partners = order.filter((b) => b !== v && !friends[v]!.has(b) && friends[b]!.size < MAX_DEGREE);
      if (partners.length === 0) break;
      link(v, partners[Math.floor(rand() * partners.length)]!);
    }
  }
  const edges: { a: number; b: number; trustAB: number; trustBA: number }[] = [];
  const adjacency: [number, number][][] = names.map(() => []);
  for (let a = 0; a < count; a++) {
    for (const b of [...friends[a]!].sort((x, y) => x - y)) {
      if (b < a) continue;
      const edge = { a, b, trustAB: randInt(rand, 60, 100), trustBA: randInt(rand, 60, 100) };
      edges.push(edge);
      adjacency[a]!.push([b, edge.trustAB]);
      adjacency[b]!.push([a, edge.trustBA]);
    }
  }
  return {
    names,
    threshold: names.map(() => THRESHOLDS[Math.floor(rand() * THRESHOLDS.length)]!),
    maxHops: names.map(() => MAX_HOPS[Math.floor(rand() * MAX_HOPS.length)]!),
    edges,
    adjacency,
  };
}

export function graphSpec(graph: Graph): NetworkSpec {
  return {
    nodes: graph.names.map((name, i) => ({
      name,
      threshold: graph.threshold[i]!,
      maxHops: graph.maxHops[i]!,
    })),
    links: graph.edges.map((e) => [graph.names[e.a]!, graph.names[e.b]!, e.trustAB, e.trustBA] as const),
  };
}

export interface Prediction {
  /** Score each node should end with for the report's IP (0 where it never arrives). */
  readonly score: readonly number[];
  /** Nodes whose score reaches their threshold: the ones that should write a ban line. */
  readonly banned: ReadonlySet<number>;
}

/**
 * Best-path search, written from the rules and not from the node's code: a report starts at its origin
 * with trust 100 and path length 0; a node holding it with path length d < its max_hops passes it to each
 * friend, who accepts it when d + 1 ≤ its own max_hops and holds floor(t × trust / 100), counted for at
 * most the trust it gives that friend (the per-friend cap). Relaying stops at trust 0. Each node ends
 * with the best trust over every allowed path (a hop-layered search, so a shorter weaker path that can
 * still travel further is not lost behind a longer stronger one).
 */
export function predict(graph: Graph, origin: number): Prediction {
  const n = graph.names.length;
  const best = new Array<number>(n).fill(0);
  best[origin] = 100;
  let layer = new Map<number, number>([[origin, 100]]);
  for (let d = 0; layer.size > 0; d++) {
    const next = new Map<number, number>();
    for (const [u, t] of layer) {
      if (t <= 0 || d >= graph.maxHops[u]!) continue;
      for (const [v] of graph.adjacency[u]!) {
        if (v === origin || d + 1 > graph.maxHops[v]!) continue;
        const trustVU = graph.adjacency[v]!.find(([w]) => w === u)![1];
        const relayed = Math.min(Math.floor((t * trustVU) / 100), trustVU);
        if (relayed > (next.get(v) ?? -1)) next.set(v, relayed);
      }
    }
    for (const [v, t] of next) if (t > best[v]!) best[v] = t;
    layer = next;
  }
  const banned = new Set<number>();
  for (let v = 0; v < n; v++) if (best[v]! >= graph.threshold[v]!) banned.add(v);
  return { score: best, banned };
}

/**
 * The other extreme, for explaining mismatches: every node passes on only its single best copy (highest
 * trust; among equal trusts the longest path, since an equal copy that arrives later is dropped), so a
 * best copy whose path is already at max_hops goes no further, and a weaker copy by a shorter path is
 * dropped as no gain. Which copies a node really passes on depends on the order they reach it; a
 * node's real score should lie between this and predict()'s.
 */
export function predictBestCopyOnly(graph: Graph, origin: number): readonly number[] {
  const n = graph.names.length;
  const trust = new Array<number>(n).fill(-1);
  const hops = new Array<number>(n).fill(-1);
  const done = new Array<boolean>(n).fill(false);
  trust[origin] = 100;
  hops[origin] = 0;
  for (;;) {
    let u = -1;
    for (let v = 0; v < n; v++) {
      if (done[v] || trust[v]! < 0) continue;
      if (u < 0 || trust[v]! > trust[u]! || (trust[v] === trust[u] && hops[v]! > hops[u]!)) u = v;
    }
    if (u < 0) break;
    done[u] = true;
    const t = trust[u]!;
    const d = hops[u]!;
    if (t <= 0 || d >= graph.maxHops[u]!) continue;
    for (const [v] of graph.adjacency[u]!) {
      if (done[v] || v === origin || d + 1 > graph.maxHops[v]!) continue;
      const trustVU = graph.adjacency[v]!.find(([w]) => w === u)![1];
      const relayed = Math.min(Math.floor((t * trustVU) / 100), trustVU);
      if (relayed > trust[v]! || (relayed === trust[v] && d + 1 > hops[v]!)) {
        trust[v] = relayed;
        hops[v] = d + 1;
      }
    }
  }
  return trust.map((t) => Math.max(t, 0));
}
