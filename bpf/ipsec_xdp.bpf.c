// SPDX-License-Identifier: GPL-2.0-only
/*
 * ipsec_xdp.bpf.c - the dataplane: XDP on ingress, TC (clsact) on egress.
 *
 * Both programs parse the packet (parse.h) and share one decision
 * (ixdp_decide).  Every packet gets one of these verdicts, in this order:
 *
 *   not IPv4/IPv6 (ARP, LLDP...)       pass   pkts non_ip
 *   malformed or truncated headers     drop   drops malformed
 *   ICMPv6 neighbour discovery 133-137 pass   pkts nd
 *
 *   no policy applied (boot mode):
 *     DHCP (UDP 67/68, 546/547)        pass   pkts boot_pass
 *     matches a boot exemption         pass   pkts boot_pass
 *     mode permit                      pass   pkts boot_pass
 *     mode block                       drop   drops boot_block
 *     mode stateful, egress            pass   pkts boot_pass (remembered)
 *     mode stateful, ingress:
 *       non-first fragment             drop   drops boot_fragment
 *       broadcast / multicast          drop   drops boot_stateful
 *       answers a remembered flow      pass   pkts boot_pass
 *         that is not idle (timeouts: include/ipsec_xdp.h ixdp_conn)
 *       otherwise                      drop   drops boot_stateful
 *     (egress of a new flow, table full: still passes, pkts conn_table_full)
 *
 *   a policy applied:
 *     ESP or AH                        pass   pkts ipsec
 *     matches no filter, egress, a default response bundle up
 *                                      redirect into xfrm  xfrm default_response
 *     matches no filter                pass   pkts unmatched
 *     first matching filter permit     pass
 *     ... block                        drop   drops block_filter
 *     ... negotiate, bcast/mcast       drop   drops bcast_negotiate
 *     ... negotiate, SA bundle soft    pass   xfrm soft_pass
 *     ... negotiate, bundle up, egress redirect into xfrm  xfrm redirect
 *     ... negotiate+inpass, ingress    pass   (event if no bundle up)
 *     ... negotiate otherwise          drop   drops negotiate_no_sa (+ event)
 *   (the matched filter counts the packet and its bytes per direction)
 *   SA bundles and events: include/ipsec_xdp.h; why transport mode needs a
 *   plain xfrm interface: "Why transport mode ..." below.
 *
 * Every packet also counts in pkts in / out.  A non-first fragment has no
 * ports: it can only match filters and boot exemptions whose ports are
 * both `any`.
 *
 * A packet reads the live bank number once and uses only that bank, so a
 * flip of IXDP_STATE_POLICY_BANK by userspace is atomic for it.  Userspace
 * clears the old bank only after an RCU grace period (ixdp_sync), when no
 * program can still be reading it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include "ipsec_xdp.h"
#include "parse.h"
#include "maps.h"

#define TC_ACT_OK   0
#define TC_ACT_SHOT 2

/* What ixdp_decide returns.  Inside it, a drop is IXDP_V_DROP_WHY + the
 * reason (drop()), so that the reason reaches the drop event it writes. */
enum ixdp_verdict {
	IXDP_V_PASS = 0,
	IXDP_V_DROP = 1,
	IXDP_V_XFRM = 2,
	IXDP_V_DROP_WHY = 16,
};

/* Where an IXDP_V_XFRM packet goes: its bundle's interface. */
struct ixdp_handoff {
	__u32 ifindex;
	__u32 if_id;
	__u32 flags;        /* enum ixdp_bundle_flags */
	__u32 pad;
};

/* ---- counters ------------------------------------------------------------ */

static __always_inline void count_pkt(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&ixdp_pkts, &which);

	if (c)
		*c += 1;        /* per-CPU slot: no other writer */
}

static __always_inline void count_xs(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&ixdp_xfrm_stats, &which);

	if (c)
		*c += 1;
}

static __always_inline int pass_counted(__u32 which)
{
	count_pkt(which);
	return IXDP_V_PASS;
}

static __always_inline int drop(__u32 reason)
{
	__u64 *c = bpf_map_lookup_elem(&ixdp_drops, &reason);

	if (c)
		*c += 1;
	return IXDP_V_DROP_WHY + reason;
}

/* The position of a slot in the bank's list (IXDP_NO_FILTER: none). */
static __always_inline __u32 slot_pos(__u32 bank, __u32 slot)
{
	__u32 idx = bank * IXDP_MAX_SLOTS + slot;
	__u32 *pos;

	if (slot >= IXDP_MAX_SLOTS)
		return IXDP_NO_FILTER;
	pos = bpf_map_lookup_elem(&ixdp_slot_pos, &idx);
	return pos ? *pos : IXDP_NO_FILTER;
}

/* Which filter decided, for the drop event (IXDP_NO_FILTER: none). */
struct ixdp_decider {
	__u32 slot;
	__u32 generation;
	__u32 bank;
};

/*
 * The token bucket of this CPU's drop events (GCRA): true when an event
 * may be written now, which uses one token.  At most IXDP_DROP_EV_BURST
 * events at once, then one per IXDP_DROP_EV_INTERVAL_NS.
 */
static __always_inline bool drop_event_allowed(struct ixdp_drop_limiter *l,
					       __u64 now)
{
	const __u64 tolerance = (IXDP_DROP_EV_BURST - 1) * IXDP_DROP_EV_INTERVAL_NS;
	__u64 tat = l->tat > now ? l->tat : now;

	if (tat - now > tolerance)
		return false;
	l->tat = tat + IXDP_DROP_EV_INTERVAL_NS;
	return true;
}

/* Describe one dropped packet in ixdp_drop_events, within the rate limit;
 * over it, only count it (the next event carries the count). */
