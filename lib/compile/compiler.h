/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * compiler.h - the filter compiler: assigned policy -> the ordered list of
 * specific filters the dataplane enforces (docs/behaviour.md §3).
 *
 *  - mirrored filters become two (addresses and ports swapped);
 *  - `me`, `dns`, `dhcp`, `gateway` become the host's current addresses
 *    (struct host_info), an address range becomes its CIDR blocks, and a
 *    filter with `any` on a side that names one family elsewhere keeps that
 *    family only; `any`/`any` gives one filter per family;
 *  - the default exemptions chosen by `ipsecexempt` (0-3) are added, IKE
 *    always; each as narrow as its purpose (compiler.c, "default
 *    exemptions"): IKE, Kerberos and RSVP are bound to the host's own
 *    addresses, so they are left out when there are none (fail closed),
 *    and packets forged with one of those addresses as source are
 *    blocked ahead of them (exempt:spoofed-self);
 *  - the list is sorted by filter_weight() (most specific first);
 *  - filters with the same selectors and different actions are merged into
 *    the most restrictive one (block > negotiate > permit), with a warning.
 */
#ifndef IXDP_COMPILER_H
#define IXDP_COMPILER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "ipsec_xdp.h"
#include "policy/policy.h"

/* One specific filter: one family, one prefix per side, one protocol. */
struct specific_filter {
	uint8_t fam;            /* enum ixdp_family_idx */
	uint8_t src[16], dst[16];/* network order; IPv4 in [0..3]; host bits 0 */
	uint8_t src_plen, dst_plen;
	bool proto_exact;
	uint8_t proto;          /* valid when proto_exact */
	struct port_spec sport, dport; /* 0,0 = any */
	uint8_t action;         /* enum ixdp_action */
	uint8_t flags;          /* enum ixdp_filter_flags */
	uint32_t weight;        /* filter_weight(this) */
	int rule;               /* index in policy->rules; -1: exemption */
	const char *name;       /* rule name or exemption name (static/owned by policy) */
	bool mirror;            /* the mirrored half of a filter */
	uint8_t ifgroup;        /* interface group (filter_table.groups); 0:
				   every interface */
};

/*
 * An interface group: the interfaces a rule applies on (its
 * `connection-type` and `interfaces`).  Group 0 is every interface.  An
 * interface is in a group when its kind fits conn and, if nnames > 0, its
 * name is one of names.
 */
struct ifgroup_def {
	uint8_t conn;           /* enum ixdp_conn_type */
	uint8_t nnames;
	char names[IXDP_IFGROUP_NAMES][IXDP_IFNAMSIZ];
};

struct filter_table {
	struct specific_filter *v;  /* sorted: v[0] is tried first */
	size_t n, cap;
	/* groups[0] is every interface; 0 groups (a table built by hand)
	 * means group 0 alone */
	struct ifgroup_def groups[IXDP_MAX_IFGROUPS];
	size_t ngroups;
};

/*
 * The groups of filter table t that apply on the interface `name` of kind
 * `kind` (IXDP_CONN_LAN or IXDP_CONN_REMOTE), as a bit mask; bit 0 (every
 * interface) is always set.
 */
uint16_t ifgroups_of_iface(const struct filter_table *t, const char *name,
			   enum ixdp_conn_type kind);

/* "every interface", "lan", "remote", "eth0,eth1", "lan: eth0" ... */
void format_ifgroup(const struct ifgroup_def *g, char *buf, size_t len);

/* Does filter f apply on an interface whose groups are ifmask? */
static inline bool filter_applies(const struct specific_filter *f, uint16_t ifmask)
{
	return f->ifgroup == 0 || ((ifmask >> f->ifgroup) & 1);
}

/* The host's current addresses, for me/dns/dhcp/gateway/wins and broadcasts. */
struct host_prefix {
	struct ip_addr addr;
	uint8_t plen;
};

struct host_info {
	struct host_prefix *me;     /* own addresses, with their prefix length */
	size_t nme;
	struct ip_addr *dns;
	size_t ndns;
	struct ip_addr *dhcp;
	size_t ndhcp;
	struct ip_addr *gateway;
	size_t ngateway;
	struct ip_addr *wins;
	size_t nwins;
};

/* Warnings collected while compiling (conflicts, empty expansions). */
struct compile_diag {
	char (*warnings)[512];
	size_t nwarnings, cap;
};

/*
 * THE weight function: larger = more specific = tried first.  Documented in
 * ipsec-xdp.policy(5); every tuple of the dataplane has one weight.
 */
uint32_t filter_weight(const struct specific_filter *f);

/*
 * Compile the assigned policy of pf.  ipsecexempt is 0..3 (docs/behaviour.md §3).
 * Returns 0, or -1 with err set (e.g. the list exceeds IXDP_MAX_FILTERS).
 */
int compile_policy(const struct policy_file *pf, const struct host_info *host,
		   int ipsecexempt, struct filter_table *out,
		   struct compile_diag *diag, struct policy_error *err);

/*
 * Only the default exemptions of level ipsecexempt, sorted, for the host
 * (its addresses; NULL: no host information, then only the multicast and
 * limited broadcast exemptions, which name no host address, can be
 * produced -- never a wider IKE, Kerberos or RSVP exemption).  The
 * spoofed-self blocks are exemptions too (action block).  Returns 0,
 * or -1 (bad level, out of memory) with out empty.
 */
int compile_exemptions(int ipsecexempt, const struct host_info *host,
		       struct filter_table *out);

void filter_table_free(struct filter_table *t);

/* Append a copy (grows the table). 0 or -1 on ENOMEM. */
int filter_table_push(struct filter_table *t, const struct specific_filter *f);

/*
 * Sort into enforcement order: weight (descending), then the rest of the
 * filter's shape (so that filters of one dataplane tuple are adjacent),
 * then restrictiveness (block first), then original order.  Sets weight.
 * 0, or -1 on ENOMEM (table unchanged but for weights).
 */
int filter_table_sort(struct filter_table *t);

/* Same shape = same dataplane tuple. */
bool specific_filter_same_shape(const struct specific_filter *a,
				const struct specific_filter *b);

/* Same selectors (shape and values) on the same interfaces (group);
 * actions may differ. */
bool specific_filter_same_selectors(const struct specific_filter *a,
				    const struct specific_filter *b);
/* same[i] (an array of t->n): the next filter after i in table order with
 * filter i's selectors, or FILTER_NO_SAME.  -1: out of memory. */
#define FILTER_NO_SAME SIZE_MAX
int filter_table_link_same_selectors(const struct filter_table *t, size_t *same);

enum ixdp_port_kind port_kind(const struct port_spec *p);
/* Add a warning from outside the compiler (e.g. policy_warnings()). */
void compile_diag_add_text(struct compile_diag *d, const char *text);
void compile_diag_free(struct compile_diag *d);

/* A packet's selectors, for matching. */
struct pkt_tuple {
	uint8_t fam;            /* enum ixdp_family_idx */
	uint8_t src[16], dst[16];
	uint8_t proto;
	uint16_t sport, dport;  /* host order; 0 when the protocol has none */
	bool frag;              /* non-first fragment: ports unknown, so only
				   filters with both ports `any` can match */
	uint16_t ifmask;        /* the interface groups of the interface it
				   passes (ifgroups_of_iface); 0: group 0 only */
};

/*
 * The reference matcher: the first filter of the sorted list that matches
 * and applies on the packet's interface (p->ifmask): a filter of a group
 * the interface is not in is as if absent.  A linear scan, for `ipsec-xdp
 * match` and as the tests' oracle for the dataplane.  Returns its index,
 * or -1 if none matches (= permitted).
 */
long filter_table_match(const struct filter_table *t, const struct pkt_tuple *p);

/* Does one filter match one packet? */
bool specific_filter_matches(const struct specific_filter *f,
			     const struct pkt_tuple *p);

/* Read the host's addresses (netlink, /etc/resolv.conf, DHCP leases). */
int host_info_read(struct host_info *h, char *errbuf, size_t errlen);
void host_info_free(struct host_info *h);

/* "10.0.0.0/8", "::1/128" ... */
void format_prefix(uint8_t fam, const uint8_t *addr, uint8_t plen, char *buf,
		   size_t len);

#endif /* IXDP_COMPILER_H */
