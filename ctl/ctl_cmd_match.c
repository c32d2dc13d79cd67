// SPDX-License-Identifier: GPL-2.0-only
/*
 * ctl_cmd_match.c - `match SRC DST PROTO [SPORT DPORT] [--in|--out]`: which
 * filter a packet hits and why, decided by the reference matcher over the
 * same list the dataplane enforces, and for negotiate filters the SA bundle
 * the dataplane would look up.  SRC or DST may be `me` (an address of this
 * host, read as the compiler reads it for the policy's `me`), ports may be
 * service names.  Exit 0: the packet passes, 1: it is dropped, 2: usage or
 * any other error (ipsec-xdp(8), EXIT STATUS).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_live.h"
#include "compile/compiler.h"

#define MAX_ALSO 10

struct match_query {
	struct pkt_tuple pkt;
	enum ixdp_dir dir;
	bool bcast_mcast;
	const char *proto_word; /* as typed, for service names and messages */
	int me_side;            /* 0: no `me`, 1: SRC was `me`, 2: DST was */
	char me_addr[INET6_ADDRSTRLEN];
	size_t me_count;        /* this host's addresses of the family */
};

/* What the dataplane does with the packet. */
struct verdict {
	bool pass;
	const char *why;
	const char *sa;         /* negotiate: the SA bundle's state, else NULL */
};

static int parse_proto(const char *s, uint8_t *proto)
{
	static const struct { const char *name; uint8_t num; } names[] = {
		{ "icmp", 1 }, { "tcp", 6 }, { "udp", 17 }, { "rsvp", 46 }, { "esp", 50 },
		{ "ah", 51 }, { "icmpv6", 58 }, { "sctp", 132 }, { "udplite", 136 },
	};
	char *end;
	long v;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(s, names[i].name)) {
			*proto = names[i].num;
			return 0;
		}
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 0 || v > 255)
		return -1;
	*proto = (uint8_t)v;
	return 0;
}

/* The services(5) protocol name ports of proto are listed under. */
static const char *service_proto(uint8_t proto)
{
	return proto == 6 ? "tcp" : proto == 17 || proto == 136 ? "udp" :
	       proto == 132 ? "sctp" : NULL;
}

/* A number 0-65535, or a service name of /etc/services (getservbyname). */
static int parse_port(const char *s, uint8_t proto, uint16_t *port)
{
	const char *sp = service_proto(proto);
	struct servent *se;
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!errno && !*end && end != s && v >= 0 && v <= 65535) {
		*port = (uint16_t)v;
		return 0;
	}
	if (!isalpha((unsigned char)*s) || !sp)
		return fail(EXIT_USAGE, "match: '%s' is not a port number 0-65535%s",
			    s, sp ? " nor a service name" : "");
	se = getservbyname(s, sp);
	if (!se)
		return fail(EXIT_USAGE, "match: '%s' is not a port number 0-65535 "
			    "nor a %s service of /etc/services", s, sp);
	*port = ntohs((uint16_t)se->s_port);
	return 0;
}

static int parse_addr(const char *s, uint8_t *fam, uint8_t *bytes)
{
	memset(bytes, 0, 16);
	if (inet_pton(AF_INET, s, bytes) == 1) {
		*fam = IXDP_FAM_V4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, bytes) == 1) {
		*fam = IXDP_FAM_V6;
		return 0;
	}
	return -1;
}

/*
 * `me`: the first of this host's addresses of the family (non-loopback,
 * from netlink, as host_info_read() gives them to the compiler for the
 * policy's `me`).  fam is the other side's family.
 */