static __always_inline void report_drop(const struct ixdp_pkt *p, __u32 dir,
					__u32 reason,
					const struct ixdp_decider *why)
{
	__u32 zero = 0;
	struct ixdp_drop_limiter *l = bpf_map_lookup_elem(&ixdp_drop_limit, &zero);
	struct ixdp_drop_event *ev;
	/* the coarse clock (a jiffy's resolution, a few ns to read) is enough
	 * for a limit of one event per 10 ms; only an event reads the fine one */
	__u64 now = bpf_ktime_get_coarse_ns();

	if (!l)
		return;
	if (!drop_event_allowed(l, now)) {
		l->suppressed++;
		l->pending++;
		return;
	}
	ev = bpf_ringbuf_reserve(&ixdp_drop_events, sizeof(*ev), 0);
	if (!ev) {      /* full: nobody reads, or too slowly */
		l->lost++;
		l->pending++;
		return;
	}
	ev->ts_ns = bpf_ktime_get_ns();
	ev->reason = reason;
	ev->filter = why->slot == IXDP_NO_FILTER ? IXDP_NO_FILTER
						 : slot_pos(why->bank, why->slot);
	ev->slot = why->slot;
	ev->generation = why->generation;
	ev->suppressed = l->pending;
	ev->fam = p->fam;
	ev->proto = p->proto;
	ev->dir = dir;
	ev->bank = why->bank;
	ev->sport = p->sport;
	ev->dport = p->dport;
	__builtin_memcpy(ev->src, p->src, 16);
	__builtin_memcpy(ev->dst, p->dst, 16);
	ev->cpu = bpf_get_smp_processor_id();
	bpf_ringbuf_submit(ev, 0);
	l->pending = 0;
	l->events++;
}

static __always_inline void count_filter(__u32 slot, __u32 dir, __u32 bytes)
{
	struct ixdp_counter *c;

	if (slot >= IXDP_MAX_SLOTS)
		return;
	c = bpf_map_lookup_elem(&ixdp_counters, &slot);
	if (!c)
		return;
	/* one array for all CPUs (a per-CPU copy would cost 4 MiB per CPU):
	 * atomic adds, so that no CPU's count is lost */
	if (dir == IXDP_DIR_IN) {
		__sync_fetch_and_add(&c->packets[IXDP_DIR_IN], 1);
		__sync_fetch_and_add(&c->bytes[IXDP_DIR_IN], bytes);
	} else {
		__sync_fetch_and_add(&c->packets[IXDP_DIR_OUT], 1);
		__sync_fetch_and_add(&c->bytes[IXDP_DIR_OUT], bytes);
	}
}

static __always_inline __u32 read_state(__u32 idx)
{
	__u32 *v = bpf_map_lookup_elem(&ixdp_state, &idx);

	return v ? (*v & 1) : 0;
}

/* ---- boot mode ----------------------------------------------------------- */

static __always_inline bool is_dhcp(const struct ixdp_pkt *p)
{
	if (p->frag || p->proto != IXDP_PROTO_UDP)
		return false;
	if (p->fam == IXDP_FAM_V4)
		return (p->sport == 67 || p->sport == 68) &&
		       (p->dport == 67 || p->dport == 68);
	return (p->sport == 546 || p->sport == 547) &&
	       (p->dport == 546 || p->dport == 547);
}

struct exempt_walk {
	struct ixdp_boot *boot;
	__u16 sport, dport;
	__u8 proto, frag, dirbit, hit;
};

static long exempt_one(__u32 i, void *ctx)
{
	struct exempt_walk *w = ctx;
	struct ixdp_boot_exempt *e;

	if (i >= IXDP_MAX_BOOT_EXEMPT)
		return 1;
	e = &w->boot->exempt[i];
	if (!(e->dirs & w->dirbit))
		return 0;
	if (e->proto && e->proto != w->proto)
		return 0;
	/* A non-first fragment has no ports: only port-less exemptions. */
	if (w->frag && (e->sport || e->dport))
		return 0;
	if ((e->sport && e->sport != w->sport) ||
	    (e->dport && e->dport != w->dport))
		return 0;
	w->hit = 1;
	return 1;
}

static __always_inline bool boot_exempted(const struct ixdp_pkt *p,
					  struct ixdp_boot *boot, __u32 dir)
{
	struct exempt_walk w = {
		.boot = boot,
		.sport = p->sport,
		.dport = p->dport,
		.proto = p->proto,
		.frag = p->frag,
		.dirbit = dir == IXDP_DIR_IN ? IXDP_EXEMPT_IN : IXDP_EXEMPT_OUT,
	};
	__u32 n = boot->nexempt;

	if (n > IXDP_MAX_BOOT_EXEMPT)
		n = IXDP_MAX_BOOT_EXEMPT;
	if (n)
		bpf_loop(n, exempt_one, &w, 0);
	return w.hit;
}

/* The connection as seen on egress: local side first.  ICMP echo uses the
 * echo identifier as both ports so that the reply finds the request. */
static __always_inline void conn_key(const struct ixdp_pkt *p, bool egress,
				     struct ixdp_conn_key *k)
{
	__u16 sp = p->sport, dp = p->dport;

	if (proto_is_icmp(p))
		sp = dp = p->is_echo ? p->echo_id : 0;
	__builtin_memset(k, 0, sizeof(*k));
	k->fam = p->fam;
	k->proto = p->proto;
	k->lport = egress ? sp : dp;
	k->rport = egress ? dp : sp;
	__builtin_memcpy(k->laddr, egress ? p->src : p->dst, 16);
	__builtin_memcpy(k->raddr, egress ? p->dst : p->src, 16);
}

#ifndef CLOCK_MONOTONIC
#define CLOCK_MONOTONIC 1       /* the clock of bpf_ktime_get_ns() */
#endif
#ifndef EEXIST                  /* errno values (vmlinux.h has none) */
#define EBUSY  16
#define EEXIST 17
#endif

/* One entry of the sweep: delete it if idle.  Deleting the entry being
 * visited is allowed; when a CPU reuses the freed element at once, the walk
 * may skip a few entries, which the next sweep finds.  A flow refreshed by
 * another CPU between the check and the delete (at the very end of its idle
 * time) loses its entry; its next outbound packet makes it again. */
static long sweep_one(void *map, struct ixdp_conn_key *k, struct ixdp_conn *c,
		      __u64 *now)
{
	if (*now >= c->expires)
		bpf_map_delete_elem(map, k);
	return 0;
}

