/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kernel.h - the kernel side of ipsec-xdpd: xfrm SAs and policies, SA
 * counters, ACQUIRE and EXPIRE events, xfrm interfaces; netlink through
 * libnl-3 (sockets, messages, attributes).
 *
 * One handle (struct ikk) holds three netlink sockets: NETLINK_XFRM for
 * requests, NETLINK_XFRM subscribed to XFRMNLGRP_ACQUIRE and _EXPIRE, and
 * NETLINK_ROUTE for xfrm interfaces.  Requests block only for the kernel's
 * answer (no threads, no timers); events are read when the caller's event
 * loop finds ikk_events_fd() readable, ikk_events_process() never blocks.
 *
 * Every function returns 0 (or a count) on success and -errno on failure,
 * with a sentence in ikk_error(): what was attempted, strerror, the
 * kernel's extended ack message when it sent one, and a hint.
 *
 * Keys: struct ikk_sa holds them in fixed arrays; the request that carries
 * them is built in one netlink buffer, wiped after sending, and every
 * buffer received from the kernel is wiped before it is freed (SA dumps
 * carry keys).  Netlink acks are capped (NETLINK_CAP_ACK) so an error does
 * not echo a request back.  The caller wipes its struct ikk_sa with
 * ikk_sa_wipe().  Nothing here logs, and ikk_error() never holds a key.
 *
 * Why not libnl-xfrm's object model: it has no if_id (XFRMA_IF_ID) for
 * SAs or policies, and it keeps key copies in its objects and frees them
 * unwiped; so the xfrm messages are built here with libnl-3's nlmsg / nla
 * API from <linux/xfrm.h>.
 */
#ifndef IXDP_IKE_KERNEL_H
#define IXDP_IKE_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

struct ikk;
struct nl_msg;

/* ---- addresses and selectors ------------------------------------------------ */

struct ikk_addr {
	uint8_t family;                 /* AF_INET, AF_INET6; 0: unset */
	union {
		struct in_addr v4;
		struct in6_addr v6;
		uint8_t b[16];
	} u;
};

/* "10.0.0.1" or "fd00::1": 0, or -EINVAL. */
int ikk_addr_parse(const char *text, struct ikk_addr *a);
const char *ikk_addr_str(const struct ikk_addr *a, char *buf, size_t len);
/* From an AF_INET/AF_INET6 sockaddr (port ignored): 0, or -EAFNOSUPPORT. */
int ikk_addr_from_sockaddr(const struct sockaddr_storage *ss, struct ikk_addr *a);

/*
 * A traffic selector: one filter.  Addresses are prefixes (host bits are
 * ignored by xfrm).  Ports in host order with a mask: mask 0 = any, 0xffff
 * = that port; xfrm has no ranges, ikk_port_range_split() cuts a range
 * into port/mask blocks (one policy each).  For ICMP and ICMPv6 xfrm
 * keeps the type in sport and the code in dport.
 */
struct ikk_selector {
	uint8_t family;                 /* AF_INET, AF_INET6 */
	uint8_t proto;                  /* 0 = any */
	uint8_t src_plen, dst_plen;
	struct ikk_addr src, dst;
	uint16_t sport, sport_mask;
	uint16_t dport, dport_mask;
};

/* Cover [lo, hi] with port/mask blocks: their number (at most max are
 * written; a larger return value means the arrays were too short). */
size_t ikk_port_range_split(uint16_t lo, uint16_t hi, uint16_t *ports,
			    uint16_t *masks, size_t max);

/* ---- SAs ------------------------------------------------------------------------- */

enum ikk_mode {
	IKK_MODE_TRANSPORT = 0,         /* = XFRM_MODE_TRANSPORT */
	IKK_MODE_TUNNEL    = 1,         /* = XFRM_MODE_TUNNEL */
};

enum ikk_encr {
	IKK_ENCR_NONE = 0,              /* AH */
	IKK_ENCR_AES_GCM16,             /* rfc4106(gcm(aes)), 16-byte ICV;
					 * key = AES key + 4-byte salt */
	IKK_ENCR_AES_CBC,               /* cbc(aes), with an integrity alg */
};

enum ikk_integ {
	IKK_INTEG_NONE = 0,             /* with AES-GCM */
	IKK_INTEG_HMAC_SHA256_128,      /* RFC 4868: 32-byte key, 128-bit ICV */
	IKK_INTEG_HMAC_SHA384_192,      /* 48-byte key, 192-bit ICV */
	IKK_INTEG_HMAC_SHA512_256,      /* 64-byte key, 256-bit ICV */
};

#define IKK_KEY_MAX 64

/* Limits: 0 = none.  Seconds count from the SA's installation. */
struct ikk_lifetime {
	uint64_t soft_secs, hard_secs;
	uint64_t soft_bytes, hard_bytes;
	uint64_t soft_packets, hard_packets;
};

