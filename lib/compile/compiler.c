// SPDX-License-Identifier: GPL-2.0-only
/*
 * compiler.c - the filter compiler: the assigned policy of a policy file
 * becomes the ordered list of specific filters (docs/behaviour.md §3, compiler.h).
 *
 * Steps: expand each side of every filter of every active rule into
 * prefixes of one family (any, me, dns, dhcp, gateway, ranges), pair the
 * sides of the same family, add the mirrored halves, add the default
 * exemptions of `ipsecexempt`, merge filters with the same selectors into
 * the most restrictive one, and sort by weight.
 *
 * The table passed as `out` must be initialised (zeroed, or a table used
 * before): its content is replaced.  On error it is left empty.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "compile/compiler.h"

/*
 * How many specific filters the expansion may produce before merging.
 * Merging can only shrink the list, so this only bounds the memory a
 * runaway policy (say, the product of two large IPv6 ranges) can take.
 */
#define MAX_EXPANDED (4u * IXDP_MAX_FILTERS)

/* One side of a specific filter: a prefix of one family. */
struct prefix {
	uint8_t fam;        /* enum ixdp_family_idx */
	uint8_t addr[16];   /* host bits 0 */
	uint8_t plen;
};

struct prefix_list {
	struct prefix *v;
	size_t n, cap;
};

struct compile_ctx {
	const struct policy_file *pf;
	const struct host_info *host;
	struct filter_table *out;
	struct compile_diag *diag;
	struct policy_error *err;
	uint8_t ifgroup;        /* the interface group of the rule compiled */
	/* the sides of the filter compiled: kept from one filter to the next,
	 * so that 10000 filters are not 20000 allocations */
	struct prefix_list src, dst;
};

/* ---- diagnostics --------------------------------------------------------- */