/* The sweeper's timer fired: delete the idle entries, then wait again.
 * Once started it runs for as long as the maps exist, in every mode (an
 * empty table costs one pass over the buckets). */
static int conn_sweep(void *map, __u32 *key, struct ixdp_conn_sweeper *sw)
{
	__u64 now = bpf_ktime_get_ns();

	bpf_for_each_map_elem(&ixdp_conns, sweep_one, &now, 0);
	bpf_timer_start(&sw->timer, IXDP_CONN_SWEEP_NS, 0);
	return 0;
}

/*
 * Start the sweeper if it does not run yet: the first outbound packet in
 * stateful mode does (BPF code must set a timer up).  If setting it up fails
 * (the kernel could not allocate it), the next packet tries again.
 */
static __always_inline void conn_sweeper_start(void)
{
	__u32 zero = 0;
	struct ixdp_conn_sweeper *sw = bpf_map_lookup_elem(&ixdp_conn_sweep, &zero);
	long err;

	if (!sw || sw->armed)
		return;
	err = bpf_timer_init(&sw->timer, &ixdp_conn_sweep, CLOCK_MONOTONIC);
	if (err && err != -EBUSY)
		return;
	if (bpf_timer_set_callback(&sw->timer, conn_sweep) ||
	    bpf_timer_start(&sw->timer, IXDP_CONN_SWEEP_NS, 0))
		return;
	sw->armed = 1;
}

/*
 * Outbound: refresh the flow's entry, or create it.  A full table leaves
 * the flow unremembered: it is counted, and the packet still passes (the
 * caller).
 */
static __always_inline void remember_conn(const struct ixdp_pkt *p)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 idle = ixdp_conn_idle_ns(p->proto);
	struct ixdp_conn_key k;
	struct ixdp_conn *c, fresh = { .expires = now + idle };
	long err;

	conn_sweeper_start();
	conn_key(p, true, &k);
	c = bpf_map_lookup_elem(&ixdp_conns, &k);
	if (c) {
		c->expires = now + idle;
		return;
	}
	err = bpf_map_update_elem(&ixdp_conns, &k, &fresh, BPF_NOEXIST);
	if (err == -EEXIST) {   /* another CPU created it just now */
		c = bpf_map_lookup_elem(&ixdp_conns, &k);
		if (c)
			c->expires = now + idle;
	} else if (err) {       /* -E2BIG: full */
		count_pkt(IXDP_PKT_CONN_FULL);
	}
}

/* Inbound passes only as the reply of a remembered flow that is not idle;
 * the reply keeps the flow alive as its outbound packets do (a download
 * whose sender rarely speaks stays open, as with any stateful firewall). */
static __always_inline int stateful_ingress(const struct ixdp_pkt *p)
{
	struct ixdp_conn_key k;
	struct ixdp_conn *c;
	__u64 now;

	if (p->frag)
		return drop(IXDP_DROP_FRAGMENT);
	if (p->bcast)
		return drop(IXDP_DROP_BOOT_STATEFUL);
	conn_key(p, false, &k);
	c = bpf_map_lookup_elem(&ixdp_conns, &k);
	if (!c)
		return drop(IXDP_DROP_BOOT_STATEFUL);
	now = bpf_ktime_get_ns();
	if (now >= c->expires)  /* idle: the sweeper deletes it */
		return drop(IXDP_DROP_BOOT_STATEFUL);
	c->expires = now + ixdp_conn_idle_ns(p->proto);
	return pass_counted(IXDP_PKT_BOOT_PASS);
}

static __always_inline int boot_path(const struct ixdp_pkt *p, __u32 dir)
{
	__u32 bb = read_state(IXDP_STATE_BOOT_BANK);
	struct ixdp_boot *boot = bpf_map_lookup_elem(&ixdp_boot, &bb);

	if (!boot)      /* cannot happen (array index 0/1): fail closed */
		return drop(IXDP_DROP_BOOT_BLOCK);
	if (is_dhcp(p) || boot_exempted(p, boot, dir))
		return pass_counted(IXDP_PKT_BOOT_PASS);
	switch (boot->mode) {
	case IXDP_BOOT_PERMIT:
		return pass_counted(IXDP_PKT_BOOT_PASS);
	case IXDP_BOOT_STATEFUL:
		if (dir == IXDP_DIR_IN)
			return stateful_ingress(p);
		if (!p->frag)
			remember_conn(p);
		return pass_counted(IXDP_PKT_BOOT_PASS);
	}
	return drop(IXDP_DROP_BOOT_BLOCK);  /* block, or an unknown mode */
}

/* ---- policy: tuple space search ----------------------------------------- */

struct tuple_walk {
	__u32 src[4], dst[4];
	__u16 sport, dport;
	__u8 proto, frag, fam, hit;
	__u8 protobit;
	__u16 ifmask;       /* the interface's groups, bit 0 always set */
	__u32 bank;
	struct ixdp_fval val;
	struct ixdp_fkey key;
};

static __always_inline __u16 tuple_port(const struct tuple_walk *w, __u8 kind,
					__u32 side, __u16 port)
{
	__u32 idx;
	__u16 *cls;

	if (kind == IXDP_PORT_EXACT)
		return port;
	if (kind != IXDP_PORT_RANGE)
		return 0;
	idx = (w->bank * 2 + side) * IXDP_PORT_CLASSES + port;
	cls = bpf_map_lookup_elem(&ixdp_port_class, &idx);
	return cls ? *cls : 0;
}

