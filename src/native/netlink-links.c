/*
 * A container's veth pair over rtnetlink, for the spawn helper (wharf-spawn.c): the messages that
 * iproute2 sends for the same commands, without starting `ip` three times per container start
 * (each start of that program costs several milliseconds of CPU here, its shared libraries'
 * loading mostly) and once more for the deletion.
 */
#define _GNU_SOURCE
#include "netlink-links.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

union nlbuf {
	struct nlmsghdr h;
	unsigned char raw[4096];
};

static int nl_socket(void)
{
	return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
}

static struct nlmsghdr *nl_begin(union nlbuf *b, uint16_t type, uint16_t flags, const void *hdr, size_t hlen)
{
	memset(b, 0, sizeof *b);
	b->h.nlmsg_len = NLMSG_LENGTH(hlen);
	b->h.nlmsg_type = type;
	b->h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	memcpy(NLMSG_DATA(&b->h), hdr, hlen);
	return &b->h;
}

/* Appends an attribute; the buffer is far larger than any message here (names are IFNAMSIZ at most). */
static struct rtattr *nl_attr(struct nlmsghdr *h, uint16_t type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));
	a->rta_type = type;
	a->rta_len = RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
	return a;
}

static struct rtattr *nl_str(struct nlmsghdr *h, uint16_t type, const char *s)
{
	return nl_attr(h, type, s, strlen(s) + 1);
}

static struct rtattr *nl_u32(struct nlmsghdr *h, uint16_t type, uint32_t v)
{
	return nl_attr(h, type, &v, sizeof v);
}

/* Closes a nested attribute opened by nl_attr: it spans everything appended since. */
static void nl_end(struct nlmsghdr *h, struct rtattr *nest)
{
	nest->rta_len = (unsigned short)((char *)h + h->nlmsg_len - (char *)nest);
}

