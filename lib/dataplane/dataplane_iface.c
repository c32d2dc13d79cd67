// SPDX-License-Identifier: GPL-2.0-only
/* dataplane_iface.c - see dataplane_iface.h. */
#include <errno.h>
#include <stdbool.h>
#include <net/if.h>
#include <net/if_arp.h>
#ifndef ARPHRD_IP6GRE
#define ARPHRD_IP6GRE 823 /* linux/if_arp.h: GRE over IPv6 */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "dataplane/dataplane_iface.h"
#include "dataplane/dataplane_internal.h"

_Static_assert((int)IXDP_CONN_LAN == (int)CONN_LAN &&
	       (int)IXDP_CONN_REMOTE == (int)CONN_REMOTE,
	       "policy and dataplane number connection types alike");

/* Link types whose packets carry no link-layer header. */
static bool arphrd_is_l3(unsigned type)
{
	switch (type) {
	case ARPHRD_NONE:
	case ARPHRD_PPP:
	case ARPHRD_RAWIP:
	case ARPHRD_TUNNEL:
	case ARPHRD_TUNNEL6:
	case ARPHRD_SIT:
	case ARPHRD_IPGRE:
	case ARPHRD_IP6GRE:
		return true;
	}
	return false;
}

int dp_iface_info(const char *name, enum ixdp_conn_type *kind, __u16 *flags)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;
	bool p2p;

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		err = -errno;
		goto out;
	}
	p2p = ifr.ifr_flags & IFF_POINTOPOINT;
	*kind = p2p ? IXDP_CONN_REMOTE : IXDP_CONN_LAN;
	*flags = 0;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		err = -errno;
		goto out;
	}
	if (arphrd_is_l3(ifr.ifr_hwaddr.sa_family))
		*flags |= IXDP_IF_L3;
	if (ifr.ifr_hwaddr.sa_family == ARPHRD_NONE ||
	    ifr.ifr_hwaddr.sa_family == ARPHRD_PPP)
		*kind = IXDP_CONN_REMOTE;
out:
	close(fd);
	return err;
}

int dp_iface_kind(const char *name, enum ixdp_conn_type *kind)
{
	__u16 flags;

	return dp_iface_info(name, kind, &flags);
}

static void def_from_map(const struct ixdp_ifgroup *m, struct ifgroup_def *d)
{
	memset(d, 0, sizeof(*d));
	d->conn = m->conn <= IXDP_CONN_REMOTE ? m->conn : IXDP_CONN_ALL;
	d->nnames = m->nnames <= IXDP_IFGROUP_NAMES ? m->nnames : IXDP_IFGROUP_NAMES;
	memcpy(d->names, m->names, sizeof(d->names));
	for (size_t i = 0; i < IXDP_IFGROUP_NAMES; i++)
		d->names[i][IXDP_IFNAMSIZ - 1] = '\0';
}

/* The groups of one bank as a table (groups only, no filters). */
static int read_bank_groups(struct dp *dp, __u32 bank, struct filter_table *t)
{
	struct ixdp_ifgroup g[IXDP_MAX_IFGROUPS];
	int err = dp_array_read(dp->ifgroup_fd, bank * IXDP_MAX_IFGROUPS,
				IXDP_MAX_IFGROUPS, g, sizeof(g[0]));

	t->ngroups = 1;
	memset(&t->groups[0], 0, sizeof(t->groups[0]));
	if (err)
		return err;
	for (size_t i = 1; i < IXDP_MAX_IFGROUPS && g[i].used; i++)
		def_from_map(&g[i], &t->groups[t->ngroups++]);
	return 0;
}

int dp_read_ifgroups(struct dp *dp, struct filter_table *t)
{
	__u32 live;
	int err = dp_read_bank(dp, &live, NULL);

	return err ? err : read_bank_groups(dp, live, t);
}

/* Set bank `bank` of interface ifindex's mask to `groups`, the other
 * bank kept. */
static int write_mask(struct dp *dp, __u32 ifindex, __u32 bank, __u16 groups,
		      __u16 flags)
{
	struct ixdp_ifmask m;

	if (bpf_map_lookup_elem(dp->ifmask_fd, &ifindex, &m))
		memset(&m, 0, sizeof(m));
	m.groups[bank & 1] = groups;
	m.flags = flags;
	return bpf_map_update_elem(dp->ifmask_fd, &ifindex, &m, BPF_ANY) ? -errno : 0;
}

/* Entries of interfaces that are gone: an ifindex used again later
 * must not inherit them. */
static void drop_gone(struct dp *dp)
{
	__u32 key, next, *prev = NULL;
	char name[IF_NAMESIZE];

	while (bpf_map_get_next_key(dp->ifmask_fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (!if_indextoname(next, name) && errno == ENXIO)
			bpf_map_delete_elem(dp->ifmask_fd, &next);
	}
}

static void group_to_map(const struct ifgroup_def *d, struct ixdp_ifgroup *m)
{
	memset(m, 0, sizeof(*m));
	m->used = 1;
	m->conn = d->conn;
	m->nnames = d->nnames;
	memcpy(m->names, d->names, sizeof(m->names));
}

int dp_write_ifgroups(struct dp *dp, __u32 bank, const struct filter_table *t)
{
	struct ixdp_ifgroup g[IXDP_MAX_IFGROUPS];
	struct if_nameindex *ifs, *i;
	int err = 0;

	memset(g, 0, sizeof(g));
	for (size_t k = 1; k < t->ngroups && k < IXDP_MAX_IFGROUPS; k++)
		group_to_map(&t->groups[k], &g[k]);
	for (__u32 k = 0; k < IXDP_MAX_IFGROUPS && !err; k++) {
		__u32 idx = bank * IXDP_MAX_IFGROUPS + k;

		if (bpf_map_update_elem(dp->ifgroup_fd, &idx, &g[k], BPF_ANY))
			err = -errno;
	}
	if (err)
		return err;
	drop_gone(dp);
	ifs = if_nameindex();
	if (!ifs)
		return -errno;
	for (i = ifs; i->if_index && !err; i++) {
		enum ixdp_conn_type kind;
		__u16 flags;

		if (dp_iface_info(i->if_name, &kind, &flags))
			continue;       /* gone meanwhile */
		err = write_mask(dp, i->if_index, bank,
				 ifgroups_of_iface(t, i->if_name, kind), flags);
	}
	if_freenameindex(ifs);
	return err;
}

int dp_refresh_ifmask(struct dp *dp, const char *name, char *errbuf, size_t errlen)
{
	unsigned ifindex = if_nametoindex(name);
	enum ixdp_conn_type kind;
	struct filter_table t;
	__u16 flags;
	int err;

	memset(&t, 0, sizeof(t));
	if (!ifindex || (err = dp_iface_info(name, &kind, &flags)))
		return dp_err(errbuf, errlen, "no interface named '%s'", name);
	for (__u32 bank = 0; bank < 2; bank++) {
		if ((err = read_bank_groups(dp, bank, &t)) ||
		    (err = write_mask(dp, ifindex, bank,
				      ifgroups_of_iface(&t, name, kind), flags)))
			return dp_err(errbuf, errlen, "cannot write the interface "
				      "groups of %s (ixdp_ifmask): %s", name,
				      strerror(-err));
	}
	return 0;
}
