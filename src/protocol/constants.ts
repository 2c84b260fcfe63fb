/** Wire protocol version 1. docs/protocol.md is the normative description of every value here. */
import { WIRE_LIMITS } from "../config/defaults.js";

export const PROTOCOL_VERSION = 1;

export const KIND_REPORT = 0x01;
export const KIND_ENVELOPE = 0x02;
/** Catch-up sync (docs/protocol.md section 13). */
export const KIND_SYNC_REQUEST = 0x03;
export const KIND_SYNC_PAGE = 0x04;
/** Revocation: an origin withdraws its own reports of an IP (docs/protocol.md section 17). */
export const KIND_REVOCATION = 0x05;
/** Never-ban list: a node asks a friend never to ban these addresses because of it (section 18). */
export const KIND_NEVER_BAN_LIST = 0x06;

/** Domain tags keep a signature over one kind of bytes from ever verifying as another kind. */
export const REPORT_SIGNING_TAG = Buffer.from("f2bp2p/v1/report\0", "latin1");
export const ENVELOPE_SIGNING_TAG = Buffer.from("f2bp2p/v1/envelope\0", "latin1");
export const SYNC_REQUEST_SIGNING_TAG = Buffer.from("f2bp2p/v1/sync-request\0", "latin1");
export const SYNC_PAGE_SIGNING_TAG = Buffer.from("f2bp2p/v1/sync-page\0", "latin1");
export const REVOCATION_SIGNING_TAG = Buffer.from("f2bp2p/v1/revocation\0", "latin1");
export const NEVER_BAN_LIST_SIGNING_TAG = Buffer.from("f2bp2p/v1/never-ban\0", "latin1");

export const KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const MESSAGE_ID_BYTES = 32;

/** Jail labels on the wire: 1 to 32 bytes of [A-Za-z0-9._-] (protocol/jail.ts makes them from names). */
export const MAX_JAIL_BYTES = WIRE_LIMITS.MAX_JAIL_BYTES;
export const JAIL_NAME_PATTERN = new RegExp(`^[A-Za-z0-9._-]{1,${MAX_JAIL_BYTES}}$`);

/** Longest IP text accepted: a full IPv6 address with an embedded IPv4 tail (canonical text is at most 39). */
export const MAX_IP_BYTES = WIRE_LIMITS.MAX_IP_BYTES;
/** Report header: version, kind, IP length, jail length, u64 time, origin key. */
export const REPORT_HEADER_BYTES = 4 + 8 + KEY_BYTES;
export const MAX_REPORT_BYTES = REPORT_HEADER_BYTES + MAX_IP_BYTES + MAX_JAIL_BYTES;

/** Revocation header: version, kind, IP length, reason length, u64 time, origin key (as a report's). */
export const REVOCATION_HEADER_BYTES = REPORT_HEADER_BYTES;
/** A revocation's reason: 0 to 64 bytes of printable ASCII (0x20-0x7e), for the sysadmins who read it. */
export const MAX_REVOCATION_REASON_BYTES = 64;
export const REVOCATION_REASON_PATTERN = new RegExp(`^[\\x20-\\x7e]{0,${MAX_REVOCATION_REASON_BYTES}}$`);
export const MAX_REVOCATION_BYTES = REVOCATION_HEADER_BYTES + MAX_IP_BYTES + MAX_REVOCATION_REASON_BYTES;
/** Largest record (report or revocation) frame an envelope or sync page may carry. */
export const MAX_RECORD_BYTES = Math.max(MAX_REPORT_BYTES, MAX_REVOCATION_BYTES);

/** Hard limit on a path on the wire; a node's max_hops may only be lower. */
export const MAX_PATH = WIRE_LIMITS.MAX_PATH;
/** Reports carried by one envelope: bounds the frames of one ZeroMQ message. */
export const MAX_ENTRIES = 64;

/** Envelope header: version, kind, count, reserved, from key, to key. */
export const ENVELOPE_HEADER_BYTES = 4 + KEY_BYTES + KEY_BYTES;
/** Entry: message id, trust, path length, path keys. */
export const ENTRY_FIXED_BYTES = MESSAGE_ID_BYTES + 2;
export const MAX_ENVELOPE_BYTES =
  ENVELOPE_HEADER_BYTES + MAX_ENTRIES * (ENTRY_FIXED_BYTES + MAX_PATH * KEY_BYTES);

/** Frames of one message: envelope, envelope signature, then report and report signature per entry. */
export const MAX_FRAMES = 2 + 2 * MAX_ENTRIES;
/** Largest single frame a node accepts from ZeroMQ (the envelope is the largest). */
export const MAX_FRAME_BYTES = MAX_ENVELOPE_BYTES;

/** How far in the future a report's time may be before it is refused (clock skew allowance). */
export const MAX_CLOCK_SKEW_MS = WIRE_LIMITS.MAX_CLOCK_SKEW_MS;

/** Largest u64 value a node reads as a number (times, sequence numbers): 2^53 - 1. */
export const MAX_TIME = BigInt(Number.MAX_SAFE_INTEGER);

/** Sync request: version, kind, u16 limit, from, to, 16-byte log id, u64 after, 8-byte request id. */
export const SYNC_LOG_ID_BYTES = 16;
export const REQUEST_ID_BYTES = 8;
export const SYNC_REQUEST_BYTES = 4 + KEY_BYTES + KEY_BYTES + SYNC_LOG_ID_BYTES + 8 + REQUEST_ID_BYTES;
/** Sync page header: version, kind, count, flags, from, to, request id, log id, u64 after, u64 upto. */
export const SYNC_PAGE_HEADER_BYTES =
  4 + KEY_BYTES + KEY_BYTES + REQUEST_ID_BYTES + SYNC_LOG_ID_BYTES + 8 + 8;
/** Most entries one sync request may ask for: bounds the answer to 16 full pages. */
export const MAX_SYNC_LIMIT = 1024;

/** Never-ban list header: version, kind, count, reserved, from, to, u64 time, u64 expires. */
export const NEVER_BAN_LIST_HEADER_BYTES = 4 + KEY_BYTES + KEY_BYTES + 8 + 8;
/** One list entry: family (4 or 6), prefix length, 16 address bytes (IPv4 in the first 4). */
export const NEVER_BAN_ENTRY_BYTES = 18;
/** Most entries in one never-ban list: a friend can shield only a few addresses. */
export const MAX_NEVER_BAN_ENTRIES = WIRE_LIMITS.MAX_NEVER_BAN_ENTRIES;
/** Largest never-ban list frame: a full list. */
export const MAX_NEVER_BAN_LIST_BYTES =
  NEVER_BAN_LIST_HEADER_BYTES + MAX_NEVER_BAN_ENTRIES * NEVER_BAN_ENTRY_BYTES;
/** Widest prefix a list may hold, per family: a host, a home or an office, never a provider's block. */
export const NEVER_BAN_WIDEST_PREFIX: Readonly<Record<4 | 6, number>> = {
  4: WIRE_LIMITS.NEVER_BAN_WIDEST_PREFIX_V4,
  6: WIRE_LIMITS.NEVER_BAN_WIDEST_PREFIX_V6,
};
/** Longest a list may be in force after its time (ms): 7 days; a sender re-signs it on every sync answer. */
export const MAX_NEVER_BAN_LIST_LIFETIME_MS = 7 * 24 * 3600 * 1000;