static long tuple_one(__u32 i, void *ctx)
{
	struct tuple_walk *w = ctx;
	__u32 idx = (w->bank * 2 + w->fam) * IXDP_MAX_TUPLES + i;
	struct ixdp_tuple *t;
	struct ixdp_fval *v;
	__u32 groups;

	if (i >= IXDP_MAX_TUPLES)
		return 1;
	t = bpf_map_lookup_elem(&ixdp_tuples, &idx);
	if (!t)
		return 1;
	/* A non-first fragment has no ports: it can only match filters whose
	 * ports are both `any`. */
	if (w->frag && (t->sport_kind != IXDP_PORT_ANY ||
			t->dport_kind != IXDP_PORT_ANY))
		return 0;
	/* No filter of this tuple has the packet's protocol: no lookup. */
	if (t->protos && !(t->protos & w->protobit))
		return 0;
	w->key.shape = t->shape;
	w->key.proto = t->proto_exact ? w->proto : 0;
	w->key.sport = tuple_port(w, t->sport_kind, 0, w->sport);
	w->key.dport = tuple_port(w, t->dport_kind, 1, w->dport);
	for (int j = 0; j < 4; j++) {
		w->key.src[j] = w->src[j] & t->src_mask[j];
		w->key.dst[j] = w->dst[j] & t->dst_mask[j];
	}
	/* One probe per interface group of the tuple that applies here
	 * (usually group 0 alone); of two hits, the one of lower position
	 * (ixdp_slot_pos) is the first in enforcement order. */
	groups = (t->groups ? t->groups : 1) & w->ifmask;
#pragma clang loop unroll(disable)
	for (__u32 g = 0; g < IXDP_MAX_IFGROUPS; g++) {
		if (!(groups >> g))
			break;
		if (!((groups >> g) & 1))
			continue;
		w->key.ifgroup = g;
		v = bpf_map_lookup_elem(&ixdp_filters, &w->key);
		if (v && (!w->hit || slot_pos(w->bank, v->slot) <
				     slot_pos(w->bank, w->val.slot))) {
			w->val = *v;
			w->hit = 1;
		}
	}
	return w->hit ? 1 : 0;
}

/* First hit in weight order, or val.slot = IXDP_NO_FILTER. */
static __always_inline void tuple_search(const struct ixdp_pkt *p, __u32 bank,
					 const struct ixdp_bank *b, __u16 ifmask,
					 struct ixdp_fval *out)
{
	struct tuple_walk w = {};
	__u32 n = p->fam == IXDP_FAM_V4 ? b->ntuples[IXDP_FAM_V4]
					: b->ntuples[IXDP_FAM_V6];

	__builtin_memcpy(w.src, p->src, 16);
	__builtin_memcpy(w.dst, p->dst, 16);
	w.sport = p->sport;
	w.dport = p->dport;
	w.proto = p->proto;
	w.protobit = ixdp_proto_bit(p->proto);
	w.frag = p->frag;
	w.fam = p->fam;
	w.ifmask = ifmask | 1;
	w.bank = bank;
	w.key.bank = bank;
	w.key.fam = p->fam;
	if (n > IXDP_MAX_TUPLES)
		n = IXDP_MAX_TUPLES;
	if (n)
		bpf_loop(n, tuple_one, &w, 0);
	if (w.hit) {
		*out = w.val;
	} else {
		__builtin_memset(out, 0, sizeof(*out));
		out->slot = IXDP_NO_FILTER;
	}
}

/* ---- policy: the decision tree ------------------------------------------ */

/* The packet as the tree reads it: every field a cut or a leaf compares,
 * in host byte order, indexed by enum ixdp_tree_field. */
struct leaf_walk {
	__u32 f[16];        /* [IXDP_TF_*]; the rest 0 */
	__u32 base;         /* the leaf's first ixdp_tleaf index */
	__u32 slot;         /* the answer, or IXDP_NO_FILTER */
	__u16 ifmask;
	__u8 fam, frag;
	__u8 action, flags;
	__u8 broken;        /* an entry out of its arrays: the tree decides nothing */
};

static __always_inline void tree_fields(const struct ixdp_pkt *p,
					struct leaf_walk *w)
{
#pragma clang loop unroll(full)
	for (int j = 0; j < 4; j++) {
		w->f[IXDP_TF_SRC0 + j] = bpf_ntohl(p->src[j]);
		w->f[IXDP_TF_DST0 + j] = bpf_ntohl(p->dst[j]);
	}
	w->f[IXDP_TF_SPORT] = p->sport;
	w->f[IXDP_TF_DPORT] = p->dport;
	w->f[IXDP_TF_PROTO] = p->proto;
	w->fam = p->fam;
	w->frag = p->frag;
}

/* The leaf of the packet's region, or NULL (a broken tree: fail closed). */
static __always_inline const struct ixdp_tnode *
tree_leaf(const struct leaf_walk *w, __u32 bank)
{
	__u32 base = bank * IXDP_TREE_NODES, i = w->fam & 1, idx;
	const struct ixdp_tnode *n;

#pragma clang loop unroll(disable)
	for (int d = 0; d <= IXDP_TREE_DEPTH; d++) {
		idx = base + i;
		n = bpf_map_lookup_elem(&ixdp_tnodes, &idx);
		if (!n || n->leaf)
			return n;
		i = n->base + ixdp_tnode_child(n, w->f);
		if (i >= IXDP_TREE_NODES)
			return NULL;
	}
	return NULL;
}

/* A prefix's mask over one address word, from ixdp_tmatch's shift (0..32:
 * the word's bits after the prefix; 32 clears the whole word). */
static __always_inline __u32 word_mask(__u8 shift)
{
	return (__u32)(~0ULL << (shift & 63));
}

/* Does the filter apply on this interface and match the packet
 * (filter_applies() and specific_filter_matches(), in BPF)? */
static __always_inline bool leaf_filter_matches(const struct ixdp_tmatch *m,
						const struct leaf_walk *w)
{
	__u32 diff;

	if (!((w->ifmask >> (m->ifgroup & 15)) & 1) || m->fam != w->fam)
		return false;
	diff = ((w->f[IXDP_TF_SRC0] & word_mask(m->sshift[0])) ^ m->src[0]) |
	       ((w->f[IXDP_TF_DST0] & word_mask(m->dshift[0])) ^ m->dst[0]);
	if (w->fam != IXDP_FAM_V4) {
#pragma clang loop unroll(full)
		for (int j = 1; j < 4; j++)
			diff |= ((w->f[IXDP_TF_SRC0 + j] & word_mask(m->sshift[j])) ^ m->src[j]) |
				((w->f[IXDP_TF_DST0 + j] & word_mask(m->dshift[j])) ^ m->dst[j]);
	}
	if (diff || (!m->proto_any && m->proto != w->f[IXDP_TF_PROTO]))
		return false;
	if (w->frag)
		return m->frag_ok;
	return w->f[IXDP_TF_SPORT] >= m->sport_lo &&
	       w->f[IXDP_TF_SPORT] <= m->sport_hi &&
	       w->f[IXDP_TF_DPORT] >= m->dport_lo &&
	       w->f[IXDP_TF_DPORT] <= m->dport_hi;
}