static void diag_add(struct compile_diag *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A warning that cannot be stored (no diag, or out of memory) is dropped:
 * warnings never make a compilation fail. */
static void diag_add(struct compile_diag *d, const char *fmt, ...)
{
	va_list ap;

	if (!d)
		return;
	if (d->nwarnings == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		char (*w)[512] = realloc(d->warnings, cap * sizeof(*w));

		if (!w)
			return;
		d->warnings = w;
		d->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(d->warnings[d->nwarnings], sizeof(d->warnings[0]), fmt, ap);
	va_end(ap);
	d->nwarnings++;
}

void compile_diag_add_text(struct compile_diag *d, const char *text)
{
	diag_add(d, "%s", text);
}

void compile_diag_free(struct compile_diag *d)
{
	if (!d)
		return;
	free(d->warnings);
	memset(d, 0, sizeof(*d));
}

static void set_error(struct compile_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_error(struct compile_ctx *c, const char *fmt, ...)
{
	const struct policy *p = c->pf->assigned;
	va_list ap;

	if (!c->err)
		return;
	memset(c->err, 0, sizeof(*c->err));
	snprintf(c->err->file, sizeof(c->err->file), "%s",
		 c->pf->path ? c->pf->path : "(policy)");
	c->err->line = p ? p->pos.line : 0;
	c->err->column = p ? p->pos.column : 0;
	va_start(ap, fmt);
	vsnprintf(c->err->msg, sizeof(c->err->msg), fmt, ap);
	va_end(ap);
}

static const char *action_word(uint8_t action)
{
	switch (action) {
	case IXDP_ACT_PERMIT:
		return "permit";
	case IXDP_ACT_NEGOTIATE:
		return "negotiate";
	case IXDP_ACT_BLOCK:
		return "block";
	}
	return "?";
}

static void format_ports(const struct port_spec *p, char *buf, size_t len)
{
	if (port_kind(p) == IXDP_PORT_ANY)
		snprintf(buf, len, "any");
	else if (p->lo == p->hi)
		snprintf(buf, len, "%u", p->lo);
	else
		snprintf(buf, len, "%u-%u", p->lo, p->hi);
}

/* "10.0.0.1 -> 10.0.0.2 proto 6 port any -> 80" */
static void describe_filter(const struct specific_filter *f, char *buf, size_t len)
{
	char src[64], dst[64], sp[16], dp[16], proto[16];

	format_prefix(f->fam, f->src, f->src_plen, src, sizeof(src));
	format_prefix(f->fam, f->dst, f->dst_plen, dst, sizeof(dst));
	format_ports(&f->sport, sp, sizeof(sp));
	format_ports(&f->dport, dp, sizeof(dp));
	if (f->proto_exact)
		snprintf(proto, sizeof(proto), "%u", f->proto);
	else
		snprintf(proto, sizeof(proto), "any");
	snprintf(buf, len, "%s -> %s proto %s port %s -> %s", src, dst, proto,
		 sp, dp);
}

/* ---- prefixes ------------------------------------------------------------- */

static size_t fam_bytes(uint8_t fam)
{
	return fam == IXDP_FAM_V4 ? 4 : 16;
}

static unsigned fam_bits(uint8_t fam)
{
	return fam == IXDP_FAM_V4 ? 32 : 128;
}

/* AF_INET/AF_INET6 -> enum ixdp_family_idx, or -1. */
static int fam_of(uint8_t af)
{
	if (af == AF_INET)
		return IXDP_FAM_V4;
	if (af == AF_INET6)
		return IXDP_FAM_V6;
	return -1;
}

static void clear_host_bits(uint8_t *addr, unsigned plen, size_t nbytes)
{
	for (size_t i = 0; i < nbytes; i++) {
		unsigned first_bit = (unsigned)i * 8;

		if (plen <= first_bit)
			addr[i] = 0;
		else if (plen < first_bit + 8)
			addr[i] &= (uint8_t)(0xff << (first_bit + 8 - plen));
	}
}

static int prefix_list_add(struct prefix_list *l, uint8_t fam,
			   const uint8_t *addr, unsigned plen)
{
	struct prefix *p;

	if (plen > fam_bits(fam))
		plen = fam_bits(fam);
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct prefix *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	p = &l->v[l->n++];
	memset(p, 0, sizeof(*p));
	p->fam = fam;
	p->plen = (uint8_t)plen;
	memcpy(p->addr, addr, fam_bytes(fam));
	clear_host_bits(p->addr, plen, fam_bytes(fam));
	return 0;
}

static int add_ip(struct prefix_list *l, const struct ip_addr *a, unsigned plen)
{
	int fam = fam_of(a->family);

	if (fam < 0)
		return 0; /* not an address of a family filters know */
	return prefix_list_add(l, (uint8_t)fam, a->bytes, plen);
}

static int add_host(struct prefix_list *l, const struct ip_addr *a)
{
	int fam = fam_of(a->family);

	return fam < 0 ? 0 : add_ip(l, a, fam_bits((uint8_t)fam));
}

static int add_hosts(struct prefix_list *l, const struct ip_addr *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (add_host(l, &v[i]))
			return -1;
	return 0;
}

static int add_any(struct prefix_list *l)
{
	static const uint8_t zero[16];

	if (prefix_list_add(l, IXDP_FAM_V4, zero, 0))
		return -1;
	return prefix_list_add(l, IXDP_FAM_V6, zero, 0);
}

/* Range arithmetic on big-endian byte strings of nbytes. */

static unsigned trailing_zero_bits(const uint8_t *a, size_t nbytes)
{
	unsigned n = 0;

	for (size_t i = nbytes; i-- > 0;) {
		if (a[i] == 0) {
			n += 8;
			continue;
		}
		for (uint8_t b = a[i]; !(b & 1); b >>= 1)
			n++;
		break;
	}
	return n;
}

/* out = a with its k lowest bits set: the last address of a's 2^k block. */
static void block_end(const uint8_t *a, unsigned k, size_t nbytes, uint8_t *out)
{
	memcpy(out, a, nbytes);
	for (size_t i = nbytes; i-- > 0 && k > 0;) {
		unsigned bits = k < 8 ? k : 8;

		out[i] |= (uint8_t)((1u << bits) - 1);
		k -= bits;
	}
}

static void increment(uint8_t *a, size_t nbytes)
{
	for (size_t i = nbytes; i-- > 0;)
		if (++a[i] != 0)
			break;
}

/*
 * The minimal CIDR blocks covering lo..hi: from lo upwards, always the
 * largest block that starts at the current address and ends inside the
 * range.
 */
static int add_range(struct prefix_list *l, uint8_t fam, const uint8_t *lo,
		     const uint8_t *hi)
{
	size_t nbytes = fam_bytes(fam);
	unsigned bits = fam_bits(fam);
	uint8_t cur[16] = {0}, end[16] = {0};

	if (memcmp(lo, hi, nbytes) > 0)
		return 0; /* empty range: reported as "names no address" */
	memcpy(cur, lo, nbytes);
	for (;;) {
		unsigned k = trailing_zero_bits(cur, nbytes);

		if (k > bits)
			k = bits;
		for (block_end(cur, k, nbytes, end); memcmp(end, hi, nbytes) > 0;
		     block_end(cur, k, nbytes, end))
			k--;
		if (prefix_list_add(l, fam, cur, bits - k))
			return -1;
		if (!memcmp(end, hi, nbytes))
			return 0;
		memcpy(cur, end, nbytes);
		increment(cur, nbytes);
	}
}

static int add_range_spec(struct prefix_list *l, const struct addr_spec *s)
{
	int fam = fam_of(s->addr.family);

	if (fam < 0 || s->hi.family != s->addr.family)
		return 0;
	return add_range(l, (uint8_t)fam, s->addr.bytes, s->hi.bytes);
}

static int add_me(struct prefix_list *l, const struct host_info *h)
{
	for (size_t i = 0; h && i < h->nme; i++)
		if (add_host(l, &h->me[i].addr))
			return -1;
	return 0;
}

static int expand_side(const struct addr_spec *s, const struct host_info *h,
		       struct prefix_list *l)
{
	switch (s->kind) {
	case ADDR_ANY:
		return add_any(l);
	case ADDR_PREFIX:
		return add_ip(l, &s->addr, s->plen);
	case ADDR_RANGE:
		return add_range_spec(l, s);
	case ADDR_ME:
		return add_me(l, h);
	case ADDR_DNS:
		return h ? add_hosts(l, h->dns, h->ndns) : 0;
	case ADDR_DHCP:
		return h ? add_hosts(l, h->dhcp, h->ndhcp) : 0;
	case ADDR_GATEWAY:
		return h ? add_hosts(l, h->gateway, h->ngateway) : 0;
	case ADDR_WINS:
		return h ? add_hosts(l, h->wins, h->nwins) : 0;
	}
	return 0;
}

/* How a side that expanded to nothing is named in the warning. */
static const char *side_word(const struct addr_spec *s)
{
	switch (s->kind) {
	case ADDR_ME:
		return "me";
	case ADDR_DNS:
		return "dns";
	case ADDR_DHCP:
		return "dhcp";
	case ADDR_GATEWAY:
		return "gateway";
	case ADDR_WINS:
		return "wins";
	case ADDR_RANGE:
		return "the address range";
	default:
		return "the address";
	}
}

/* ---- policy filters -------------------------------------------------------- */

static void normalise_port(struct port_spec *p)
{
	if (port_kind(p) == IXDP_PORT_ANY)
		p->lo = p->hi = 0;  /* 0-65535 and 0 are both `any` */
}

static uint8_t action_flags(const struct filter_action *a)
{
	uint8_t flags = 0;

	/* inpass and soft only mean something where IPsec is negotiated */
	if (a->kind != FA_NEGOTIATE)
		return 0;
	if (a->inpass)
		flags |= IXDP_F_INPASS;
	if (a->soft)
		flags |= IXDP_F_SOFT;
	return flags;
}

/* The part of a specific filter that does not depend on the addresses. */
static void filter_template(const struct rule *r, int rule_idx,
			    const struct filter_spec *fs,
			    struct specific_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->proto_exact = fs->proto != PROTO_ANY;
	f->proto = f->proto_exact ? (uint8_t)fs->proto : 0;
	f->sport = fs->sport;
	f->dport = fs->dport;
	normalise_port(&f->sport);
	normalise_port(&f->dport);
	f->action = (uint8_t)r->action->kind;
	f->flags = action_flags(r->action);
	f->rule = rule_idx;
	f->name = r->name;
}

static int push_filter(struct compile_ctx *c, const struct specific_filter *f)
{
	if (c->out->n >= MAX_EXPANDED) {
		set_error(c, "limit exceeded: specific filters "
			  "(IXDP_MAX_FILTERS): policy \"%s\" expands to more "
			  "than %u; at most %u fit the dataplane: use fewer or wider filters",
			  c->pf->assigned->name, MAX_EXPANDED, IXDP_MAX_FILTERS);
		return -1;
	}
	if (filter_table_push(c->out, f)) {
		set_error(c, "out of memory while expanding policy \"%s\"",
			  c->pf->assigned->name);
		return -1;
	}
	return 0;
}

static void swap_sides(struct specific_filter *f)
{
	uint8_t addr[16], plen = f->src_plen;
	struct port_spec port = f->sport;

	memcpy(addr, f->src, sizeof(addr));
	memcpy(f->src, f->dst, sizeof(addr));
	memcpy(f->dst, addr, sizeof(addr));
	f->src_plen = f->dst_plen;
	f->dst_plen = plen;
	f->sport = f->dport;
	f->dport = port;
}

/* One (source, destination) pair, and its mirror when asked for. */
static int push_pair(struct compile_ctx *c, const struct specific_filter *tmpl,
		     const struct prefix *s, const struct prefix *d,
		     bool mirrored)
{
	struct specific_filter f = *tmpl, m;

	f.fam = s->fam;
	memcpy(f.src, s->addr, sizeof(f.src));
	memcpy(f.dst, d->addr, sizeof(f.dst));
	f.src_plen = s->plen;
	f.dst_plen = d->plen;
	if (push_filter(c, &f))
		return -1;
	if (!mirrored)
		return 0;
	m = f;
	swap_sides(&m);
	m.mirror = true;
	if (specific_filter_same_selectors(&f, &m))
		return 0; /* symmetric filter: its mirror adds nothing */
	return push_filter(c, &m);
}

static void warn_inactive(struct compile_ctx *c, const struct rule *r,
			  const struct filter_spec *fs, const char *why)
{
	diag_add(c->diag, "rule %s, filter at %s:%u: %s; the filter is inactive",
		 r->name, fs->pos.file ? fs->pos.file : "?", fs->pos.line, why);
}

/* ICMP exists in IPv4 only and ICMPv6 in IPv6 only: a filter `any` with
 * either protocol gets no filter of the other family, which would never
 * match a packet. */
static bool proto_fits_family(const struct specific_filter *tmpl, uint8_t fam)
{
	if (!tmpl->proto_exact)
		return true;
	if (tmpl->proto == IPPROTO_ICMP)
		return fam == IXDP_FAM_V4;
	if (tmpl->proto == IPPROTO_ICMPV6)
		return fam == IXDP_FAM_V6;
	return true;
}

static int pair_sides(struct compile_ctx *c, const struct rule *r,
		      const struct filter_spec *fs,
		      const struct specific_filter *tmpl,
		      const struct prefix_list *src, const struct prefix_list *dst)
{
	size_t before = c->out->n;

	for (size_t i = 0; i < src->n; i++) {
		const struct prefix *s = &src->v[i];

		if (!proto_fits_family(tmpl, s->fam))
			continue;
		for (size_t j = 0; j < dst->n; j++)
			if (s->fam == dst->v[j].fam &&
			    push_pair(c, tmpl, s, &dst->v[j], fs->mirrored))
				return -1;
	}
	if (c->out->n == before)
		warn_inactive(c, r, fs, "its source, destination and protocol "
			      "have no address family in common now");
	return 0;
}

static int compile_filter(struct compile_ctx *c, const struct rule *r,
			  int rule_idx, const struct filter_spec *fs)
{
	struct prefix_list *src = &c->src, *dst = &c->dst;
	struct specific_filter tmpl;
	char why[128];

	src->n = dst->n = 0;
	if (expand_side(&fs->src, c->host, src) ||
	    expand_side(&fs->dst, c->host, dst)) {
		set_error(c, "out of memory while expanding rule \"%s\"", r->name);
		return -1;
	}
	if (!src->n || !dst->n) {
		snprintf(why, sizeof(why), "`%s` names no address now",
			 side_word(src->n ? &fs->dst : &fs->src));
		warn_inactive(c, r, fs, why);
		return 0;
	}
	filter_template(r, rule_idx, fs, &tmpl);
	tmpl.ifgroup = c->ifgroup;
	return pair_sides(c, r, fs, &tmpl, src, dst);
}

/* IKEv2 negotiates one protocol per CHILD SA (RFC 7296 §3.3): an ah-esp
 * method is valid in a policy but ipsec-xdpd skips it; say so. */
static void warn_ah_esp(struct compile_ctx *c, const struct rule *r)
{
	const struct filter_action *a = r->action;
	size_t i, skipped = 0;

	if (a->kind != FA_NEGOTIATE)
		return;
	for (i = 0; i < a->nmethods; i++) {
		if (a->methods[i].kind != SM_AH_ESP)
			continue;
		skipped++;
		diag_add(c->diag, "rule %s, method at %s:%u: ah-esp cannot be "
			 "negotiated by IKEv2 (one protocol per CHILD SA, RFC "
			 "7296 §3.3); ipsec-xdpd skips it", r->name,
			 a->methods[i].pos.file ? a->methods[i].pos.file : "?",
			 a->methods[i].pos.line);
	}
	if (skipped && skipped == a->nmethods)
		diag_add(c->diag, "rule %s: no security method left that IKEv2 "
			 "can negotiate; its traffic never gets an SA", r->name);
}

/* Does the rule select the interfaces of group g? (names in order: the
 * same list written in another order makes another group, which is
 * harmless) */
static bool rule_is_group(const struct rule *r, const struct ifgroup_def *g)
{
	if (g->conn != (uint8_t)r->conn || g->nnames != r->ninterfaces)
		return false;
	for (size_t i = 0; i < r->ninterfaces; i++)
		if (strncmp(g->names[i], r->interfaces[i], IXDP_IFNAMSIZ))
			return false;
	return true;
}

/* Compiling for this host: say which named interfaces it does not have
 * (a typo, or one that comes later: the rule holds there once the
 * dataplane is loaded on it). */
static void warn_missing_ifaces(struct compile_ctx *c, const struct rule *r)
{
	if (!c->host)
		return;
	for (size_t i = 0; i < r->ninterfaces; i++)
		if (!if_nametoindex(r->interfaces[i]))
			diag_add(c->diag, "rule %s: this host has no interface '%s' "
				 "now; the rule applies on it once it exists and "
				 "the dataplane is loaded there", r->name,
				 r->interfaces[i]);
}

/* The interface group of rule r: an existing one, or a new one. */
static int rule_ifgroup(struct compile_ctx *c, const struct rule *r)
{
	struct filter_table *t = c->out;
	struct ifgroup_def *g;

	if (r->conn == CONN_ALL && !r->ninterfaces) {
		c->ifgroup = 0;
		return 0;
	}
	for (size_t i = 1; i < t->ngroups; i++) {
		if (rule_is_group(r, &t->groups[i])) {
			c->ifgroup = (uint8_t)i;
			return 0;
		}
	}
	if (t->ngroups >= IXDP_MAX_IFGROUPS || r->ninterfaces > IXDP_IFGROUP_NAMES) {
		set_error(c, "limit exceeded: rule \"%s\": at most %d different "
			  "interface selections (connection-type and interfaces) "
			  "and %d interface names per rule fit the dataplane",
			  r->name, IXDP_MAX_IFGROUPS - 1, IXDP_IFGROUP_NAMES);
		return -1;
	}
	warn_missing_ifaces(c, r);
	g = &t->groups[t->ngroups];
	memset(g, 0, sizeof(*g));
	g->conn = (uint8_t)r->conn;
	g->nnames = (uint8_t)r->ninterfaces;
	for (size_t i = 0; i < r->ninterfaces; i++)
		snprintf(g->names[i], IXDP_IFNAMSIZ, "%s", r->interfaces[i]);
	c->ifgroup = (uint8_t)t->ngroups++;
	return 0;
}

static int compile_rule(struct compile_ctx *c, int rule_idx)
{
	const struct rule *r = &c->pf->assigned->rules[rule_idx];

	if (!r->active)
		return 0;
	if (!r->filters || !r->action) {
		set_error(c, "rule \"%s\" has no %s", r->name ? r->name : "?",
			  r->filters ? "filter action" : "filter list");
		return -1;
	}
	if (rule_ifgroup(c, r))
		return -1;
	warn_ah_esp(c, r);
	for (size_t i = 0; i < r->filters->nfilters; i++)
		if (compile_filter(c, r, rule_idx, &r->filters->filters[i]))
			return -1;
	return 0;
}

/* ---- default exemptions ------------------------------------------------------ */

/*
 * Each default exemption is as narrow as its purpose (docs/behaviour.md §3), because an
 * exemption is tried before every filter of the policy and so overrides
 * even a negotiate or block filter.
 *
 * Filters have no direction: a filter is matched against a packet's real
 * source and destination, whichever way it travels.  An exemption written
 * only with ports ("UDP with source port 500") therefore also matches a
 * datagram that a peer -- or anyone spoofing it -- sends from remote port
 * 500 to any local port: a plaintext path around the policy.  So the
 * exemptions that serve this host name the host's own addresses, one /32
 * or /128 each, as the side that owns the port:
 *
 *   inbound   { dst: ADDR, PROTO, dst-port: PORT }   (to this host's port)
 *   outbound  { src: ADDR, PROTO, src-port: PORT }   (from this host's port)
 *
 * the other side's address and port being `any` (IKE peers behind a NAT
 * come from any port).  A datagram from a remote port PORT to another
 * local port matches neither: its destination port is not PORT, and its
 * source is not this host.  Unless it is forged with this host's address
 * as its source: Linux drops such IPv4 packets as martians (unless
 * accept_local is set) but delivers such IPv6 packets.  So every packet
 * from one of the host's addresses to one of its addresses (same family)
 * is blocked, ahead of the exemptions ("exempt:spoofed-self": both
 * prefixes full, so heavier than any exemption).  Genuine traffic from the
 * host to itself goes through lo, where the dataplane is not attached.
 *
 *   IKE        UDP 500 and 4500, every level (or nothing could negotiate)
 *   Kerberos   TCP and UDP 88: a KDC on this host, reached by its clients.
 *              Not this host as a Kerberos client: a KDC's replies come
 *              from its port 88 to an arbitrary local port, and exempting
 *              that is exactly the source-port-88 bypass; permit the KDC's
 *              address in the policy instead.
 *   RSVP       IP protocol 46 to and from this host's addresses.
 *   multicast  by destination only: 224.0.0.0/4, ff00::/8.
 *   broadcast  by destination only: 255.255.255.255 and the directed
 *              broadcast of each of the host's IPv4 prefixes.
 *
 * With no host information (NULL, or no address) the exemptions bound to
 * the host's addresses are left out rather than widened: fail closed.
 * The spoofed-self blocks come with the host's addresses (n*n filters per
 * family for n addresses; IXDP_MAX_FILTERS bounds the total).
 */

/* Which kinds of traffic each ipsecexempt level exempts (besides IKE). */
static const struct exempt_level {
	bool multicast, broadcast, rsvp, kerberos;
} exempt_levels[4] = {
	[0] = { .multicast = true, .broadcast = true, .rsvp = true, .kerberos = true },
	[1] = { .multicast = true, .broadcast = true },
	[2] = { .rsvp = true, .kerberos = true },
	[3] = { 0 },
};

#define IKE_PORT        500
#define IKE_NATT_PORT   4500
#define KERBEROS_PORT   88
#define PROTO_RSVP      46

/* A service of this host: a protocol, and a port of it (0: the protocol
 * has none, e.g. RSVP). */
struct exempt_service {
	const char *name;
	uint8_t proto;
	uint16_t port;
};

static const struct exempt_service ike_services[] = {
	{ "exempt:ike", IPPROTO_UDP, IKE_PORT },
	{ "exempt:ike", IPPROTO_UDP, IKE_NATT_PORT },
};

static const struct exempt_service kerberos_services[] = {
	{ "exempt:kerberos", IPPROTO_TCP, KERBEROS_PORT },
	{ "exempt:kerberos", IPPROTO_UDP, KERBEROS_PORT },
};

static const struct exempt_service rsvp_services[] = {
	{ "exempt:rsvp", PROTO_RSVP, 0 },
};

#define NSERVICES(a) (sizeof(a) / sizeof((a)[0]))

static void exemption_base(struct specific_filter *f, uint8_t fam,
			   const char *name)
{
	memset(f, 0, sizeof(*f));
	f->fam = fam;
	f->action = IXDP_ACT_PERMIT;
	f->flags = IXDP_F_EXEMPTION;
	f->rule = -1;
	f->name = name;
}

/* The two filters of one service on one of the host's addresses: to it
 * (the address as destination, the port as destination port) and from it
 * (as source, and source port). */
static int exempt_service_at(struct filter_table *t, const struct exempt_service *s,
			     uint8_t fam, const uint8_t *addr)
{
	struct specific_filter to, from;

	exemption_base(&to, fam, s->name);
	to.proto_exact = true;
	to.proto = s->proto;
	from = to;
	memcpy(to.dst, addr, fam_bytes(fam));
	to.dst_plen = (uint8_t)fam_bits(fam);
	to.dport.lo = to.dport.hi = s->port;
	memcpy(from.src, addr, fam_bytes(fam));
	from.src_plen = (uint8_t)fam_bits(fam);
	from.sport.lo = from.sport.hi = s->port;
	if (filter_table_push(t, &to))
		return -1;
	return filter_table_push(t, &from);
}

/* Has the host's address i been listed before (as another prefix)? */
static bool host_addr_seen(const struct host_info *h, size_t i)
{
	const struct ip_addr *a = &h->me[i].addr;

	for (size_t j = 0; j < i; j++)
		if (h->me[j].addr.family == a->family &&
		    !memcmp(h->me[j].addr.bytes, a->bytes, fam_bytes(fam_of(a->family))))
			return true;
	return false;
}

/* Services s[0..n) on each of the host's own addresses (docs/behaviour.md §3: to the
 * host's port inbound, from it outbound).  No host information: none. */
static int exempt_local_services(struct filter_table *t, const struct host_info *h,
				 const struct exempt_service *s, size_t n)
{
	for (size_t i = 0; h && i < h->nme; i++) {
		int fam = fam_of(h->me[i].addr.family);

		if (fam < 0 || host_addr_seen(h, i))
			continue;
		for (size_t k = 0; k < n; k++)
			if (exempt_service_at(t, &s[k], (uint8_t)fam, h->me[i].addr.bytes))
				return -1;
	}
	return 0;
}

/* Block packets from each of the host's addresses to each of them (same
 * family): only a forged packet can come in so, and it would otherwise match
 * the "from this host" half of an exemption. */
static int block_spoofed_self(struct filter_table *t, const struct host_info *h)
{
	for (size_t i = 0; h && i < h->nme; i++) {
		int fam = fam_of(h->me[i].addr.family);

		if (fam < 0 || host_addr_seen(h, i))
			continue;
		for (size_t j = 0; j < h->nme; j++) {
			struct specific_filter f;

			if (h->me[j].addr.family != h->me[i].addr.family ||
			    host_addr_seen(h, j))
				continue;
			exemption_base(&f, (uint8_t)fam, "exempt:spoofed-self");
			f.action = IXDP_ACT_BLOCK;
			memcpy(f.src, h->me[i].addr.bytes, fam_bytes((uint8_t)fam));
			memcpy(f.dst, h->me[j].addr.bytes, fam_bytes((uint8_t)fam));
			f.src_plen = f.dst_plen = (uint8_t)fam_bits((uint8_t)fam);
			if (filter_table_push(t, &f))
				return -1;
		}
	}
	return 0;
}

static int exempt_dst(struct filter_table *t, const char *name, uint8_t fam,
		      const uint8_t *addr, uint8_t plen)
{
	struct specific_filter f;

	exemption_base(&f, fam, name);
	memcpy(f.dst, addr, fam_bytes(fam));
	f.dst_plen = plen;
	return filter_table_push(t, &f);
}

static int exempt_multicast(struct filter_table *t)
{
	static const uint8_t v4[16] = { 224 }, v6[16] = { 0xff };

	if (exempt_dst(t, "exempt:multicast", IXDP_FAM_V4, v4, 4))
		return -1;
	return exempt_dst(t, "exempt:multicast", IXDP_FAM_V6, v6, 8);
}

/* The limited broadcast, and the subnet-directed broadcast of each of the
 * host's IPv4 prefixes (a /31 or /32 has none). */
static int exempt_broadcast(struct filter_table *t, const struct host_info *h)
{
	static const uint8_t all_ones[16] = { 255, 255, 255, 255 };

	if (exempt_dst(t, "exempt:broadcast", IXDP_FAM_V4, all_ones, 32))
		return -1;
	for (size_t i = 0; h && i < h->nme; i++) {
		const struct host_prefix *p = &h->me[i];
		uint8_t bcast[16] = {0};

		if (p->addr.family != AF_INET || p->plen >= 31)
			continue;
		block_end(p->addr.bytes, 32 - p->plen, 4, bcast);
		if (exempt_dst(t, "exempt:broadcast", IXDP_FAM_V4, bcast, 32))
			return -1;
	}
	return 0;
}

static int add_exemptions(struct filter_table *t, int level,
			  const struct host_info *h)
{
	const struct exempt_level *lv = &exempt_levels[level];

	/* IKE at every level: without it no SA could ever be negotiated */
	if (block_spoofed_self(t, h) ||
	    exempt_local_services(t, h, ike_services, NSERVICES(ike_services)))
		return -1;
	if (lv->kerberos &&
	    exempt_local_services(t, h, kerberos_services, NSERVICES(kerberos_services)))
		return -1;
	if (lv->rsvp && exempt_local_services(t, h, rsvp_services, NSERVICES(rsvp_services)))
		return -1;
	if (lv->multicast && exempt_multicast(t))
		return -1;
	if (lv->broadcast && exempt_broadcast(t, h))
		return -1;
	return 0;
}

static bool valid_exempt_level(int level)
{
	return level >= 0 && level <= 3;
}

int compile_exemptions(int ipsecexempt, const struct host_info *host,
		       struct filter_table *out)
{
	out->n = 0;
	if (!valid_exempt_level(ipsecexempt) ||
	    add_exemptions(out, ipsecexempt, host) || filter_table_sort(out)) {
		filter_table_free(out);
		return -1;
	}
	return 0;
}

/* ---- merging filters with the same selectors --------------------------------- */

static int cmp_num(long a, long b)
{
	return a < b ? -1 : a > b;
}

/* One pair of rules whose filters collided; aggregated into one warning. */
struct conflict {
	int winner_rule, loser_rule;
	uint8_t winner_action, loser_action;
	struct specific_filter example;   /* the first colliding filter */
	size_t count;
};

struct conflict_list {
	struct conflict *v;
	size_t n, cap;
};

static int conflict_add(struct conflict_list *l, const struct specific_filter *w,
			const struct specific_filter *lo)
{
	struct conflict *c;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct conflict *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	c = &l->v[l->n++];
	c->winner_rule = w->rule;
	c->loser_rule = lo->rule;
	c->winner_action = w->action;
	c->loser_action = lo->action;
	c->example = *w;
	c->count = 1;
	return 0;
}

static bool same_conflict(const struct conflict *a, const struct conflict *b)
{
	return a->winner_rule == b->winner_rule && a->loser_rule == b->loser_rule &&
	       a->winner_action == b->winner_action &&
	       a->loser_action == b->loser_action;
}

static int cmp_conflict(const void *pa, const void *pb)
{
	const struct conflict *a = pa, *b = pb;
	int c;

	if ((c = cmp_num(a->winner_rule, b->winner_rule)) ||
	    (c = cmp_num(a->loser_rule, b->loser_rule)) ||
	    (c = cmp_num(a->winner_action, b->winner_action)))
		return c;
	return cmp_num(a->loser_action, b->loser_action);
}

static const char *rule_name(const struct policy_file *pf, int rule)
{
	return rule >= 0 ? pf->assigned->rules[rule].name : "default exemption";
}

static void warn_conflict(const struct policy_file *pf, struct compile_diag *d,
			  const struct conflict *c)
{
	char what[256];

	describe_filter(&c->example, what, sizeof(what));
	if (c->winner_action == c->loser_action) {
		diag_add(d, "rules %s and %s: %zu filter(s) with the same selectors "
			 "(first: %s) negotiate with different fallback "
			 "(inpass/soft); the stricter setting applies",
			 rule_name(pf, c->winner_rule), rule_name(pf, c->loser_rule),
			 c->count, what);
		return;
	}
	diag_add(d, "rules %s and %s: %zu filter(s) with the same selectors "
		 "(first: %s) have different actions (%s, %s); the most "
		 "restrictive, %s of rule %s, applies",
		 rule_name(pf, c->winner_rule), rule_name(pf, c->loser_rule),
		 c->count, what, action_word(c->winner_action),
		 action_word(c->loser_action), action_word(c->winner_action),
		 rule_name(pf, c->winner_rule));
}

/* Sort the collisions by pair of rules and warn once per pair. */
static void report_conflicts(const struct policy_file *pf, struct compile_diag *d,
			     struct conflict_list *l)
{
	size_t i = 0;

	if (l->n == 0)
		return;
	qsort(l->v, l->n, sizeof(*l->v), cmp_conflict);
	while (i < l->n) {
		struct conflict first = l->v[i];
		size_t j = i + 1;

		while (j < l->n && same_conflict(&l->v[j], &first))
			j++;
		first.count = j - i;
		warn_conflict(pf, d, &first);
		i = j;
	}
}

#define FALLBACK_FLAGS (IXDP_F_INPASS | IXDP_F_SOFT)

/*
 * Resolve one group of filters with the same selectors, g[0..n) in table
 * order: the most restrictive action wins (block > negotiate > permit), the
 * earliest filter with it survives, and of the fallback flags (inpass, soft)
 * it keeps only those every filter with that action has.  The others are
 * marked for removal in `drop`.
 */
static int resolve_group(struct specific_filter **g, size_t n,
			 const struct specific_filter *base, bool *drop,
			 struct conflict_list *conflicts)
{
	struct specific_filter *w = g[0];
	uint8_t fallback;

	for (size_t i = 1; i < n; i++)
		if (g[i]->action > w->action)
			w = g[i];
	fallback = w->flags & FALLBACK_FLAGS;
	for (size_t i = 0; i < n; i++) {
		struct specific_filter *f = g[i];
		bool differs = f->action != w->action ||
			       (f->flags & FALLBACK_FLAGS) != (w->flags & FALLBACK_FLAGS);

		if (f == w)
			continue;
		drop[f - base] = true;
		if (f->action == w->action)
			fallback &= f->flags;
		if (differs && f->rule != w->rule && conflict_add(conflicts, w, f))
			return -1;
	}
	w->flags = (uint8_t)((w->flags & ~FALLBACK_FLAGS) | fallback);
	return 0;
}

/* Remove the dropped filters, keeping the order of the others. */
static void compact(struct filter_table *t, const bool *drop)
{
	size_t k = 0;

	for (size_t i = 0; i < t->n; i++)
		if (!drop[i])
			t->v[k++] = t->v[i];
	t->n = k;
}

/* Resolve each group of filters with the same selectors (in the table
 * order of their first filters), then drop the losers. */
static int merge_same_selectors(const struct policy_file *pf,
				struct filter_table *t, struct compile_diag *d)
{
	struct specific_filter **group = malloc((t->n ? t->n : 1) * sizeof(*group));
	size_t *same = malloc((t->n ? t->n : 1) * sizeof(*same));
	bool *drop = calloc(t->n ? t->n : 1, sizeof(*drop));
	bool *member = calloc(t->n ? t->n : 1, sizeof(*member));
	struct conflict_list conflicts = {0};
	int rc = -1;

	if (!group || !same || !drop || !member || filter_table_link_same_selectors(t, same))
		goto out;
	for (size_t i = 0; i < t->n; i++) {
		size_t n = 0;

		if (member[i] || same[i] == FILTER_NO_SAME)
			continue;
		for (size_t j = i; j != FILTER_NO_SAME; j = same[j]) {
			member[j] = true;
			group[n++] = &t->v[j];
		}
		if (resolve_group(group, n, t->v, drop, &conflicts))
			goto out;
	}
	compact(t, drop);
	report_conflicts(pf, d, &conflicts);
	rc = 0;
out:
	free(group);
	free(same);
	free(drop);
	free(member);
	free(conflicts.v);
	return rc;
}

/* ---- the compiler --------------------------------------------------------------- */

static int compile_into(struct compile_ctx *c, int ipsecexempt)
{
	const struct policy *p = c->pf->assigned;

	if (!p) {
		set_error(c, "no policy is assigned");
		return -1;
	}
	if (!valid_exempt_level(ipsecexempt)) {
		set_error(c, "ipsecexempt is %d; expected 0, 1, 2 or 3", ipsecexempt);
		return -1;
	}
	for (size_t i = 0; i < p->nrules; i++)
		if (compile_rule(c, (int)i))
			return -1;
	if (add_exemptions(c->out, ipsecexempt, c->host) ||
	    merge_same_selectors(c->pf, c->out, c->diag) ||
	    filter_table_sort(c->out)) {
		set_error(c, "out of memory while compiling policy \"%s\"", p->name);
		return -1;
	}
	if (c->out->n > IXDP_MAX_FILTERS) {
		set_error(c, "limit exceeded: specific filters "
			  "(IXDP_MAX_FILTERS): policy \"%s\" expands to %zu; at "
			  "most %u fit the dataplane: use fewer or wider filters (a mirrored "
			  "filter counts twice, 'any' once per family)", p->name,
			  c->out->n, IXDP_MAX_FILTERS);
		return -1;
	}
	return 0;
}

int compile_policy(const struct policy_file *pf, const struct host_info *host,
		   int ipsecexempt, struct filter_table *out,
		   struct compile_diag *diag, struct policy_error *err)
{
	struct compile_ctx c = {
		.pf = pf, .host = host, .out = out, .diag = diag, .err = err,
	};
	int rc;

	out->n = 0;
	memset(out->groups, 0, sizeof(out->groups));
	out->ngroups = 1;       /* group 0: every interface */
	rc = compile_into(&c, ipsecexempt);
	free(c.src.v);
	free(c.dst.v);
	if (rc)
		filter_table_free(out);
	return rc ? -1 : 0;
}
