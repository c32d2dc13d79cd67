// SPDX-License-Identifier: GPL-2.0-only
/*
 * kernel_events.c - the kernel's ACQUIRE and EXPIRE events: their socket and their reading
 */
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/udp.h>
#include <linux/xfrm.h>
#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <netlink/socket.h>

#include "kernel/kernel.h"
#include "kernel/kernel_internal.h"

/* ---- events ----------------------------------------------------------------------------- */

int ikk_parse_event(const void *vnlh, size_t len, struct ikk_event *ev)
{
	const struct nlmsghdr *h = vnlh;
	struct nlattr *tb[XFRMA_MAX + 1];

	memset(ev, 0, sizeof(*ev));
	if (len < sizeof(*h) || h->nlmsg_len > len)
		return -EINVAL;
	if (h->nlmsg_type == XFRM_MSG_ACQUIRE) {
		const struct xfrm_user_acquire *a = NLMSG_DATA(h);

		if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*a)) ||
		    nlmsg_parse((struct nlmsghdr *)h, sizeof(*a), tb, XFRMA_MAX, NULL))
			return -EINVAL;
		ev->type = IKK_EV_ACQUIRE;
		ikk_get_sel(&ev->sel, &a->sel);
		ev->policy_index = a->policy.index;
		ev->policy_dir = a->policy.dir;
		ev->proto = a->id.proto;
		ev->seq = a->seq;
		ev->mode = IKK_MODE_TRANSPORT;
		ikk_get_xaddr(&ev->src, &a->saddr, a->sel.family);
		ikk_get_xaddr(&ev->dst, &a->id.daddr, a->sel.family);
		if (tb[XFRMA_TMPL] && nla_len(tb[XFRMA_TMPL]) >= (int)sizeof(struct xfrm_user_tmpl)) {
			const struct xfrm_user_tmpl *t = nla_data(tb[XFRMA_TMPL]);

			ev->reqid = t->reqid;
			ev->mode = t->mode;
			ev->proto = t->id.proto;
			/* The SA asked for: its endpoints are the acquire's id
			 * and saddr, of the template's family. */
			ikk_get_xaddr(&ev->src, &a->saddr, t->family);
			ikk_get_xaddr(&ev->dst, &a->id.daddr, t->family);
		}
		if (tb[XFRMA_IF_ID] && nla_len(tb[XFRMA_IF_ID]) >= 4)
			ev->if_id = nla_get_u32(tb[XFRMA_IF_ID]);
		return 0;
	}
	if (h->nlmsg_type == XFRM_MSG_EXPIRE) {
		const struct xfrm_user_expire *x = NLMSG_DATA(h);

		if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*x)) ||
		    nlmsg_parse((struct nlmsghdr *)h, sizeof(*x), tb, XFRMA_MAX, NULL))
			return -EINVAL;
		ev->type = IKK_EV_EXPIRE;
		ikk_get_xaddr(&ev->src, &x->state.saddr, x->state.family);
		ikk_get_xaddr(&ev->dst, &x->state.id.daddr, x->state.family);
		ev->spi = ntohl(x->state.id.spi);
		ev->proto = x->state.id.proto;
		ev->mode = x->state.mode;
		ev->reqid = x->state.reqid;
		ikk_get_sel(&ev->sel, &x->state.sel);
		ev->hard = x->hard;
		if (tb[XFRMA_IF_ID] && nla_len(tb[XFRMA_IF_ID]) >= 4)
			ev->if_id = nla_get_u32(tb[XFRMA_IF_ID]);
		return 0;
	}
	return -EINVAL;
}

int ikk_events_open(struct ikk *k, ikk_event_cb cb, void *ctx)
{
	int err;

	k->err[0] = 0;
	if (k->ev)
		return ikk_fail(k, EALREADY, "already subscribed to xfrm events");
	err = ikk_open_sock(NETLINK_XFRM, &k->ev);
	if (err)
		return ikk_fail(k, err, "cannot open the xfrm event socket: %s", strerror(-err));
	err = nl_socket_add_memberships(k->ev, XFRMNLGRP_ACQUIRE, XFRMNLGRP_EXPIRE, 0);
	if (!err)
		err = nl_socket_set_nonblocking(k->ev);
	if (err) {
		nl_socket_free(k->ev);
		k->ev = NULL;
		return ikk_fail(k, ikk_nle_errno(err), "cannot join the xfrm ACQUIRE/EXPIRE groups: %s",
				nl_geterror(err));
	}
	nl_socket_set_buffer_size(k->ev, IKK_EV_RCVBUF, 0);
	k->cb = cb;
	k->cb_ctx = ctx;
	return 0;
}

int ikk_events_fd(const struct ikk *k)
{
	return k->ev ? nl_socket_get_fd(k->ev) : -1;
}

int ikk_events_process(struct ikk *k)
{
	int count = 0;

	if (!k->ev)
		return ikk_fail(k, EINVAL, "not subscribed to xfrm events (ikk_events_open)");
	for (;;) {
		struct sockaddr_nl nla;
		unsigned char *buf = NULL;
		struct nlmsghdr *h;
		int n = nl_recv(k->ev, &nla, &buf, NULL), len;

		if (n == -NLE_AGAIN || n == 0) {
			free(buf);
			return count;
		}
		if (n == -NLE_INTR) {
			free(buf);
			continue;
		}
		if (n < 0) {
			free(buf);
			if (n == -NLE_NOMEM) {    /* ENOBUFS: the socket overran */
				struct ikk_event ev = { .type = IKK_EV_OVERRUN };

				if (k->cb)
					k->cb(k->cb_ctx, &ev);
				count++;
				continue;
			}
			return ikk_fail(k, ikk_nle_errno(n), "cannot read xfrm events: %s", nl_geterror(n));
		}
		if (nla.nl_pid != 0) {          /* only the kernel speaks here */
			explicit_bzero(buf, (size_t)n);
			free(buf);
			continue;
		}
		len = n;
		for (h = (struct nlmsghdr *)buf; nlmsg_ok(h, len); h = nlmsg_next(h, &len)) {
			struct ikk_event ev;

			if (ikk_parse_event(h, h->nlmsg_len, &ev))
				continue;
			if (k->cb)
				k->cb(k->cb_ctx, &ev);
			count++;
		}
		explicit_bzero(buf, (size_t)n);
		free(buf);
	}
}
