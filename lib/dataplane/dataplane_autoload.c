// SPDX-License-Identifier: GPL-2.0-only
/* dataplane_autoload.c - see dataplane_autoload.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>

#include "dataplane/dataplane_autoload.h"
#include "dataplane/dataplane_iface.h"
#include "util/util_errbuf.h"

/* ---- the interfaces of the namespace ------------------------------------------- */

/* IFLA_INFO_KIND inside IFLA_LINKINFO, into kind. */
static void link_kind(const struct rtattr *info, char *kind, size_t len)
{
	int rest = (int)RTA_PAYLOAD(info);

	for (const struct rtattr *a = RTA_DATA(info); RTA_OK(a, rest); a = RTA_NEXT(a, rest))
		if (a->rta_type == IFLA_INFO_KIND && RTA_PAYLOAD(a) > 0)
			snprintf(kind, len, "%.*s", (int)RTA_PAYLOAD(a), (const char *)RTA_DATA(a));
}

/* One RTM_NEWLINK of the dump into *i: 0, or -1 when it names nothing. */
static int parse_link(const struct nlmsghdr *h, struct dp_netif *i)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	int rest = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*ifi));

	if (rest < 0)
		return -1;
	memset(i, 0, sizeof(*i));
	i->ifindex = ifi->ifi_index;
	i->flags = ifi->ifi_flags;
	for (const struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, rest); a = RTA_NEXT(a, rest)) {
		if (a->rta_type == IFLA_IFNAME && RTA_PAYLOAD(a) > 0)
			snprintf(i->name, sizeof(i->name), "%.*s", (int)RTA_PAYLOAD(a),
				 (const char *)RTA_DATA(a));
		else if (a->rta_type == IFLA_LINKINFO)
			link_kind(a, i->kind, sizeof(i->kind));
	}
	return i->name[0] ? 0 : -1;
}

static int add_netif(struct dp_netif **v, size_t *n, const struct dp_netif *i)
{
	struct dp_netif *nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv)
		return -1;
	*v = nv;
	nv[(*n)++] = *i;
	return 0;
}

/* Read the dump's answers until NLMSG_DONE: 0, 1 (more to read) or -errno. */
static int read_dump(int fd, __u32 seq, struct dp_netif **v, size_t *n)
{
	char buf[32768] __attribute__((aligned(NLMSG_ALIGNTO)));
	ssize_t got = recv(fd, buf, sizeof(buf), 0);
	int len = (int)got;

	if (got < 0)
		return -errno;
	for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
	     h = NLMSG_NEXT(h, len)) {
		struct dp_netif i;

		if (h->nlmsg_seq != seq)
			continue;
		if (h->nlmsg_type == NLMSG_DONE)
			return 0;
		if (h->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(h);

			return e->error ? e->error : -EPROTO;
		}
		if (h->nlmsg_type == RTM_NEWLINK && parse_link(h, &i) == 0 &&
		    add_netif(v, n, &i))
			return -ENOMEM;
	}
	return 1;
}

int dp_netifs_read(struct dp_netif **v, size_t *n, char *errbuf, size_t errlen)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg ifi;
	} req = {
		.h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)),
		       .nlmsg_type = RTM_GETLINK,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		       .nlmsg_seq = 1 },
		.ifi = { .ifi_family = AF_UNSPEC },
	};
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), rc = 1;

	*v = NULL;
	*n = 0;
	if (fd < 0)
		return errbuf_set(errbuf, errlen, "cannot list the interfaces: netlink: %s",
				  strerror(errno));
	if (send(fd, &req, req.h.nlmsg_len, 0) < 0)
		rc = -errno;
	while (rc == 1)
		rc = read_dump(fd, req.h.nlmsg_seq, v, n);
	close(fd);
	if (rc) {
		free(*v);
		*v = NULL;
		*n = 0;
		return errbuf_set(errbuf, errlen, "cannot list the interfaces: %s",
				  strerror(-rc));
	}
	return 0;
}

/* ---- what the configuration covers ---------------------------------------------- */

const char *dp_autoload_excluded(const struct dp_netif *i)
{
	if (i->flags & IFF_LOOPBACK)
		return "loopback";
	if (!strcmp(i->kind, "xfrm"))
		return "an xfrm interface (its packets are the inside of SAs)";
	return NULL;
}

bool dp_autoload_covers(const struct bootconf *c, const struct dp_netif *i)
{
	switch (c->loadifs) {
	case BOOTCONF_LOAD_ALL:
		return !dp_autoload_excluded(i);
	case BOOTCONF_LOAD_LIST:
		return bootconf_loadifs_names(c, i->name);
	default:
		return false;
	}
}

/* ---- attaching ------------------------------------------------------------------- */

static int write_groups(const char *root, const char *ifname, char *errbuf, size_t errlen)
{
	struct dp dp;
	int ret;

	if (dp_open(&dp, root, errbuf, errlen))
		return -1;
	ret = dp_refresh_ifmask(&dp, ifname, errbuf, errlen);
	dp_close(&dp);
	return ret;
}

int dp_autoload_iface(const char *root, const char *ifname, bool *attached,
		      char *errbuf, size_t errlen)
{
	struct dp_load_info info;
	char ignored[256];

	*attached = false;
	if (dp_verify_iface(root, ifname, ignored, sizeof(ignored)) == 0)
		return 0;
	if (dp_attach_pinned(root, ifname, DP_XDP_AUTO, &info, errbuf, errlen))
		return -1;
	if (dp_verify_iface(root, ifname, errbuf, errlen) ||
	    write_groups(root, ifname, errbuf, errlen)) {
		if (info.attached)
			dp_unload(root, ifname, ignored, sizeof(ignored));
		return -1;
	}
	*attached = info.attached;
	return 0;
}