static long leaf_one(__u32 i, void *ctx)
{
	struct leaf_walk *w = ctx;
	__u32 idx = w->base + i, *slot;
	const struct ixdp_tmatch *m;

	slot = bpf_map_lookup_elem(&ixdp_tleaf, &idx);
	m = slot ? bpf_map_lookup_elem(&ixdp_tmatch, slot) : NULL;
	if (!m) {
		w->broken = 1;
		return 1;
	}
	if (!leaf_filter_matches(m, w))
		return 0;
	w->slot = *slot;
	w->action = m->action;
	w->flags = m->flags;
	return 1;
}

/* The first filter of the packet's leaf that applies and matches; false
 * when the tree is broken (the caller fails closed). */
static __always_inline bool tree_search(const struct ixdp_pkt *p, __u32 bank,
					__u16 ifmask, struct ixdp_fval *out)
{
	struct leaf_walk w = { .slot = IXDP_NO_FILTER, .ifmask = ifmask | 1 };
	const struct ixdp_tnode *leaf;
	__u32 n;

	tree_fields(p, &w);
	leaf = tree_leaf(&w, bank);
	if (!leaf || leaf->base >= IXDP_TREE_LEAF_REFS ||
	    leaf->n > IXDP_TREE_LEAF_REFS - leaf->base)
		return false;
	w.base = bank * IXDP_TREE_LEAF_REFS + leaf->base;
	n = leaf->n;
	if (n > IXDP_TREE_LEAF_MAX)
		n = IXDP_TREE_LEAF_MAX;
	if (n)
		bpf_loop(n, leaf_one, &w, 0);
	if (w.broken)
		return false;
	__builtin_memset(out, 0, sizeof(*out));
	out->slot = w.slot;
	out->action = w.action;
	out->flags = w.flags;
	return true;
}

/* Whether the bank's tree holds the bank's list (written after it). */
static __always_inline bool tree_ready(__u32 bank, const struct ixdp_bank *b)
{
	__u32 idx = IXDP_STATE_TREE_GEN0 + (bank & 1);
	__u32 *gen = bpf_map_lookup_elem(&ixdp_state, &idx);

	return gen && b->generation && *gen == b->generation;
}

/* A new flow's filter: from the tree when it is ready, else (the tree of
 * the bank not yet written, or a broken one) from the tuple space, which
 * holds the same list. */
static __always_inline void search(const struct ixdp_pkt *p, __u32 bank,
				   const struct ixdp_bank *b, __u16 ifmask,
				   struct ixdp_fval *out)
{
	if (tree_ready(bank, b) && tree_search(p, bank, ifmask, out)) {
		count_pkt(IXDP_PKT_TREE_SEARCH);
		return;
	}
	if (b->tss_off) {       /* no structure holds the list: fail closed */
		__builtin_memset(out, 0, sizeof(*out));
		out->slot = IXDP_NO_FILTER;
		out->action = IXDP_ACT_BLOCK;
		out->flags = IXDP_F_UNCLASSIFIED;
		return;
	}
	count_pkt(IXDP_PKT_TUPLE_SEARCH);
	tuple_search(p, bank, b, ifmask, out);
}

static __always_inline void flow_key(const struct ixdp_pkt *p, __u16 ifmask,
				     struct ixdp_flow_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->ifmask = ifmask;
	k->fam = p->fam;
	k->proto = p->proto;
	k->sport = p->sport;
	k->dport = p->dport;
	__builtin_memcpy(k->src, p->src, 16);
	__builtin_memcpy(k->dst, p->dst, 16);
}

static __always_inline bool flow_key_equal(const struct ixdp_flow_key *a,
					   const struct ixdp_flow_key *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;
	__u64 diff = 0;

#pragma clang loop unroll(full)
	for (int i = 0; i < (int)(sizeof(*a) / 8); i++)
		diff |= x[i] ^ y[i];
	return diff == 0;
}

/* Whether a cached answer still holds for bank b (include/ipsec_xdp.h, the
 * flow cache).  Memory order: the packet read IXDP_STATE_POLICY_BANK, then
 * b, and reads ixdp_cache_gen here, after them; userspace writes
 * ixdp_cache_gen, then the bank, then IXDP_STATE_POLICY_BANK, each with
 * its own bpf() call.  As for the bank's own tables, a packet that sees the
 * new bank number is assumed to see what was written before it. */
static __always_inline bool flow_entry_valid(const struct ixdp_flow_val *v,
					     const struct ixdp_bank *b)
{
	__u32 i = v->slot < IXDP_MAX_SLOTS ? v->slot : IXDP_CACHE_NO_MATCH;
	__u32 *from;

	if (!v->generation || v->generation < b->cache_min_gen)
		return false;
	from = bpf_map_lookup_elem(&ixdp_cache_gen, &i);
	return from && v->generation >= *from;
}

/* The matching filter, from the flow cache when its slot holds this flow
 * with an answer still valid for this bank (flow_entry_valid()) for this
 * interface's groups.  Non-first
 * fragments bypass the cache: their key has no ports. */
static __always_inline void classify(const struct ixdp_pkt *p, __u32 bank,
				     const struct ixdp_bank *b,
				     struct ixdp_fval *out)
{
	__u16 ifmask = (bank ? p->ifgroups[1] : p->ifgroups[0]) & ~1;
	struct ixdp_flow_entry *e;
	struct ixdp_flow_key k;
	__u32 slot;

