// SPDX-License-Identifier: GPL-2.0-only
/*
 * policy_filter.c - the `filter-lists:` section: named lists of filters,
 * each filter a pair of addresses, a protocol and two ports.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "policy/policy_internal.h"

static const char *const LIST_KEYS[] = { "description", "filters", NULL };
static const char *const FILTER_KEYS[] = {
	"src", "dst", "protocol", "src-port", "dst-port", "mirrored",
	"description", NULL
};
/* FILTER_KEYS' indexes: a filter's values (pmap_pick) */
enum { FK_SRC, FK_DST, FK_PROTOCOL, FK_SRC_PORT, FK_DST_PORT, FK_MIRRORED,
       FK_DESCRIPTION, FK_N };
_Static_assert(sizeof(FILTER_KEYS) / sizeof(FILTER_KEYS[0]) == FK_N + 1,
	       "FK_* names every key of FILTER_KEYS");

/* The family an address names, or 0 for any/me/dns/dhcp/gateway, which
 * stand for addresses of both families. */
static uint8_t spec_family(const struct addr_spec *a)
{
	return a->kind == ADDR_PREFIX || a->kind == ADDR_RANGE ? a->addr.family : 0;
}

static const char *family_name(uint8_t fam)
{
	return fam == AF_INET ? "IPv4" : "IPv6";
}

static int check_same_family(struct parse *p, const struct filter_spec *f,
			     const struct pnode *dst)
{
	uint8_t s = spec_family(&f->src), d = spec_family(&f->dst);

	if (!s || !d || s == d)
		return 0;
	return perr(&p->c, dst, "src is %s but dst is %s; a filter's addresses "
		    "must be of one family (or any, me, dns, dhcp, gateway)",
		    family_name(s), family_name(d));
}

/* icmp and icmpv6 each belong to one family: the other never matches. */
static int check_icmp_family(struct parse *p, const struct filter_spec *f,
			     const struct pnode *proto)
{
	uint8_t fam = spec_family(&f->src) ? spec_family(&f->src) : spec_family(&f->dst);

	if (f->proto == 1 && fam == AF_INET6)
		return perr(&p->c, proto, "icmp is for IPv4 but the addresses are "
			    "IPv6; expected icmpv6");
	if (f->proto == 58 && fam == AF_INET)
		return perr(&p->c, proto, "icmpv6 is for IPv6 but the addresses are "
			    "IPv4; expected icmp");
	return 0;
}

/* n: the value of `key`, or NULL */
static int parse_filter_port(struct parse *p, const struct pnode *n,
			     const char *key, int proto, struct port_spec *out)
{
	char what[32], ptext[32];
	const char *pname;

	if (!n)
		return 0;
	snprintf(what, sizeof(what), "'%s'", key);
	if (parse_port(&p->c, n, what, out))
		return -1;
	if (!out->lo && !out->hi)
		return 0;
	if (proto == PROTO_ANY)
		return perr(&p->c, n, "'%s' needs a protocol with ports; expected "
			    "protocol tcp, udp, sctp or udplite (it is any)", key);
	if (!proto_has_ports((uint8_t)proto)) {
		pname = protocol_name(proto);
		if (pname)
			snprintf(ptext, sizeof(ptext), "%s (%d)", pname, proto);
		else
			snprintf(ptext, sizeof(ptext), "%d", proto);
		return perr(&p->c, n, "'%s' is set but protocol %s has no ports; "
			    "ports apply to tcp, udp, sctp and udplite only", key, ptext);
	}
	return 0;
}

static int parse_filter_addresses(struct parse *p, const struct pnode *n,
				  const struct pnode *const *v, struct filter_spec *f)
{
	const struct pnode *src = v[FK_SRC], *dst = v[FK_DST];

	if (!src || !dst)
		return perr(&p->c, n, "a filter needs '%s'; expected src and dst, "
			    "each any, me, dns, dhcp, gateway or addresses",
			    src ? "dst" : "src");
	if (parse_addr_spec(&p->c, src, "'src'", &f->src) ||
	    parse_addr_spec(&p->c, dst, "'dst'", &f->dst))
		return -1;
	return check_same_family(p, f, dst);
}

static int parse_filter_protocol(struct parse *p, const struct pnode *proto,
				 struct filter_spec *f)
{
	f->proto = PROTO_ANY;
	if (!proto)
		return 0;
	if (parse_protocol(&p->c, proto, &f->proto))
		return -1;
	return check_icmp_family(p, f, proto);
}

