/* A container's veth pair and a link's removal over rtnetlink (netlink-links.c). */
#ifndef WHARF_NETLINK_LINKS_H
#define WHARF_NETLINK_LINKS_H

#include <stdint.h>

struct veth_request {
	const char *netns;   /* the container's network namespace (a bound file or /proc/<pid>/ns/net) */
	const char *ifname;  /* its end, inside: eth0, eth1… */
	const char *peer;    /* the host end, in the caller's namespace */
	const char *mac;     /* aa:bb:cc:dd:ee:ff, of the inside end */
	uint32_t mtu;
	const char *bridge;  /* the host end's master */
	const char *addr4;   /* a.b.c.d/len, or "" (an IPv6-only network) */
	const char *addr6;   /* x::y/len, or "": IPv6 then stays disabled on the inside end */
	const char *gw4;     /* the default route's gateway, or "" */
	const char *gw6;     /* the IPv6 default route's gateway, or "" */
};

/*
 * What `ip link add <ifname> … type veth peer name <peer> netns <caller>` run inside the
 * namespace, its IPv6 switch, `ip -batch` of the addresses, lo and the link up and the default
 * routes, then `ip link set <peer> master <bridge> up` in the caller's namespace do. For a forked
 * child only: it joins the namespace. Returns 0, or -1 with errno set.
 */
int veth_setup(const struct veth_request *r);

/* `ip link del dev <name>` in the caller's network namespace. Returns 0, or -1 with errno set. */
int link_delete(const char *name);

#endif
