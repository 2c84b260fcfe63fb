/** The sort keys of `f2bp2p bans`, apart from the command so the CLI parser loads no store code. */
export const BANS_SORT_KEYS = ["ip", "score", "first-seen", "expires"] as const;
export type BansSortKey = (typeof BANS_SORT_KEYS)[number];
