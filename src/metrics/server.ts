import http from "node:http";
import type { MetricsListen } from "../config/types.js";
import type { Logger } from "../util/logger.js";
import type { NodeMetrics } from "./node-metrics.js";

/** The one path served; anything else is 404, any method but GET and HEAD 405. */
export const METRICS_PATH = "/metrics";

/** Scrapes answered at once; more connections wait in the kernel's backlog. */
const MAX_CONNECTIONS = 16;
/** A scraper that sends no complete request in this time is cut off (ms). */
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * The HTTP endpoint Prometheus scrapes: GET /metrics on `metrics_listen`. Bounded: a few
 * connections, short timeouts, no request body read. Errors serving one scrape are logged and
 * answered with 500; the node goes on.
 */
export class MetricsServer {
  readonly #server: http.Server;
  readonly #listen: MetricsListen;
  readonly #log: Logger;

  constructor(listen: MetricsListen, metrics: NodeMetrics, log: Logger) {
    this.#listen = listen;
    this.#log = log;
    this.#server = http.createServer((req, res) => {
      const url = (req.url ?? "").split("?")[0];
      if (url !== METRICS_PATH) {
        res
          .writeHead(404, { "content-type": "text/plain" })
          .end(`not found; metrics are at ${METRICS_PATH}\n`);
        return;
      }
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end("method not allowed\n");
        return;
      }
      metrics.exposition().then(
        ({ text, contentType }) => {
          res.writeHead(200, { "content-type": contentType });
          res.end(req.method === "HEAD" ? undefined : text);
        },
        (err: unknown) => {
          this.#log.error("metrics scrape failed", {
            error: err instanceof Error ? err.message : String(err),
          });
          res
            .writeHead(500, { "content-type": "text/plain" })
            .end("metrics unavailable; see the node's log\n");
        },
      );
    });
    this.#server.maxConnections = MAX_CONNECTIONS;
    this.#server.requestTimeout = REQUEST_TIMEOUT_MS;
    this.#server.headersTimeout = REQUEST_TIMEOUT_MS;
    this.#server.keepAliveTimeout = 5_000;
  }

  /** `http://HOST:PORT/metrics` as bound (the real port when 0 was asked for). */
  get url(): string {
    const address = this.#server.address();
    const port = typeof address === "object" && address !== null ? address.port : this.#listen.port;
    const host = this.#listen.host.includes(":") ? `[${this.#listen.host}]` : this.#listen.host;
    return `http://${host}:${port}${METRICS_PATH}`;
  }

  /** Binds; rejects with a readable reason (address in use, not local) when it cannot. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        const where = `${this.#listen.host.includes(":") ? `[${this.#listen.host}]` : this.#listen.host}:${this.#listen.port}`;
        reject(new Error(`cannot serve metrics on ${where} (metrics_listen): ${err.code ?? err.message}`));
      };
      this.#server.once("error", onError);
      this.#server.listen({ host: this.#listen.host, port: this.#listen.port, ipv6Only: true }, () => {
        this.#server.off("error", onError);
        this.#server.on("error", (err) => this.#log.error("metrics server error", { error: err.message }));
        this.#log.info("serving metrics", { url: this.url });
        resolve();
      });
    });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.#server.listening) {
        resolve();
        return;
      }
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}
