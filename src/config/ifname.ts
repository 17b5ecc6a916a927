/** What the kernel takes as an interface name (and what ip's batch parser reads back as one word). */
export const IFNAME = /^[A-Za-z0-9._-]{1,15}$/;