static int resolve_me(struct match_query *q, uint8_t fam, uint8_t *bytes)
{
	int af = fam == IXDP_FAM_V4 ? AF_INET : AF_INET6;
	struct host_info h = { 0 };
	char err[512];
	bool found = false;

	if (host_info_read(&h, err, sizeof(err))) {
		host_info_free(&h);
		return fail(EXIT_USAGE, "match: cannot read this host's addresses "
			    "for 'me': %s", err);
	}
	for (size_t i = 0; i < h.nme; i++) {
		if (h.me[i].addr.family != af)
			continue;
		if (!found)
			memcpy(bytes, h.me[i].addr.bytes, af == AF_INET ? 4 : 16);
		found = true;
		q->me_count++;
	}
	host_info_free(&h);
	if (!found)
		return fail(EXIT_USAGE, "match: 'me': this host has no %s address "
			    "(loopback does not count)", af == AF_INET ? "IPv4" : "IPv6");
	inet_ntop(af, bytes, q->me_addr, sizeof(q->me_addr));
	return EXIT_OK;
}

/* SRC and DST: addresses, or one of them `me` (of the other's family). */
static int parse_addrs(struct match_query *q, const char *src, const char *dst)
{
	bool src_me = !strcmp(src, "me"), dst_me = !strcmp(dst, "me");
	uint8_t dfam = 0;

	if (src_me && dst_me)
		return fail(EXIT_USAGE, "match: only one of SRC and DST can be 'me' "
			    "(traffic to itself never reaches the dataplane)");
	if (!src_me && parse_addr(src, &q->pkt.fam, q->pkt.src))
		return fail(EXIT_USAGE, "match: '%s' is not an IPv4 or IPv6 address "
			    "or 'me'", src);
	if (!dst_me && parse_addr(dst, &dfam, q->pkt.dst))
		return fail(EXIT_USAGE, "match: '%s' is not an IPv4 or IPv6 address "
			    "or 'me'", dst);
	if (src_me) {
		q->me_side = 1;
		q->pkt.fam = dfam;
		return resolve_me(q, dfam, q->pkt.src);
	}
	if (dst_me) {
		q->me_side = 2;
		return resolve_me(q, q->pkt.fam, q->pkt.dst);
	}
	if (dfam != q->pkt.fam)
		return fail(EXIT_USAGE, "match: source and destination are of different families");
	return EXIT_OK;
}

static bool is_bcast_mcast(const struct pkt_tuple *p)
{
	if (p->fam == IXDP_FAM_V6)
		return p->dst[0] == 0xff;
	return (p->dst[0] & 0xf0) == 0xe0 ||
	       (p->dst[0] == 255 && p->dst[1] == 255 && p->dst[2] == 255 && p->dst[3] == 255);
}

static int parse_query(int argc, char **argv, struct match_query *q)
{
	const char *pos[5];
	int npos = 0;
	int ret;

	memset(q, 0, sizeof(*q));
	q->dir = IXDP_DIR_OUT;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--in"))
			q->dir = IXDP_DIR_IN;
		else if (!strcmp(argv[i], "--out"))
			q->dir = IXDP_DIR_OUT;
		else if (argv[i][0] == '-' && !isdigit((unsigned char)argv[i][1]))
			return fail(EXIT_USAGE, "match: unknown option '%s'", argv[i]);
		else if (npos < 5)
			pos[npos++] = argv[i];
		else
			return fail(EXIT_USAGE, "match: too many arguments");
	}
	if (npos != 3 && npos != 5)
		return fail(EXIT_USAGE, "usage: ipsec-xdp match SRC DST PROTO [SPORT DPORT] [--in|--out]");
	if (parse_proto(pos[2], &q->pkt.proto))
		return fail(EXIT_USAGE, "match: '%s' is not a protocol name or number 0-255", pos[2]);
	q->proto_word = pos[2];
	if (npos == 5) {
		if (!proto_has_ports(q->pkt.proto))
			return fail(EXIT_USAGE, "match: protocol %s has no ports", pos[2]);
		if ((ret = parse_port(pos[3], q->pkt.proto, &q->pkt.sport)) ||
		    (ret = parse_port(pos[4], q->pkt.proto, &q->pkt.dport)))
			return ret;
	}
	if ((ret = parse_addrs(q, pos[0], pos[1])))
		return ret;
	q->bcast_mcast = is_bcast_mcast(&q->pkt);
	return EXIT_OK;
}

