import { createRequire } from 'node:module';
import type * as Netlink from 'netlink';

const require = createRequire(import.meta.url);

/**
 * The two parts of the `netlink` package vmgate uses: the route family (link dumps) and the raw socket (nsid
 * requests). Its index also loads nl80211, generic netlink and wireguard: 60 ms of every command's start.
 */
export const { createRtNetlink } = require('netlink/dist/rt/rt.js') as Pick<typeof Netlink, 'createRtNetlink'>;
export const { createNetlink } = require('netlink/dist/netlink.js') as Pick<typeof Netlink, 'createNetlink'>;