	if (p->frag) {
		search(p, bank, b, ifmask, out);
		return;
	}
	flow_key(p, ifmask, &k);
	slot = ixdp_flow_slot(&k);
	e = bpf_map_lookup_elem(&ixdp_flow_cache, &slot);
	if (!e) {       /* cannot happen: slot < IXDP_FLOW_CACHE_SIZE */
		search(p, bank, b, ifmask, out);
		return;
	}
	if (flow_key_equal(&e->key, &k) && flow_entry_valid(&e->val, b)) {
		out->slot = e->val.slot;
		out->action = e->val.action;
		out->flags = e->val.flags;
		out->pad = 0;
		count_pkt(IXDP_PKT_CACHE_HIT);
		return;
	}
	search(p, bank, b, ifmask, out);
	if (out->flags & IXDP_F_UNCLASSIFIED)
		return;         /* not an answer: never cached */
	e->key = k;     /* a per-CPU slot: no other writer */
	e->val.generation = b->generation;
	e->val.slot = out->slot;
	e->val.action = out->action;
	e->val.flags = out->flags;
	e->val.pad = 0;
}

/* ---- negotiate: the SA bundle, events ------------------------------------ */

/* The bundle of {rule, peer}, or of {rule, every peer}; the key it was
 * found under (or the per-peer key) is left in *k. */
static __always_inline struct ixdp_bundle *
find_bundle(const struct ixdp_pkt *p, __u32 rule, __u32 dir,
	    struct ixdp_bundle_key *k)
{
	struct ixdp_bundle *bu;

	__builtin_memset(k, 0, sizeof(*k));
	k->rule = rule;
	k->fam = p->fam;
	__builtin_memcpy(k->peer, dir == IXDP_DIR_OUT ? p->dst : p->src, 16);
	bu = bpf_map_lookup_elem(&ixdp_bundles, k);
	if (bu)
		return bu;
	__builtin_memset(k->peer, 0, sizeof(k->peer));
	bu = bpf_map_lookup_elem(&ixdp_bundles, k);
	if (!bu)        /* report the peer, not the wildcard */
		__builtin_memcpy(k->peer, dir == IXDP_DIR_OUT ? p->dst : p->src, 16);
	return bu;
}

/* Tell the daemon, at most once per IXDP_EVENT_INTERVAL_NS per key. */
static __always_inline void report_need_sa(const struct ixdp_pkt *p,
					   const struct ixdp_bundle_key *k,
					   __u32 bank, __u32 slot, __u32 generation,
					   __u8 flags, __u32 dir,
					   __u32 bstate, bool passed)
{
	struct ixdp_event ev;
	__u64 now = bpf_ktime_get_ns();
	__u64 *last = bpf_map_lookup_elem(&ixdp_event_last, k);

	if (last && now - *last < IXDP_EVENT_INTERVAL_NS) {
		count_xs(IXDP_XS_EVENTS_LIMITED);
		return;
	}
	if (last)
		*last = now;
	else
		bpf_map_update_elem(&ixdp_event_last, k, &now, BPF_ANY);
	__builtin_memset(&ev, 0, sizeof(ev));
	ev.ts_ns = now;
	ev.type = IXDP_EV_NEED_SA;
	ev.rule = k->rule;
	ev.filter = slot_pos(bank, slot);
	ev.generation = generation;
	ev.fam = p->fam;
	ev.proto = p->proto;
	ev.dir = dir;
	ev.bundle_state = bstate;
	ev.passed = passed;
	ev.flags = flags;
	ev.sport = p->sport;
	ev.dport = p->dport;
	__builtin_memcpy(ev.src, p->src, 16);
	__builtin_memcpy(ev.dst, p->dst, 16);
	if (bpf_ringbuf_output(&ixdp_events, &ev, sizeof(ev), 0))
		count_xs(IXDP_XS_EVENTS_LOST);
	else
		count_xs(IXDP_XS_EVENTS);
}

/*
 * A negotiate filter matched.  Plaintext never leaves unless the bundle is
 * up (then it leaves through xfrm, encrypted) or soft; inbound plaintext
 * passes only with inpass or a soft bundle.
 */
static __always_inline int negotiate_verdict(const struct ixdp_pkt *p,
					     __u32 bank,
					     const struct ixdp_bank *b,
					     const struct ixdp_fval *v,
					     __u32 dir, struct ixdp_handoff *h)
{
	__u32 idx = v->slot;
	struct ixdp_filter_info *info;
	struct ixdp_bundle_key k;
	struct ixdp_bundle *bu;
	__u32 bstate = IXDP_BUNDLE_NONE;
	bool inpass;

	if (p->bcast)   /* cannot be secured */
		return drop(IXDP_DROP_BCAST_NEGOTIATE);
	inpass = dir == IXDP_DIR_IN && (v->flags & IXDP_F_INPASS);
	info = bpf_map_lookup_elem(&ixdp_info, &idx);
	if (!info)      /* cannot happen (slot < IXDP_MAX_SLOTS) */
		return inpass ? IXDP_V_PASS : drop(IXDP_DROP_NEGOTIATE);
	bu = find_bundle(p, info->rule_id, dir, &k);
	if (bu) {
		bstate = bu->state;
		if (bstate == IXDP_BUNDLE_SOFT) {
			count_xs(IXDP_XS_SOFT_PASS);
			return IXDP_V_PASS;
		}
		if (bstate == IXDP_BUNDLE_UP && bu->ifindex) {
			if (dir == IXDP_DIR_OUT) {
				if (h) {
					h->ifindex = bu->ifindex;
					h->if_id = bu->if_id;
					h->flags = bu->flags;
				}
				return IXDP_V_XFRM;
			}
			/* Inbound plaintext while the SA is up. */
			if (inpass)
				return IXDP_V_PASS;
			count_xs(IXDP_XS_PLAIN_REFUSED);
			return drop(IXDP_DROP_NEGOTIATE);
		}
		if (bstate != IXDP_BUNDLE_UP)
			bstate = IXDP_BUNDLE_NEGOTIATING;
	}
	count_xs(bstate == IXDP_BUNDLE_NEGOTIATING ? IXDP_XS_NEGOTIATING
						    : IXDP_XS_NO_BUNDLE);
	/* Inbound without inpass: the peer must come with ESP, or ask first;
	 * only a soft action makes starting IKE from here worth it. */
	if (dir == IXDP_DIR_OUT || inpass || (v->flags & IXDP_F_SOFT))
		report_need_sa(p, &k, bank, v->slot, b->generation, v->flags, dir,
			       bstate, inpass);
	return inpass ? IXDP_V_PASS : drop(IXDP_DROP_NEGOTIATE);
}