int parse_filter(struct parse *p, const struct pnode *n, struct filter_spec *f)
{
	const struct pnode *v[FK_N];

	if (pexpect(&p->c, n, PN_MAP, "a filter (src, dst, protocol, ports)") ||
	    pmap_pick(&p->c, n, FILTER_KEYS, "a filter", v))
		return -1;
	f->pos = pos_of(p, n);
	f->mirrored = true;
	if (parse_filter_addresses(p, n, v, f) ||
	    parse_filter_protocol(p, v[FK_PROTOCOL], f) ||
	    parse_filter_port(p, v[FK_SRC_PORT], "src-port", f->proto, &f->sport) ||
	    parse_filter_port(p, v[FK_DST_PORT], "dst-port", f->proto, &f->dport))
		return -1;
	if (v[FK_MIRRORED] &&
	    parse_bool(&p->c, v[FK_MIRRORED], "'mirrored'", &f->mirrored))
		return -1;
	if (v[FK_DESCRIPTION] &&
	    parse_text(&p->c, v[FK_DESCRIPTION], "'description'", &f->description))
		return -1;
	return 0;
}

static int parse_filters(struct parse *p, const struct pnode *key,
			 const struct pnode *body, struct filter_list *l)
{
	const struct pnode *seq = pmap_get(body, "filters", NULL);

	if (!seq)
		return perr(&p->c, key, "filter list '%s' has no 'filters'; expected "
			    "a list of filters", l->name);
	if (pexpect(&p->c, seq, PN_SEQ, "'filters' (a list of filters)"))
		return -1;
	if (!seq->nkids)
		return perr(&p->c, seq, "filter list '%s' has no filters; expected "
			    "at least one", l->name);
	l->filters = alloc_array(p, seq, seq->nkids, sizeof(*l->filters));
	if (!l->filters)
		return -1;
	l->nfilters = seq->nkids;
	for (size_t i = 0; i < seq->nkids; i++)
		if (parse_filter(p, seq->kids[i], &l->filters[i]))
			return -1;
	return 0;
}

static int parse_filter_list(struct parse *p, const struct pnode *key,
			     const struct pnode *body, struct filter_list *l)
{
	const struct pnode *v;

	if (parse_name(&p->c, key, "filter list name", &l->name))
		return -1;
	l->pos = pos_of(p, key);
	if (pexpect(&p->c, body, PN_MAP, "a filter list (description, filters)") ||
	    pcheck_keys(&p->c, body, LIST_KEYS, "a filter list"))
		return -1;
	if ((v = pmap_get(body, "description", NULL)) &&
	    parse_text(&p->c, v, "'description'", &l->description))
		return -1;
	return parse_filters(p, key, body, l);
}

static const char *list_name_at(const void *base, size_t i)
{
	return ((const struct filter_list *)base)[i].name;
}

/* Tunnel rules must not use mirrored filters: remember the first one of
 * each list so that every rule can be checked without a scan. */
static int note_mirrored(struct parse *p, const struct pnode *map)
{
	struct policy_file *pf = p->pf;

	p->first_mirrored = alloc_array(p, map, pf->nlists, sizeof(long));
	if (!p->first_mirrored)
		return -1;
	for (size_t i = 0; i < pf->nlists; i++) {
		p->first_mirrored[i] = -1;
		for (size_t j = 0; j < pf->lists[i].nfilters; j++) {
			if (pf->lists[i].filters[j].mirrored) {
				p->first_mirrored[i] = (long)j;
				break;
			}
		}
	}
	return 0;
}

int parse_filter_lists(struct parse *p, const struct pnode *map)
{
	struct policy_file *pf = p->pf;
	size_t n = pmap_len(map);

	pf->lists = alloc_array(p, map, n, sizeof(*pf->lists));
	if (!pf->lists)
		return -1;
	pf->nlists = n;
	for (size_t i = 0; i < n; i++)
		if (parse_filter_list(p, pmap_key(map, i), pmap_val(map, i), &pf->lists[i]))
			return -1;
	p->list_index = name_index_build(pf->lists, n, list_name_at);
	if (!p->list_index)
		return perr(&p->c, map, "out of memory");
	return note_mirrored(p, map);
}

struct filter_list *resolve_list(struct parse *p, const struct pnode *ref)
{
	struct policy_file *pf = p->pf;
	char names[200];
	long i;

	if (pexpect(&p->c, ref, PN_SCALAR, "'filter-list' (the name of a filter list)"))
		return NULL;
	i = name_index_find(p->list_index, pf->nlists, ref->text);
	if (i >= 0)
		return &pf->lists[i];
	if (!pf->nlists) {
		perr(&p->c, ref, "unknown filter list '%.60s': the file defines no "
		     "filter lists; expected a list defined in a 'filter-lists:' "
		     "section", ref->text);
		return NULL;
	}
	name_index_join(p->list_index, pf->nlists, names, sizeof(names));
	perr(&p->c, ref, "unknown filter list '%.60s'; expected one defined under "
	     "filter-lists: %s", ref->text, names);
	return NULL;
}
