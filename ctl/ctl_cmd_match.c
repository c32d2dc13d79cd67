// SPDX-License-Identifier: GPL-2.0-only
/*
 * ctl_cmd_match.c - `match SRC DST PROTO [SPORT DPORT] [--in|--out]
 * [--interface IFACE]`: which
 * filter a packet hits and why, decided by the reference matcher over the
 * same list the dataplane enforces.
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
#include "dataplane/dataplane_iface.h"

#define MAX_ALSO 10

struct match_query {
	struct pkt_tuple pkt;
	enum ixdp_dir dir;
	bool bcast_mcast;
	const char *iface;      /* --interface: NULL for "none named" */
	enum ixdp_conn_type kind;
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

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
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
	uint8_t dfam;

	memset(q, 0, sizeof(*q));
	q->dir = IXDP_DIR_OUT;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--in"))
			q->dir = IXDP_DIR_IN;
		else if (!strcmp(argv[i], "--out"))
			q->dir = IXDP_DIR_OUT;
		else if (!strcmp(argv[i], "--interface") && i + 1 < argc)
			q->iface = argv[++i];
		else if (argv[i][0] == '-' && !isdigit((unsigned char)argv[i][1]))
			return fail(EXIT_USAGE, "match: unknown option '%s'", argv[i]);
		else if (npos < 5)
			pos[npos++] = argv[i];
		else
			return fail(EXIT_USAGE, "match: too many arguments");
	}
	if (npos != 3 && npos != 5)
		return fail(EXIT_USAGE, "usage: ipsec-xdp match SRC DST PROTO [SPORT DPORT] [--in|--out] "
			    "[--interface IFACE]");
	if (q->iface && dp_iface_kind(q->iface, &q->kind))
		return fail(EXIT_USAGE, "match: no interface named '%s'", q->iface);
	if (parse_addr(pos[0], &q->pkt.fam, q->pkt.src))
		return fail(EXIT_USAGE, "match: '%s' is not an IPv4 or IPv6 address", pos[0]);
	if (parse_addr(pos[1], &dfam, q->pkt.dst))
		return fail(EXIT_USAGE, "match: '%s' is not an IPv4 or IPv6 address", pos[1]);
	if (dfam != q->pkt.fam)
		return fail(EXIT_USAGE, "match: source and destination are of different families");
	if (parse_proto(pos[2], &q->pkt.proto))
		return fail(EXIT_USAGE, "match: '%s' is not a protocol name or number 0-255", pos[2]);
	if (npos == 5) {
		if (!proto_has_ports(q->pkt.proto))
			return fail(EXIT_USAGE, "match: protocol %s has no ports", pos[2]);
		if (parse_port(pos[3], &q->pkt.sport) || parse_port(pos[4], &q->pkt.dport))
			return fail(EXIT_USAGE, "match: ports are numbers 0-65535");
	}
	q->bcast_mcast = is_bcast_mcast(&q->pkt);
	return EXIT_OK;
}

/* What the dataplane does with a packet that hit filter f. */
static const char *filter_verdict(const struct specific_filter *f,
				  const struct match_query *q, const char **why)
{
	switch (f->action) {
	case IXDP_ACT_PERMIT:
		*why = f->flags & IXDP_F_EXEMPTION ? "a default exemption permits it" :
		       "the filter action is permit";
		return "pass";
	case IXDP_ACT_BLOCK:
		*why = "the filter action is block";
		return "drop";
	default:
		if (q->bcast_mcast) {
			*why = "broadcast and multicast cannot be secured";
			return "drop";
		}
		if (q->dir == IXDP_DIR_IN && (f->flags & IXDP_F_INPASS)) {
			*why = "negotiate with inpass: accepted in clear, the reply is secured";
			return "pass";
		}
		*why = "negotiate: plaintext is refused until an SA secures it";
		return "drop";
	}
}

/* Without --interface only the filters of every interface are tried. */
static void print_iface_note(const struct live_list *l, const struct match_query *q)
{
	if (q->iface)
		printf("on interface %s (%s)\n", q->iface,
		       q->kind == IXDP_CONN_REMOTE ? "remote" : "lan");
	else if (l->table.ngroups > 1)
		printf("on an interface no rule's connection-type or interfaces selects "
		       "(give --interface IFACE for another)\n");
}