/*
 * An outbound packet that no filter covers, to a peer that asked this host
 * for security: the default response's bundle (ipsec_xdp.h "DEFAULT
 * RESPONSE") sends it into the SA the peer negotiated.  False when there
 * is none: the packet passes in clear as any unmatched one.
 */
static __always_inline bool default_response_xfrm(const struct ixdp_pkt *p,
						  __u32 dir,
						  struct ixdp_handoff *h)
{
	struct ixdp_bundle_key k;
	struct ixdp_bundle *bu;

	if (dir != IXDP_DIR_OUT || !h || p->bcast)
		return false;
	__builtin_memset(&k, 0, sizeof(k));
	k.rule = IXDP_RULE_ID_DEFAULT_RESPONSE;
	k.fam = p->fam;
	__builtin_memcpy(k.peer, p->dst, 16);
	bu = bpf_map_lookup_elem(&ixdp_bundles, &k);
	if (!bu || bu->state != IXDP_BUNDLE_UP || !bu->ifindex)
		return false;
	h->ifindex = bu->ifindex;
	h->if_id = bu->if_id;
	h->flags = bu->flags;
	count_xs(IXDP_XS_DEFAULT_RESPONSE);
	return true;
}

static __always_inline int policy_path(const struct ixdp_pkt *p, __u32 bank,
				       const struct ixdp_bank *b, __u32 dir,
				       __u32 bytes, struct ixdp_handoff *h,
				       struct ixdp_decider *why)
{
	struct ixdp_fval v;

	if (p->proto == IXDP_PROTO_ESP || p->proto == IXDP_PROTO_AH)
		return pass_counted(IXDP_PKT_IPSEC);
	classify(p, bank, b, &v);
	if (v.flags & IXDP_F_UNCLASSIFIED)
		return drop(IXDP_DROP_UNCLASSIFIED);
	if (v.slot == IXDP_NO_FILTER) {
		if (default_response_xfrm(p, dir, h))
			return IXDP_V_XFRM;
		return pass_counted(IXDP_PKT_UNMATCHED);
	}
	why->slot = v.slot;
	why->generation = b->generation;
	why->bank = bank;
	count_filter(v.slot, dir, bytes);
	switch (v.action) {
	case IXDP_ACT_PERMIT:
		return IXDP_V_PASS;
	case IXDP_ACT_NEGOTIATE:
		return negotiate_verdict(p, bank, b, &v, dir, h);
	}
	return drop(IXDP_DROP_BLOCK_FILTER);  /* block, or an unknown action */
}

static __always_inline int decide(int parsed, const struct ixdp_pkt *p,
				  __u32 dir, __u32 bytes,
				  struct ixdp_handoff *h, struct ixdp_decider *why)
{
	__u32 bank;
	struct ixdp_bank *b;

	if (parsed == IXDP_PARSE_NON_IP)
		return pass_counted(IXDP_PKT_NON_IP);
	if (parsed != IXDP_PARSE_OK)
		return drop(IXDP_DROP_MALFORMED);
	if (p->nd)
		return pass_counted(IXDP_PKT_ND);
	bank = read_state(IXDP_STATE_POLICY_BANK);
	b = bpf_map_lookup_elem(&ixdp_banks, &bank);
	if (!b || !b->has_policy)
		return boot_path(p, dir);
	return policy_path(p, bank, b, dir, bytes, h, why);
}

/*
 * Everything after parsing, for both directions, and the drop event of a
 * dropped packet.  A global (not inlined) function: the verifier checks
 * it once on its own instead of once for every way the parser can end,
 * which keeps verification small.
 */
__noinline int ixdp_decide(int parsed, const struct ixdp_pkt *p, __u32 dir,
			   __u32 bytes, struct ixdp_handoff *h)
{
	struct ixdp_decider why = { .slot = IXDP_NO_FILTER };
	int v;

	if (!p) {
		drop(IXDP_DROP_MALFORMED);
		return IXDP_V_DROP;
	}
	v = decide(parsed, p, dir, bytes, h, &why);
	if (v < IXDP_V_DROP_WHY)
		return v;
	/* A malformed packet's fields are what the parser reached (the
	 * rest zero): still worth showing where it came from. */
	report_drop(p, dir, (__u32)(v - IXDP_V_DROP_WHY), &why);
	return IXDP_V_DROP;
}

/* ---- the programs -------------------------------------------------------- */

/* The interface's entry: its groups and framing (none: group 0 alone,
 * Ethernet). */
static __always_inline const struct ixdp_ifmask *iface_of(__u32 ifindex)
{
	return bpf_map_lookup_elem(&ixdp_ifmask, &ifindex);
}

static __always_inline bool iface_l3(const struct ixdp_ifmask *m)
{
	return m && (m->flags & IXDP_IF_L3);
}

static __always_inline void iface_groups(const struct ixdp_ifmask *m,
					 struct ixdp_pkt *p)
{
	if (m) {
		p->ifgroups[0] = m->groups[0];
		p->ifgroups[1] = m->groups[1];
	}
}

SEC("xdp")
int ixdp_xdp_ingress(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 len = data_end - data;
	const struct ixdp_ifmask *iface;
	struct ixdp_pkt p;
	int parsed;

	count_pkt(IXDP_PKT_IN);
	iface = iface_of(ctx->ingress_ifindex);
	parsed = parse_packet(data, data_end, len, iface_l3(iface), &p);
	iface_groups(iface, &p);
	if (ixdp_decide(parsed, &p, IXDP_DIR_IN, len, NULL) == IXDP_V_PASS)
		return XDP_PASS;
	return XDP_DROP;
}

/*
 * Parse; if a header lies beyond the linear area, pull the packet into it
 * and parse again.  The stack keeps the headers of what it sends linear
 * (GSO needs them there), so this is rare, and the pull is of one packet.
 */
