import winston from "winston";

export type Logger = winston.Logger;
export type LogLevel = "error" | "warn" | "info" | "debug";

/**
 * Operational log on stderr (journald takes it from there under systemd): one line per event,
 * `LEVEL [component] message key=value …`. The bans log is a separate file, written by the node.
 */
export function createLogger(level: LogLevel, node: string): Logger {
  const line = winston.format.printf((info) => {
    const { level: lvl, message, component, timestamp, ...rest } = info;
    const fields = Object.entries(rest)
      .filter(([k]) => typeof k === "string" && k !== "node")
      .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
      .join(" ");
    return `${timestamp} ${lvl.toUpperCase()} [${node}/${component ?? "main"}] ${message}${fields ? ` ${fields}` : ""}`;
  });
  return winston.createLogger({
    level,
    format: winston.format.combine(winston.format.timestamp(), line),
    transports: [new winston.transports.Console({ stderrLevels: ["error", "warn", "info", "debug"] })],
  });
}

/** A logger that drops everything, for library use and tests that assert on events instead. */
export function silentLogger(): Logger {
  return winston.createLogger({
    silent: true,
    transports: [new winston.transports.Console({ silent: true })],
  });
}