/*
 * A negotiate filter's verdict from its SA bundle, as the dataplane's
 * negotiate_verdict() decides it: state is the bundle's (IXDP_BUNDLE_NONE
 * when there is none), up_ifindex whether an up bundle has its interface.
 */
static void negotiate_verdict(const struct specific_filter *f,
			      const struct match_query *q, uint32_t state,
			      bool has_ifindex, struct verdict *v)
{
	bool inpass = q->dir == IXDP_DIR_IN && (f->flags & IXDP_F_INPASS);

	v->pass = false;
	if (q->bcast_mcast) {
		v->why = "negotiate: broadcast and multicast cannot be secured";
		return;
	}
	if (state == IXDP_BUNDLE_SOFT) {
		v->pass = true;
		v->why = "negotiate: the SA is soft, the pair talks in clear";
		return;
	}
	if (state == IXDP_BUNDLE_UP && has_ifindex && q->dir == IXDP_DIR_OUT) {
		v->pass = true;
		v->why = "negotiate: the SA is up, the packet leaves through it, encrypted";
		return;
	}
	if (state == IXDP_BUNDLE_UP && has_ifindex) {
		v->pass = inpass;
		v->why = inpass ? "negotiate with inpass: accepted in clear" :
			 "negotiate: plaintext is refused while the SA is up (it must come with ESP/AH)";
		return;
	}
	v->pass = inpass;
	v->why = inpass ? "negotiate with inpass: accepted in clear, the reply is secured" :
		 "negotiate: no SA is up, plaintext is refused (outbound: ipsec-xdpd is "
		 "asked to negotiate)";
}

static const char *bundle_word(uint32_t state)
{
	return state == IXDP_BUNDLE_UP ? "up" : state == IXDP_BUNDLE_SOFT ? "soft" :
	       state == IXDP_BUNDLE_NEGOTIATING ? "negotiating" : "none";
}

/* The bundle the dataplane would look up: {rule, peer}, then {rule, every
 * peer}; IXDP_BUNDLE_NONE when there is none or the list is not the
 * dataplane's (nothing negotiates without it). */
static uint32_t find_bundle(struct ctx *c, const struct live_list *l, long idx,
			    const struct match_query *q, bool *has_ifindex)
{
	const uint8_t *peer = q->dir == IXDP_DIR_OUT ? q->pkt.dst : q->pkt.src;
	struct ixdp_bundle_key k;
	struct ixdp_bundle b;
	struct dp_handoff h;
	char err[256];
	int af = q->pkt.fam == IXDP_FAM_V4 ? AF_INET : AF_INET6;
	int ret;

	*has_ifindex = false;
	if (l->source != LIST_DATAPLANE || !l->info)
		return IXDP_BUNDLE_NONE;
	if (dp_handoff_open(&h, c->root, err, sizeof(err)))
		return IXDP_BUNDLE_NONE;    /* no hand-off maps: no SA */
	dp_bundle_key_init(&k, l->info[idx].rule_id, af, peer);
	ret = dp_bundle_get(&h, &k, &b);
	if (ret) {
		dp_bundle_key_init(&k, l->info[idx].rule_id, af, NULL);
		ret = dp_bundle_get(&h, &k, &b);
	}
	dp_handoff_close(&h);
	if (ret)
		return IXDP_BUNDLE_NONE;
	*has_ifindex = b.ifindex != 0;
	return b.state;
}

