import fs from "node:fs";
import path from "node:path";
import { type BanLine, formatBanLine } from "./ban-line.js";

/**
 * The file fail2ban's f2bp2p jail watches. Each line is written with a synchronous append, so it is in
 * the file before the report that caused it is acknowledged. reopen() follows logrotate (SIGHUP).
 */
export class BansLog {
  readonly #file: string;
  #fd: number | undefined;

  constructor(file: string) {
    this.#file = file;
  }

  get file(): string {
    return this.#file;
  }

  open(): void {
    fs.mkdirSync(path.dirname(this.#file), { recursive: true });
    this.#fd = fs.openSync(this.#file, "a", 0o640);
  }

  write(line: BanLine): void {
    if (this.#fd === undefined) this.open();
    fs.writeSync(this.#fd!, formatBanLine(line));
  }

  reopen(): void {
    this.close();
    this.open();
  }

  close(): void {
    if (this.#fd !== undefined) fs.closeSync(this.#fd);
    this.#fd = undefined;
  }
}
