import crypto, { type KeyObject } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import nacl from "tweetnacl";
import YAML from "yaml";
import { curveKeyPair } from "zeromq";
import { privateKeyObject } from "../protocol/signing.js";
import { handToOwner, mkdirAsOwner } from "../util/folder-owner.js";

/** One node's identity: an Ed25519 signing key pair (tweetnacl format) and a CURVE pair for transport. */
export interface Identity {
  readonly signingPublicKey: Buffer;
  /** 64 bytes: seed || public key, tweetnacl's format. */
  readonly signingSecretKey: Buffer;
  readonly curvePublicKey: string;
  readonly curveSecretKey: string;
  /** node:crypto handle on the signing key, for the hot path. */
  readonly signer: KeyObject;
}

export const SECRET_FILE = "node.key";
export const PUBLIC_FILE = "node.pub";

export class KeyError extends Error {
  readonly code: "ERR_KEY_EXISTS" | "ERR_KEY_MISSING" | "ERR_KEY_INVALID";
  constructor(code: KeyError["code"], message: string) {
    super(message);
    this.name = "KeyError";
    this.code = code;
  }
}

/** Full node id: hex SHA-256 of the signing public key. Logs show the first 12 characters. */
export function nodeId(signingPublicKey: Uint8Array): string {
  return crypto.createHash("sha256").update(signingPublicKey).digest("hex");
}

export function shortId(signingPublicKey: Uint8Array): string {
  const key = Buffer.from(signingPublicKey.buffer, signingPublicKey.byteOffset, signingPublicKey.length);
  const hex = key.toString("hex");
  let id = shortIds.get(hex);
  if (id === undefined) {
    id = nodeId(signingPublicKey).slice(0, 12);
    // Bounded: origins are unbounded in number (any friend may relay any origin).
    if (shortIds.size >= MAX_SHORT_IDS) shortIds.clear();
    shortIds.set(hex, id);
  }
  return id;
}

/** Short ids of keys seen lately: every report's origin is named in events and logs (a hash each). */
const MAX_SHORT_IDS = 4096;
const shortIds = new Map<string, string>();

export function generateIdentity(): Identity {
  const signing = nacl.sign.keyPair();
  const curve = curveKeyPair();
  return fromParts(Buffer.from(signing.secretKey), curve.publicKey, curve.secretKey);
}

function fromParts(signingSecretKey: Buffer, curvePublicKey: string, curveSecretKey: string): Identity {
  return {
    signingPublicKey: Buffer.from(signingSecretKey.subarray(32)),
    signingSecretKey,
    curvePublicKey,
    curveSecretKey,
    signer: privateKeyObject(signingSecretKey),
  };
}

/** The block a friend saves as friends.d/NAME.yaml; `trust` is theirs to edit. */
export function friendBlock(name: string, endpoint: string, identity: Identity, trust = 80): string {
  return [
    `# f2bp2p friend: save as friends.d/${name}.yaml on the friend's node (id ${shortId(identity.signingPublicKey)})`,
    `name: ${name}`,
    `endpoint: ${endpoint}`,
    `signing_key: ${identity.signingPublicKey.toString("base64")}`,
    `curve_key: "${identity.curvePublicKey}"`,
    "# how much you trust this friend's reports, 0-100",
    `trust: ${trust}`,
    "",
  ].join("\n");
}

/**
 * Writes node.key (mode 0600) and node.pub (the friend block). Refuses to replace an existing secret
 * key unless `force`: a lost key means every friend has to re-pair. Run as root, the files (and any
 * folder made for them) belong to the owner of the folder they go into: the service's user for the
 * packaged /etc/f2bp2p/keys, so the service can read the key root made.
 */
export function writeIdentity(
  dir: string,
  identity: Identity,
  block: string,
  force: boolean,
): { secretFile: string; publicFile: string } {
  const secretFile = path.join(dir, SECRET_FILE);
  const publicFile = path.join(dir, PUBLIC_FILE);
  if (!force && fs.existsSync(secretFile)) {
    throw new KeyError("ERR_KEY_EXISTS", `${secretFile} already exists; use --force to replace it`);
  }
  const owner = mkdirAsOwner(dir, 0o700);
  const secret = YAML.stringify({
    signing_secret_key: identity.signingSecretKey.toString("base64"),
    curve_public_key: identity.curvePublicKey,
    curve_secret_key: identity.curveSecretKey,
  });
  const tmp = `${secretFile}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, `# f2bp2p node secret keys: never share this file\n${secret}`, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600); // the umask may have narrowed it already; never widen beyond 0600
  handToOwner(tmp, owner);
  fs.renameSync(tmp, secretFile);
  fs.writeFileSync(publicFile, block, { mode: 0o644 });
  handToOwner(publicFile, owner);
  return { secretFile, publicFile };
}

export function loadIdentity(dir: string): Identity {
  const secretFile = path.join(dir, SECRET_FILE);
  let text: string;
  try {
    text = fs.readFileSync(secretFile, "utf8");
  } catch {
    throw new KeyError("ERR_KEY_MISSING", `${secretFile} not found: create it with 'f2bp2p keygen'`);
  }
  const mode = fs.statSync(secretFile).mode & 0o077;
  if (mode !== 0) {
    throw new KeyError(
      "ERR_KEY_INVALID",
      `${secretFile} is readable by others: run 'chmod 600 ${secretFile}'`,
    );
  }
  const data: unknown = YAML.parse(text);
  const field = (key: string): string => {
    const value = (data as Record<string, unknown> | null)?.[key];
    if (typeof value !== "string") throw new KeyError("ERR_KEY_INVALID", `${secretFile}: ${key} is missing`);
    return value;
  };
  const signingSecret = Buffer.from(field("signing_secret_key"), "base64");
  const curvePublic = field("curve_public_key");
  const curveSecret = field("curve_secret_key");
  if (signingSecret.length !== 64 || curvePublic.length !== 40 || curveSecret.length !== 40) {
    throw new KeyError("ERR_KEY_INVALID", `${secretFile}: a key has the wrong length`);
  }
  const derived = nacl.sign.keyPair.fromSecretKey(signingSecret).publicKey;
  if (!Buffer.from(derived).equals(signingSecret.subarray(32))) {
    throw new KeyError("ERR_KEY_INVALID", `${secretFile}: signing key is corrupt`);
  }
  return fromParts(signingSecret, curvePublic, curveSecret);
}