/* What the dataplane does with a packet that hit filter idx (< 0: none). */
static void decide(struct ctx *c, const struct live_list *l, long idx,
		   const struct match_query *q, struct verdict *v)
{
	const struct specific_filter *f;
	uint32_t state;
	bool has_ifindex;

	memset(v, 0, sizeof(*v));
	if (q->pkt.proto == 50 || q->pkt.proto == 51) {
		v->pass = true;
		v->why = "ESP and AH go to the kernel's xfrm, unfiltered";
		return;
	}
	if (idx < 0) {
		v->pass = true;
		v->why = "no filter matches: traffic that matches no filter is permitted";
		return;
	}
	f = &l->table.v[idx];
	switch (f->action) {
	case IXDP_ACT_PERMIT:
		v->pass = true;
		v->why = f->flags & IXDP_F_EXEMPTION ? "a default exemption permits it" :
			 "the filter action is permit";
		return;
	case IXDP_ACT_BLOCK:
		v->why = "the filter action is block";
		return;
	}
	state = find_bundle(c, l, idx, q, &has_ifindex);
	v->sa = bundle_word(state);
	negotiate_verdict(f, q, state, has_ifindex, v);
}

/* "me is 10.0.0.1 (the first of 2 IPv4 addresses of this host)" */
static void print_me(const struct match_query *q)
{
	if (!q->me_side)
		return;
	printf("%s: me = %s", q->me_side == 1 ? "source" : "destination", q->me_addr);
	if (q->me_count > 1)
		printf(" (the first of this host's %zu %s addresses; name another to ask about it)",
		       q->me_count, q->pkt.fam == IXDP_FAM_V4 ? "IPv4" : "IPv6");
	putchar('\n');
}

static void print_text(const struct live_list *l, const struct match_query *q, long idx,
		       const long *also, size_t nalso, const struct verdict *v)
{
	struct spec_widths w;

	print_me(q);
	printf("verdict: %s (%s)\n", v->pass ? "pass" : "drop", v->why);
	if (idx < 0 || q->pkt.proto == 50 || q->pkt.proto == 51)
		return;
	if (v->sa)
		printf("SA: %s\n", v->sa);
	spec_widths_init(&w);
	spec_widths_add(&w, (size_t)idx, &l->table.v[idx]);
	for (size_t i = 0; i < nalso; i++)
		spec_widths_add(&w, (size_t)also[i], &l->table.v[also[i]]);
	printf("winning filter, the heaviest that matches:\n");
	print_specific_header(&w);
	print_specific_row(&w, (size_t)idx, &l->table.v[idx], NULL);
	if (nalso) {
		printf("also matching, but lighter (tried later):\n");
		for (size_t i = 0; i < nalso; i++)
			print_specific_row(&w, (size_t)also[i], &l->table.v[also[i]], NULL);
	}
}

static void print_json_result(const struct live_list *l, const struct match_query *q,
			      long idx, const long *also, size_t nalso,
			      const struct verdict *v)
{
	struct json_object *o = json_object_new_object();
	struct json_object *arr = json_object_new_array();

	if (q->pkt.proto == 50 || q->pkt.proto == 51)
		idx = -1, nalso = 0;
	json_object_object_add(o, "source", json_object_new_string(list_source_name(l->source)));
	json_object_object_add(o, "verdict", json_object_new_string(v->pass ? "pass" : "drop"));
	json_object_object_add(o, "reason", json_object_new_string(v->why));
	json_object_object_add(o, "sa", v->sa ? json_object_new_string(v->sa) : NULL);
	if (q->me_side)
		json_object_object_add(o, q->me_side == 1 ? "src_me" : "dst_me",
				       json_object_new_string(q->me_addr));
	json_object_object_add(o, "filter", idx >= 0 ?
			       specific_json((size_t)idx, &l->table.v[idx], NULL) : NULL);
	for (size_t i = 0; i < nalso; i++)
		json_object_array_add(arr, specific_json((size_t)also[i], &l->table.v[also[i]], NULL));
	json_object_object_add(o, "also_matching", arr);
	print_json(o);
}

static bool is_dhcp(const struct pkt_tuple *p)
{
	if (p->proto != 17)
		return false;
	if (p->fam == IXDP_FAM_V4)
		return (p->sport == 67 || p->sport == 68) && (p->dport == 67 || p->dport == 68);
	return (p->sport == 546 || p->sport == 547) && (p->dport == 546 || p->dport == 547);
}

/* A boot exemption of the configuration covers it (the dataplane's
 * boot_exempted(), for a first fragment or a whole packet). */