struct ikk_sa {
	struct ikk_addr src, dst;       /* the SA's (outer) addresses */
	uint32_t spi;                   /* host order */
	uint8_t proto;                  /* IPPROTO_ESP or IPPROTO_AH */
	uint8_t mode;                   /* enum ikk_mode */
	uint32_t reqid;                 /* ties the SA to its policies' templates */

	uint8_t encr;                   /* enum ikk_encr */
	uint16_t encr_key_bits;         /* 128, 192 or 256 */
	uint8_t integ;                  /* enum ikk_integ */
	uint8_t encr_key[IKK_KEY_MAX];  /* AES-GCM: key then salt */
	size_t encr_key_len;
	uint8_t integ_key[IKK_KEY_MAX];
	size_t integ_key_len;

	uint32_t replay_window;         /* packets (inbound SAs); 0 = none */
	bool esn;                       /* 64-bit extended sequence numbers */
	struct ikk_lifetime life;

	bool encap;                     /* UDP encapsulation (NAT-T, RFC 3948) */
	uint16_t encap_sport, encap_dport; /* host order, e.g. 4500 */
	struct ikk_addr encap_oa;       /* original address (optional) */

	uint32_t if_id;                 /* 0 = none */
	uint32_t mark, mark_mask;       /* mark_mask 0 = no mark */
	/* The ACQUIRE (ikk_event.seq) this SA answers, 0 none: the kernel then
	 * drops the larval state of that ACQUIRE at once (xfrm_state_add)
	 * instead of when it times out (xfrm_acq_expires, 30 s). */
	uint32_t acquire_seq;

	/* The traffic the SA may carry: the filter.  Checked by the kernel on
	 * every decrypted packet (__xfrm_policy_check).  Unset: anything of
	 * the address family. */
	bool has_sel;
	struct ikk_selector sel;
};

/* Wipe the keys (the whole struct). */
void ikk_sa_wipe(struct ikk_sa *sa);

/* Protocol names for messages: "ESP"/"AH", "transport"/"tunnel". */
const char *ikk_proto_name(uint8_t proto);
const char *ikk_mode_name(uint8_t mode);

/* ---- policies ---------------------------------------------------------------- */

enum ikk_dir {
	IKK_DIR_IN  = 0,                /* = XFRM_POLICY_IN */
	IKK_DIR_OUT = 1,
	IKK_DIR_FWD = 2,
};

enum ikk_pol_action {
	IKK_POL_IPSEC  = 0,             /* allow, through the templates */
	IKK_POL_BYPASS = 1,             /* allow in clear (no template) */
	IKK_POL_BLOCK  = 2,
};

struct ikk_tmpl {
	uint8_t proto;                  /* IPPROTO_ESP / IPPROTO_AH */
	uint8_t mode;                   /* enum ikk_mode */
	uint32_t reqid;                 /* 0: any SA of the addresses */
	uint32_t spi;                   /* host order; 0 = any */
	struct ikk_addr src, dst;       /* tunnel endpoints (tunnel mode) */
	bool optional;                  /* "level use" */
};

#define IKK_MAX_TMPL 2                  /* AH+ESP: ESP first (inner), then AH */

struct ikk_policy {
	struct ikk_selector sel;
	uint8_t dir;                    /* enum ikk_dir */
	uint8_t action;                 /* enum ikk_pol_action */
	uint32_t priority;              /* lower is tried first */
	uint32_t index;                 /* out: the kernel's, after ikk_policy_add */
	size_t ntmpl;
	struct ikk_tmpl tmpl[IKK_MAX_TMPL];
	uint32_t if_id;                 /* 0 = none */
	uint32_t mark, mark_mask;
};

/* ---- counters, events -------------------------------------------------------- */

struct ikk_sa_counters {
	uint64_t bytes, packets;
	uint64_t add_time, use_time;    /* seconds since the epoch; use 0: unused */
	uint32_t replay_window;         /* dropped: outside the replay window */
	uint32_t replay;                /* dropped: replayed */
	uint32_t integrity_failed;      /* dropped: ICV did not verify */
};

/* One SA as `show sa` sees it (never its keys). */
struct ikk_sa_info {
	struct ikk_addr src, dst;
	uint32_t spi;
	uint8_t proto, mode;
	uint32_t reqid, if_id;
	uint32_t replay_window_size;
	bool esn, encap;
	uint16_t encap_sport, encap_dport;
	char encr[64], integ[64];       /* kernel algorithm names, "" if none */
	uint16_t encr_key_bits, integ_icv_bits;
	struct ikk_selector sel;
	struct ikk_lifetime life;
	struct ikk_sa_counters ctr;
};

enum ikk_event_type {
	IKK_EV_ACQUIRE = 1,             /* a packet needs an SA the kernel lacks */
	IKK_EV_EXPIRE,                  /* an SA reached a soft or hard limit */
	IKK_EV_OVERRUN,                 /* events were lost (socket overrun):
					 * resynchronise from the SA list */
};

