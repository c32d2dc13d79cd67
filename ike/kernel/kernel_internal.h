/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kernel_internal.h - what the xfrm files share (kernel.c, kernel_sa.c,
 * kernel_events.c) and no other: the handle, message helpers.
 */
#ifndef IXDP_IKE_KERNEL_INTERNAL_H
#define IXDP_IKE_KERNEL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/xfrm.h>
#include <netlink/netlink.h>
#include <netlink/msg.h>

#include "kernel/kernel.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#ifndef UDP_ENCAP_ESPINUDP
#define UDP_ENCAP_ESPINUDP 2
#endif

#define IKK_MSG_SIZE    4096            /* one request; no realloc, one buffer */
#define IKK_SPI_MIN     0xc0000000u
#define IKK_SPI_MAX     0xcfffffffu
#define IKK_EV_RCVBUF   (1 << 20)

struct ikk {
	struct nl_sock *xfrm;           /* requests */
	struct nl_sock *ev;             /* ACQUIRE + EXPIRE */
	struct nl_sock *rt;             /* rtnetlink, opened when first needed */
	ikk_event_cb cb;
	void *cb_ctx;
	char err[512];
};

int ikk_check_sel(const struct ikk_selector *s, char *eb, size_t el);

__attribute__((format(printf, 3, 4)))
int ikk_fail(struct ikk *k, int err, const char *fmt, ...);

void ikk_get_sel(struct ikk_selector *s, const struct xfrm_selector *x);

void ikk_get_xaddr(struct ikk_addr *a, const xfrm_address_t *x, uint16_t family);

const char *ikk_hint(int err, char what);

struct nl_msg *ikk_msg_new(int type, int flags, const void *payload, size_t len);

int ikk_nle_errno(int nle);

int ikk_open_sock(int proto, struct nl_sock **out);

int ikk_put_mark_ifid(struct nl_msg *msg, uint32_t mark, uint32_t mask, uint32_t if_id);

void ikk_put_sel(struct xfrm_selector *x, const struct ikk_selector *s);

int ikk_put_u32(struct nl_msg *msg, int type, uint32_t v);

void ikk_put_xaddr(xfrm_address_t *x, const struct ikk_addr *a);

const char *ikk_sa_str(const struct ikk_sa *sa, char *buf, size_t len);

const char *ikk_sel_str(const struct ikk_selector *s, char *buf, size_t len);

int ikk_send_built(struct ikk *k, int built, const char *why, struct nl_msg *msg,
		   const char *verb, const char *what, char hint_kind);

/* A reply's handler, for ikk_talk(). */
typedef int (*reply_fn)(void *ctx, const struct nlmsghdr *h);
int ikk_talk(struct nl_sock *sk, struct nl_msg *msg, bool ack, reply_fn on_reply,
	     void *ctx, char *kmsg, size_t kmlen);

void ikk_with_kmsg(struct ikk *k, const char *kmsg);

#endif /* IXDP_IKE_KERNEL_INTERNAL_H */