/* Sends one request and waits for its acknowledgement: 0, or -1 with the kernel's errno. */
static int nl_talk(int fd, struct nlmsghdr *h)
{
	static uint32_t seq;
	h->nlmsg_seq = ++seq;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	while (sendto(fd, h, h->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
		if (errno != EINTR)
			return -1;
	}
	union nlbuf reply;
	for (;;) {
		ssize_t got = recv(fd, &reply, sizeof reply, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		int len = (int)got;
		for (struct nlmsghdr *r = &reply.h; NLMSG_OK(r, len); r = NLMSG_NEXT(r, len)) {
			if (r->nlmsg_seq != h->nlmsg_seq || r->nlmsg_type != NLMSG_ERROR)
				continue;
			int err = ((struct nlmsgerr *)NLMSG_DATA(r))->error;
			if (err) {
				errno = -err;
				return -1;
			}
			return 0;
		}
	}
}

/* A link message about no link by index (a name attribute says which, or makes one). */
static struct nlmsghdr *link_msg(union nlbuf *b, uint16_t type, uint16_t flags)
{
	struct ifinfomsg none = { .ifi_family = AF_UNSPEC };
	return nl_begin(b, type, flags, &none, sizeof none);
}

/* `ip link set dev <name> up [master <index>]`. */
static int link_up(int fd, const char *name, unsigned master)
{
	union nlbuf b;
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_flags = IFF_UP, .ifi_change = IFF_UP };
	struct nlmsghdr *h = nl_begin(&b, RTM_NEWLINK, 0, &ifi, sizeof ifi);
	nl_str(h, IFLA_IFNAME, name);
	if (master)
		nl_u32(h, IFLA_MASTER, master);
	return nl_talk(fd, h);
}

/*
 * `ip link set dev <name> type bridge_slave hairpin on`: the bridge sends a frame back out of the
 * port it came in by. Published ports are DNATed for every source, containers included (Docker
 * without its userland proxy), so a container reaching its own published port through the host's
 * address or its gateway gets its packets back only this way, as libnetwork sets it then.
 */
static int port_hairpin(int fd, const char *name)
{
	union nlbuf b;
	struct nlmsghdr *h = link_msg(&b, RTM_NEWLINK, 0);
	nl_str(h, IFLA_IFNAME, name);
	struct rtattr *info = nl_attr(h, IFLA_LINKINFO, NULL, 0);
	nl_str(h, IFLA_INFO_SLAVE_KIND, "bridge");
	struct rtattr *data = nl_attr(h, IFLA_INFO_SLAVE_DATA, NULL, 0);
	unsigned char on = 1;
	nl_attr(h, IFLA_BRPORT_MODE, &on, sizeof on);
	nl_end(h, data);
	nl_end(h, info);
	return nl_talk(fd, h);
}

/* An address and its prefix length from "addr/len". */
static int parse_prefix(const char *s, int family, void *addr, unsigned char *len)
{
	char copy[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	if (n >= sizeof copy)
		return -1;
	memcpy(copy, s, n);
	copy[n] = 0;
	if (inet_pton(family, copy, addr) != 1)
		return -1;
	unsigned max = family == AF_INET ? 32 : 128;
	if (!slash) {
		*len = (unsigned char)max;
		return 0;
	}
	char *end;
	unsigned long v = strtoul(slash + 1, &end, 10);
	if (*end || end == slash + 1 || v > max)
		return -1;
	*len = (unsigned char)v;
	return 0;
}

/* `ip addr add <prefix> dev <index> [nodad]`. */
static int addr_add(int fd, int family, const char *prefix, unsigned index, uint32_t flags)
{
	unsigned char addr[16], len;
	if (parse_prefix(prefix, family, addr, &len) < 0) {
		errno = EINVAL;
		return -1;
	}
	union nlbuf b;
	struct ifaddrmsg ifa = { .ifa_family = (unsigned char)family, .ifa_prefixlen = len, .ifa_flags = (unsigned char)flags, .ifa_index = index };
	struct nlmsghdr *h = nl_begin(&b, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &ifa, sizeof ifa);
	size_t alen = family == AF_INET ? 4 : 16;
	nl_attr(h, IFA_LOCAL, addr, alen);
	nl_attr(h, IFA_ADDRESS, addr, alen);
	if (family == AF_INET && len < 31) {
		/* The subnet's broadcast address, as Docker's netlink library sets it (`ip` does not). */
		uint32_t host_bits = len ? 0xffffffffu >> len : 0xffffffffu;
		uint32_t brd;
		memcpy(&brd, addr, 4);
		brd = htonl(ntohl(brd) | host_bits);
		nl_attr(h, IFA_BROADCAST, &brd, 4);
	}
	if (flags)
		nl_u32(h, IFA_FLAGS, flags);
	return nl_talk(fd, h);
}

/* `ip [-6] route replace default via <gateway> dev <index>`. */
static int default_route(int fd, int family, const char *gateway, unsigned index)
{
	unsigned char gw[16];
	if (inet_pton(family, gateway, gw) != 1) {
		errno = EINVAL;
		return -1;
	}
	union nlbuf b;
	struct rtmsg rtm = {
		.rtm_family = (unsigned char)family,
		.rtm_table = RT_TABLE_MAIN,
		.rtm_protocol = RTPROT_BOOT,
		.rtm_scope = RT_SCOPE_UNIVERSE,
		.rtm_type = RTN_UNICAST,
	};
	struct nlmsghdr *h = nl_begin(&b, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, &rtm, sizeof rtm);
	nl_attr(h, RTA_GATEWAY, gw, family == AF_INET ? 4 : 16);
	nl_u32(h, RTA_OIF, index);
	return nl_talk(fd, h);
}

static int parse_mac(const char *s, unsigned char mac[6])
{
	char tail;
	if (sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx%c", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5], &tail) != 6) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* The inside end's IPv6 switch, set before it goes up; a kernel without IPv6 has no such file. */
static int ipv6_switch(const char *ifname, int disable)
{
	char path[64 + IFNAMSIZ];
	snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
	int f = open(path, O_WRONLY | O_CLOEXEC);
	if (f < 0)
		return errno == ENOENT ? 0 : -1;
	int rc = write(f, disable ? "1" : "0", 1) == 1 ? 0 : -1;
	int saved = errno;
	close(f);
	errno = saved;
	return rc;
}

int veth_setup(const struct veth_request *r)
{
	if (strlen(r->ifname) >= IFNAMSIZ || strlen(r->peer) >= IFNAMSIZ) {
		errno = ENAMETOOLONG;
		return -1;
	}
	unsigned char mac[6];
	if (parse_mac(r->mac, mac) < 0)
		return -1;
	/* The caller's namespace: its socket and the bridge are looked up before leaving it. */
	int host = nl_socket();
	int hostns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	unsigned bridge = if_nametoindex(r->bridge);
	if (host < 0 || hostns < 0 || !bridge)
		return -1;
	int ns = open(r->netns, O_RDONLY | O_CLOEXEC);
	if (ns < 0 || setns(ns, CLONE_NEWNET) < 0)
		return -1;
	int fd = nl_socket();
	if (fd < 0)
		return -1;

	union nlbuf b;
	struct nlmsghdr *h = link_msg(&b, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	nl_str(h, IFLA_IFNAME, r->ifname);
	nl_u32(h, IFLA_MTU, r->mtu);
	/* Docker's veths have no transmit queue length (they use no queueing discipline anyway). */
	nl_u32(h, IFLA_TXQLEN, 0);
	nl_attr(h, IFLA_ADDRESS, mac, sizeof mac);
	struct rtattr *info = nl_attr(h, IFLA_LINKINFO, NULL, 0);
	nl_str(h, IFLA_INFO_KIND, "veth");
	struct rtattr *data = nl_attr(h, IFLA_INFO_DATA, NULL, 0);
	struct ifinfomsg peer_link = { .ifi_family = AF_UNSPEC };
	struct rtattr *peer = nl_attr(h, VETH_INFO_PEER, &peer_link, sizeof peer_link);
	nl_str(h, IFLA_IFNAME, r->peer);
	nl_u32(h, IFLA_MTU, r->mtu);
	nl_u32(h, IFLA_TXQLEN, 0);
	nl_u32(h, IFLA_NET_NS_FD, (uint32_t)hostns);
	nl_end(h, peer);
	nl_end(h, data);
	nl_end(h, info);
	if (nl_talk(fd, h) < 0)
		return -1;

	unsigned index = if_nametoindex(r->ifname);
	if (!index || ipv6_switch(r->ifname, !*r->addr6) < 0)
		return -1;
	if (*r->addr4 && addr_add(fd, AF_INET, r->addr4, index, 0) < 0)
		return -1;
	if (*r->addr6 && addr_add(fd, AF_INET6, r->addr6, index, IFA_F_NODAD) < 0)
		return -1;
	if (link_up(fd, "lo", 0) < 0 || link_up(fd, r->ifname, 0) < 0)
		return -1;
	if (*r->gw4 && default_route(fd, AF_INET, r->gw4, index) < 0)
		return -1;
	if (*r->gw6 && default_route(fd, AF_INET6, r->gw6, index) < 0)
		return -1;
	if (link_up(host, r->peer, bridge) < 0)
		return -1;
	return port_hairpin(host, r->peer);
}

int link_delete(const char *name)
{
	if (strlen(name) >= IFNAMSIZ) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = nl_socket();
	if (fd < 0)
		return -1;
	union nlbuf b;
	struct nlmsghdr *h = link_msg(&b, RTM_DELLINK, 0);
	nl_str(h, IFLA_IFNAME, name);
	return nl_talk(fd, h);
}