struct ikk_event {
	int type;                       /* enum ikk_event_type */
	/* ACQUIRE: the SA asked for (template addresses, or the packet's in
	 * transport mode); EXPIRE: the SA's. */
	struct ikk_addr src, dst;
	uint8_t proto, mode;
	uint32_t reqid;
	uint32_t if_id;
	/* ACQUIRE */
	struct ikk_selector sel;        /* the flow of the packet */
	uint32_t policy_index;
	uint8_t policy_dir;
	uint32_t seq;                   /* the kernel's acquire sequence */
	/* EXPIRE */
	uint32_t spi;                   /* host order */
	bool hard;                      /* hard: the SA is gone */
};

typedef void (*ikk_event_cb)(void *ctx, const struct ikk_event *ev);

/* ---- the handle ----------------------------------------------------------------- */

/* Open the request socket: 0, or -errno with the sentence in errbuf (the
 * event and rtnetlink sockets open when first needed). */
int ikk_open(struct ikk **k, char *errbuf, size_t errlen);
void ikk_close(struct ikk *k);
/* The last failure, as a sentence ("" after a success). */
const char *ikk_error(const struct ikk *k);

/* SAs.  add: a new SA (-EEXIST when the SPI is in use); update: replace
 * one, e.g. the larval SA of ikk_spi_alloc() (-ESRCH when absent). */
int ikk_sa_add(struct ikk *k, const struct ikk_sa *sa);
int ikk_sa_update(struct ikk *k, const struct ikk_sa *sa);
int ikk_sa_delete(struct ikk *k, const struct ikk_addr *dst, uint32_t spi,
		  uint8_t proto, uint32_t mark, uint32_t mark_mask);
/* Reserve an inbound SPI in [min, max] (0, 0: 0xc0000000-0xcfffffff): the
 * kernel keeps a larval SA under it until ikk_sa_update() fills it. */
int ikk_spi_alloc(struct ikk *k, const struct ikk_addr *src,
		  const struct ikk_addr *dst, uint8_t proto, uint8_t mode,
		  uint32_t reqid, uint32_t if_id, uint32_t min, uint32_t max,
		  uint32_t *spi);
int ikk_sa_counters(struct ikk *k, const struct ikk_addr *dst, uint32_t spi,
		    uint8_t proto, uint32_t mark, uint32_t mark_mask,
		    struct ikk_sa_counters *out);
/* Every SA; cb's nonzero return stops the walk (and is returned). */
int ikk_sa_dump(struct ikk *k, int (*cb)(void *ctx, const struct ikk_sa_info *sa),
		void *ctx);

/* Policies.  add fills pol->index; delete finds the policy by selector,
 * direction, if_id and mark (-ENOENT when absent). */
int ikk_policy_add(struct ikk *k, struct ikk_policy *pol);
int ikk_policy_update(struct ikk *k, struct ikk_policy *pol);
int ikk_policy_delete(struct ikk *k, const struct ikk_policy *pol);

/* Events: subscribe once, then call ikk_events_process() whenever
 * ikk_events_fd() is readable.  Returns events delivered, or -errno. */
int ikk_events_open(struct ikk *k, ikk_event_cb cb, void *ctx);
int ikk_events_fd(const struct ikk *k);
int ikk_events_process(struct ikk *k);

/*
 * xfrm interfaces (the dataplane redirects negotiate traffic into them).
 * external: a collect-metadata interface (if_id 0; the if_id comes with
 * each packet, bpf_skb_set_xfrm_info); else a plain one with this if_id.
 * Transport-mode SAs need a plain one (bpf/ipsec_xdp.bpf.c says why).
 * The interface is created up, without IPv6 link-local addresses (its own
 * MLD/RS traffic would only count as TX errors).  *ifindex may be NULL.
 */
int ikk_xfrmi_add(struct ikk *k, const char *name, uint32_t if_id,
		  bool external, int *ifindex);
int ikk_xfrmi_del(struct ikk *k, const char *name);

/* ---- for the tests: the messages, without sending them ------------------------ */

/* An XFRM_MSG_NEWSA (or UPDSA) / NEWPOLICY (or UPDPOLICY) request; errors
 * go to errbuf.  Free with ikk_msg_free(), which wipes it. */
int ikk_build_sa_msg(const struct ikk_sa *sa, bool update, struct nl_msg **out,
		     char *errbuf, size_t errlen);
int ikk_build_policy_msg(const struct ikk_policy *pol, bool update,
			 struct nl_msg **out, char *errbuf, size_t errlen);
void ikk_msg_free(struct nl_msg *msg);
/* Decode one XFRM_MSG_ACQUIRE or _EXPIRE message: 0, or -EINVAL. */
int ikk_parse_event(const void *nlh, size_t len, struct ikk_event *ev);

#endif /* IXDP_IKE_KERNEL_H */
