import { createRequire } from 'node:module';
import type * as Netlink from 'netlink';

const require = createRequire(import.meta.url);

/**
 * The one part of the `netlink` package vmgate uses: the raw socket (link dumps and nsid requests, decoded by
 * vmgate: host/links.ts). Its index also loads the route family's full parser, nl80211, generic netlink and
 * wireguard: 60 ms of every command's start.
 */
export const { createNetlink } = require('netlink/dist/netlink.js') as Pick<typeof Netlink, 'createNetlink'>;
