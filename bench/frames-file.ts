/** A list of ZeroMQ messages (frame arrays) in one file, so a sender process replays exactly what was built. */
import fs from "node:fs";

export function writeMessages(file: string, messages: readonly (readonly Buffer[])[]): void {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(4);
  head.writeUInt32BE(messages.length);
  parts.push(head);
  for (const frames of messages) {
    const count = Buffer.alloc(2);
    count.writeUInt16BE(frames.length);
    parts.push(count);
    for (const frame of frames) {
      const length = Buffer.alloc(4);
      length.writeUInt32BE(frame.length);
      parts.push(length, frame);
    }
  }
  fs.writeFileSync(file, Buffer.concat(parts));
}

export function readMessages(file: string): Buffer[][] {
  const data = fs.readFileSync(file);
  let at = 0;
  const messages: Buffer[][] = [];
  const total = data.readUInt32BE(at);
  at += 4;
  for (let m = 0; m < total; m++) {
    const count = data.readUInt16BE(at);
    at += 2;
    const frames: Buffer[] = [];
    for (let f = 0; f < count; f++) {
      const length = data.readUInt32BE(at);
      at += 4;
      frames.push(data.subarray(at, at + length));
      at += length;
    }
    messages.push(frames);
  }
  return messages;
}