static void print_text(const struct live_list *l, const struct match_query *q, long idx,
		       const long *also, size_t nalso)
{
	const char *why, *verdict;

	print_iface_note(l, q);
	if (q->pkt.proto == 50 || q->pkt.proto == 51) {
		printf("verdict: pass (ESP and AH go to the kernel's xfrm, unfiltered)\n");
		return;
	}
	if (idx < 0) {
		printf("no filter matches: pass (traffic that matches no filter is permitted)\n");
		return;
	}
	verdict = filter_verdict(&l->table.v[idx], q, &why);
	printf("verdict: %s (%s)\nwinning filter, the heaviest that matches:\n", verdict, why);
	print_specific_header();
	print_specific_row(&l->table, (size_t)idx, NULL);
	if (nalso) {
		printf("also matching, but lighter (tried later):\n");
		for (size_t i = 0; i < nalso; i++)
			print_specific_row(&l->table, (size_t)also[i], NULL);
	}
}

static void print_json_result(const struct live_list *l, const struct match_query *q,
			      long idx, const long *also, size_t nalso)
{
	struct json_object *o = json_object_new_object();
	struct json_object *arr = json_object_new_array();
	const char *why = "no filter matches: permitted", *verdict = "pass";

	if (q->pkt.proto == 50 || q->pkt.proto == 51)
		why = "ESP and AH go to xfrm", idx = -1;
	else if (idx >= 0)
		verdict = filter_verdict(&l->table.v[idx], q, &why);
	json_object_object_add(o, "source", json_object_new_string(list_source_name(l->source)));
	json_object_object_add(o, "interface", q->iface ? json_object_new_string(q->iface) : NULL);
	json_object_object_add(o, "verdict", json_object_new_string(verdict));
	json_object_object_add(o, "reason", json_object_new_string(why));
	json_object_object_add(o, "filter", idx >= 0 ?
			       specific_json(&l->table, (size_t)idx, NULL) : NULL);
	for (size_t i = 0; i < nalso; i++)
		json_object_array_add(arr, specific_json(&l->table, (size_t)also[i], NULL));
	json_object_object_add(o, "also_matching", arr);
	print_json(o);
}

static int explain_boot(struct ctx *c, const struct live_list *l, const struct match_query *q)
{
	static const char *text[] = {
		[IXDP_BOOT_PERMIT] = "everything passes",
		[IXDP_BOOT_BLOCK] = "everything is dropped but DHCP and the boot exemptions",
		[IXDP_BOOT_STATEFUL] = "outbound passes; inbound only as a reply to outbound "
				       "traffic, DHCP, or a boot exemption",
	};
	const char *t = text[l->bootmode <= IXDP_BOOT_STATEFUL ? l->bootmode : 0];

	if (c->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "source", json_object_new_string("none"));
		json_object_object_add(o, "bootmode", json_object_new_string(bootmode_name(l->bootmode)));
		json_object_object_add(o, "reason", json_object_new_string(t));
		print_json(o);
	} else {
		printf("no policy applied: boot mode %s decides: %s (see show config)\n",
		       bootmode_name(l->bootmode), t);
	}
	return EXIT_OK;
}

int cmd_match(struct ctx *c, int argc, char **argv)
{
	struct match_query q;
	struct live_list l;
	long idx, also[MAX_ALSO];
	size_t nalso = 0;
	int ret;

	if ((ret = parse_query(argc, argv, &q)))
		return ret;
	if ((ret = live_list_read(c, &l)))
		return ret;
	if (l.source == LIST_NONE) {
		ret = explain_boot(c, &l, &q);
		live_list_free(&l);
		return ret;
	}
	if (q.iface)
		q.pkt.ifmask = ifgroups_of_iface(&l.table, q.iface, q.kind);
	idx = filter_table_match(&l.table, &q.pkt);
	for (size_t i = idx < 0 ? l.table.n : (size_t)idx + 1; i < l.table.n && nalso < MAX_ALSO; i++)
		if (filter_applies(&l.table.v[i], q.pkt.ifmask) &&
		    specific_filter_matches(&l.table.v[i], &q.pkt))
			also[nalso++] = (long)i;
	if (c->json)
		print_json_result(&l, &q, idx, also, nalso);
	else
		print_text(&l, &q, idx, also, nalso);
	live_list_free(&l);
	return EXIT_OK;
}