static __always_inline int parse_skb(struct __sk_buff *skb, bool l3dev,
				     struct ixdp_pkt *p)
{
	int parsed = IXDP_PARSE_TRUNCATED;

#pragma clang loop unroll(disable)
	for (int attempt = 0; attempt < 2; attempt++) {
		void *data = (void *)(long)skb->data;
		void *data_end = (void *)(long)skb->data_end;
		__u32 linear = data_end - data;

		parsed = parse_packet(data, data_end, skb->len, l3dev, p);
		if (parsed != IXDP_PARSE_TRUNCATED || linear >= skb->len)
			break;
		if (bpf_skb_pull_data(skb, skb->len))
			break;
	}
	return parsed;
}

/* ---- egress into xfrm ---------------------------------------------------- */

/*
 * Why transport mode needs a plain xfrm interface (investigated on Debian's
 * 6.12 kernel in the VM; kernel functions named as in net/xfrm and net/ipv4):
 *
 * Outbound works in both modes the same way: the redirected packet reaches
 * xfrmi_xmit() -> xfrmi_xmit2(), which takes the if_id (from the interface,
 * or for a collect-metadata one from the metadata bpf_skb_set_xfrm_info()
 * attached, with the packet's original route as dst_orig) and calls
 * xfrm_lookup_with_ifid(); in transport mode the bundle sits on the original
 * route to the peer, dst_output() runs esp4 and the ESP packet leaves
 * through the veth (and this program, where ESP passes).  The SA counters
 * move on both sides.
 *
 * Inbound is where transport mode broke.  After esp4 decrypts, xfrm_input()
 * calls xfrm_rcv_cb(), and the xfrm interface's cb_handler xfrmi_rcv_cb()
 * claims the packet for the interface xfrmi_lookup() returns: the one whose
 * if_id equals the state's, else the netns's collect-metadata ("external")
 * interface -- for EVERY state, whatever its if_id, even 0.  For a
 * collect-metadata interface xfrmi_rcv_cb() attaches a METADATA_XFRM
 * metadata_dst (skb_dst_set) holding if_id and link.  In tunnel mode that
 * is harmless: xfrm_input() re-injects the inner packet (gro_cells_receive),
 * ip_rcv_finish_core() sees !skb_valid_dst() (metadata dsts are not valid
 * routes) and routes it.  In transport mode xfrm_input() ends in
 * xfrm4_transport_finish() -> NF_INET_PRE_ROUTING -> xfrm4_rcv_encap_finish(),
 * which routes only `if (!skb_dst(skb))`: the metadata dst counts as a
 * route, so xfrm4_rcv_encap_finish2() calls dst_input() on it, and a
 * metadata dst's input is dst_discard (__metadata_dst_init() -> dst_init()).
 * The decrypted packet is freed silently: the kfree_skb tracepoint shows
 * location dst_discard (from xfrm_trans_reinject's worker), IcmpInEchos
 * stays 0 while the SA counted the packets, so ping gets no reply.  (IPv6
 * differs: xfrm6_transport_finish2() queues ip6_rcv_finish(), which checks
 * skb_valid_dst() and routes; read in the source, not exercised.)
 * The TX errors seen on the interface were another thing: its own IPv6
 * link-local traffic (MLD, router solicitations) leaves without metadata
 * and xfrmi_xmit2() refuses it; `addrgenmode none` on the interface ends it.
 *
 * The fix: transport bundles use a plain xfrm interface (`type xfrm if_id
 * N`, not external) and a redirect without metadata.  xfrmi_lookup() finds
 * it by if_id before it falls back to the external one, and a plain
 * interface attaches no metadata dst, so xfrm4_rcv_encap_finish() routes
 * the packet and it is delivered (both checked in the VM, also with an
 * external interface present in the same netns).  One plain interface can
 * serve every transport bundle (one if_id: the policies' selectors and
 * their templates' reqids pick the SA), or one per bundle.  Tunnel bundles
 * may use either kind.  Note that an external interface claims the IPv4
 * transport SAs of its netns that have no plain interface of their own.
 */
struct bpf_xfrm_info___ixdp {   /* the kernel's struct bpf_xfrm_info */
	__u32 if_id;
	int link;
};

/* A kfunc of the xfrm_interface module: resolved when the module is loaded
 * at program load time, else the call below is dead code. */
extern int bpf_skb_set_xfrm_info(struct __sk_buff *skb_ctx,
				 const struct bpf_xfrm_info___ixdp *from) __ksym __weak;

static __always_inline int to_xfrm(struct __sk_buff *skb,
				   const struct ixdp_pkt *p,
				   const struct ixdp_handoff *h)
{
	if (h->flags & IXDP_BUNDLE_F_XFRM_INFO) {
		struct bpf_xfrm_info___ixdp info = { .if_id = h->if_id };

		/* A CO-RE constant: false when the kernel (with its loaded
		 * modules) has no xfrm interfaces, and the verifier drops the
		 * kfunc call as dead code. */
		if (!bpf_core_type_exists(struct bpf_xfrm_info___ixdp) ||
		    bpf_skb_set_xfrm_info(skb, &info)) {
			struct ixdp_decider why = { .slot = IXDP_NO_FILTER };

			count_xs(IXDP_XS_XFRM_INFO_FAIL);
			drop(IXDP_DROP_NEGOTIATE);
			report_drop(p, IXDP_DIR_OUT, IXDP_DROP_NEGOTIATE, &why);
			return TC_ACT_SHOT;
		}
	}
	count_xs(IXDP_XS_REDIRECT);
	return bpf_redirect(h->ifindex, 0);
}

SEC("tc")
int ixdp_tc_egress(struct __sk_buff *skb)
{
	const struct ixdp_ifmask *iface;
	struct ixdp_handoff h = {};
	struct ixdp_pkt p;
	int parsed, v;

	count_pkt(IXDP_PKT_OUT);
	iface = iface_of(skb->ifindex);
	parsed = parse_skb(skb, iface_l3(iface), &p);
	iface_groups(iface, &p);
	v = ixdp_decide(parsed, &p, IXDP_DIR_OUT, skb->len, &h);
	if (v == IXDP_V_PASS)
		return TC_ACT_OK;
	if (v == IXDP_V_XFRM)
		return to_xfrm(skb, &p, &h);
	return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
