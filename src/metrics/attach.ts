import type { F2bNode } from "../node/node.js";
import type { Logger } from "../util/logger.js";
import { NodeMetrics } from "./node-metrics.js";
import { MetricsServer } from "./server.js";

/** The metrics of a running node and their HTTP endpoint; stop() unbinds and unsubscribes. */
export interface AttachedMetrics {
  readonly metrics: NodeMetrics;
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Feeds a NodeMetrics from the node's events and serves it on `config.metricsListen`. Call after
 * node.start() (the store is open). Rejects when the address cannot be bound; nothing is left
 * subscribed then.
 */
export async function attachMetrics(node: F2bNode, log: Logger): Promise<AttachedMetrics | undefined> {
  const listen = node.config.metricsListen;
  if (listen === null) return undefined;
  const store = node.ledger.store;
  const metrics = new NodeMetrics(
    {
      counts: () => store.counts(),
      storeFiles: () => [store.file, `${store.file}-wal`],
      friends: () =>
        node.friends.map((f) => ({
          name: f.config.name,
          connected: f.link.connected,
          queued: f.link.queued,
          reportsSent: f.link.sent,
          messagesSent: f.link.messagesSent,
        })),
      worth: () => node.friendWorth().friends,
    },
    Date.now,
  );
  const onAccepted = (): void => metrics.reportAccepted();
  const onRejected = (r: {
    code: Parameters<NodeMetrics["reportRejected"]>[0];
    friend: string | undefined;
  }) => metrics.reportRejected(r.code, r.friend);
  const onBan = (): void => metrics.banWritten();
  const onIngested = (m: { friend: string; reports: number; seconds: number }): void =>
    metrics.messageIngested(m.friend, m.reports, m.seconds);
  const onUnban = (): void => metrics.unbanWritten();
  const onRevocation = (): void => metrics.revocationAccepted();
  const onSync = (m: { friend: string; reports: number }): void => metrics.syncMessage(m.friend, m.reports);
  const onList = (m: { friend: string }): void => metrics.syncMessage(m.friend, 0);
  const unsubscribe = (): void => {
    node.off("sync:message", onSync);
    node.off("never-ban-list:message", onList);
    node.off("unban", onUnban);
    node.off("revocation:accepted", onRevocation);
    node.off("report:accepted", onAccepted);
    node.off("report:rejected", onRejected);
    node.off("ban", onBan);
    node.off("message:ingested", onIngested);
  };
  node.on("report:accepted", onAccepted);
  node.on("report:rejected", onRejected);
  node.on("ban", onBan);
  node.on("message:ingested", onIngested);
  node.on("sync:message", onSync);
  node.on("never-ban-list:message", onList);
  node.on("unban", onUnban);
  node.on("revocation:accepted", onRevocation);
  const server = new MetricsServer(listen, metrics, log);
  try {
    await server.start();
  } catch (err: unknown) {
    unsubscribe();
    throw err;
  }
  return {
    metrics,
    url: server.url,
    async stop() {
      unsubscribe();
      await server.stop();
    },
  };
}