static bool boot_exempted(const struct bootconf *conf, const struct match_query *q)
{
	uint8_t dirbit = q->dir == IXDP_DIR_IN ? IXDP_EXEMPT_IN : IXDP_EXEMPT_OUT;

	for (size_t i = 0; i < conf->nexempt; i++) {
		const struct ixdp_boot_exempt *e = &conf->exempt[i];

		if ((e->dirs & dirbit) && (!e->proto || e->proto == q->pkt.proto) &&
		    (!e->sport || e->sport == q->pkt.sport) &&
		    (!e->dport || e->dport == q->pkt.dport))
			return true;
	}
	return false;
}

/* No policy: the boot mode decides, as the dataplane's boot_path(). */
static int explain_boot(struct ctx *c, const struct live_list *l, const struct match_query *q)
{
	struct bootconf conf;
	struct verdict v = { 0 };
	int ret;

	if ((ret = load_config(c, &conf)))
		return ret;
	if (is_dhcp(&q->pkt)) {
		v.pass = true, v.why = "DHCP passes in every boot mode";
	} else if (boot_exempted(&conf, q)) {
		v.pass = true, v.why = "a boot exemption covers it";
	} else if (l->bootmode == IXDP_BOOT_PERMIT) {
		v.pass = true, v.why = "everything passes";
	} else if (l->bootmode == IXDP_BOOT_STATEFUL && q->dir == IXDP_DIR_OUT) {
		v.pass = true, v.why = "outbound passes and is remembered";
	} else if (l->bootmode == IXDP_BOOT_STATEFUL) {
		v.why = "inbound passes only as a reply to remembered outbound traffic "
			"(taken as new here)";
	} else {
		v.why = "everything is dropped but DHCP and the boot exemptions";
	}
	if (c->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "source", json_object_new_string("none"));
		json_object_object_add(o, "bootmode", json_object_new_string(bootmode_name(l->bootmode)));
		json_object_object_add(o, "verdict", json_object_new_string(v.pass ? "pass" : "drop"));
		json_object_object_add(o, "reason", json_object_new_string(v.why));
		if (q->me_side)
			json_object_object_add(o, q->me_side == 1 ? "src_me" : "dst_me",
					       json_object_new_string(q->me_addr));
		print_json(o);
	} else {
		print_me(q);
		printf("no policy applied: boot mode %s decides (see show config)\n"
		       "verdict: %s (%s)\n", bootmode_name(l->bootmode),
		       v.pass ? "pass" : "drop", v.why);
	}
	return v.pass ? EXIT_OK : EXIT_FAIL;
}

/* Exit 0: pass, 1: drop; every error is 2 (grep's convention, so a script
 * can tell "dropped" from "could not tell"). */
int cmd_match(struct ctx *c, int argc, char **argv)
{
	struct match_query q;
	struct live_list l;
	struct verdict v;
	long idx, also[MAX_ALSO];
	size_t nalso = 0;
	int ret;

	if (parse_query(argc, argv, &q))
		return EXIT_USAGE;
	if (live_list_read(c, &l))
		return EXIT_USAGE;
	if (l.source == LIST_NONE) {
		ret = explain_boot(c, &l, &q);
		live_list_free(&l);
		return ret == EXIT_OK || ret == EXIT_FAIL ? ret : EXIT_USAGE;
	}
	idx = filter_table_match(&l.table, &q.pkt);
	for (size_t i = idx < 0 ? l.table.n : (size_t)idx + 1; i < l.table.n && nalso < MAX_ALSO; i++)
		if (specific_filter_matches(&l.table.v[i], &q.pkt))
			also[nalso++] = (long)i;
	decide(c, &l, idx, &q, &v);
	if (c->json)
		print_json_result(&l, &q, idx, also, nalso, &v);
	else
		print_text(&l, &q, idx, also, nalso, &v);
	live_list_free(&l);
	return v.pass ? EXIT_OK : EXIT_FAIL;
}
