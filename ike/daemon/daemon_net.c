// SPDX-License-Identifier: GPL-2.0-only
/*
 * daemon_net.c - the UDP sockets of IKE: the IKE port and the NAT-T port, IPv4
 * and IPv6 each, bound to every address.  Each datagram is read with the
 * address it was sent to (IP_PKTINFO), so that answers leave from that
 * address and NAT detection hashes what the peer saw.  On the NAT-T port
 * an IKE message follows the 4-byte non-ESP marker (RFC 3948 §2.2): it is
 * removed on receipt and added on sending.  The NAT-T sockets are also
 * where the kernel takes UDP-encapsulated ESP in (UDP_ENCAP_ESPINUDP):
 * without that option it would hand ESP to us instead of to xfrm.
 *
 * A readiness event drains the socket with recvmmsg() (up to NET_BURST
 * datagrams, NET_RX_BATCH per call), each datagram handled on its own as
 * before; what the daemon sends meanwhile is copied into a queue and
 * leaves with sendmmsg() once the burst is handled, in the order it was
 * sent (one system call, and one wake-up of a waiting peer, per burst
 * instead of per message).  Sends from anywhere else (timers, the control
 * socket) leave at once.
 *
 * Behind a NAT (our address rewritten, RFC 7296 §2.23) a one-byte 0xFF
 * NAT-keepalive goes to each such peer's NAT-T port every
 * d->tun.natt_keepalive_s seconds (RFC 3948 §2.3), so that the NAT keeps
 * the mapping that the peer's IKE and UDP-encapsulated ESP come back on.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <event2/event.h>

#include "daemon/daemon.h"
#include "sa/sa_log.h"
#include "sa/sa_ikesa.h"

#define NET_MAX_SOCKS   4
#define NET_BURST       64	/* datagrams read per wakeup */
#define NET_RX_BATCH    16	/* datagrams per recvmmsg() */
#define NET_BUF         (IKEV2_MAX_MESSAGE_LEN + IKEV2_NON_ESP_MARKER_LEN)
#define NET_TX_BATCH    64	/* datagrams queued during a burst */
#define NET_TX_ARENA    32768	/* their bytes; a larger one leaves alone */

/* The ancillary data of one datagram: IP_PKTINFO or IPV6_PKTINFO. */
union net_ctl {
	struct cmsghdr align;
	uint8_t buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
		    CMSG_SPACE(sizeof(struct in_pktinfo))];
};

struct net_sock;

/* One datagram waiting for the end of the burst: its own copy of the
 * message and of the addresses (the SA that sent it may be gone by then). */
struct net_tx {
	struct net_sock *s;
	struct sockaddr_storage peer, local;
	struct iovec iov[2];
	union net_ctl ctl;
};

struct net_sock {
	struct daemon *d;
	int fd;
	int family;
	uint16_t port;
	bool natt;
	struct event *ev;
};

struct net {
	struct net_sock s[NET_MAX_SOCKS];
	size_t n;
	struct ike_timer keepalive;
	/* receiving: NET_RX_BATCH buffers (pages are touched only as far
	 * as datagrams fill them) */
	uint8_t rx_buf[NET_RX_BATCH][NET_BUF];
	struct mmsghdr rx_mh[NET_RX_BATCH];
	struct iovec rx_iov[NET_RX_BATCH];
	union net_ctl rx_ctl[NET_RX_BATCH];
	struct sockaddr_storage rx_peer[NET_RX_BATCH];
	/* sending: queued while a burst is handled (batching) */
	bool batching;
	struct net_tx tx[NET_TX_BATCH];
	struct mmsghdr tx_mh[NET_TX_BATCH];
	size_t ntx, tx_used;
	uint8_t tx_arena[NET_TX_ARENA];
};

static void tx_flush(struct net *net);	/* below */

/* ---- receiving ------------------------------------------------------------ */

/* Where the datagram was sent to, from its IP_PKTINFO. */
static void local_from_cmsg(struct msghdr *mh, struct net_sock *s,
			    struct sockaddr_storage *local)
{
	struct cmsghdr *c;

	memset(local, 0, sizeof(*local));
	local->ss_family = (sa_family_t)s->family;
	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			((struct sockaddr_in *)local)->sin_addr = pi.ipi_addr;
		} else if (c->cmsg_level == IPPROTO_IPV6 &&
			   c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			((struct sockaddr_in6 *)local)->sin6_addr = pi.ipi6_addr;
		}
	}
	addr_set_port(local, s->port);
}

/* A datagram on the NAT-T port: IKE after the marker, else dropped. */
static void natt_input(struct daemon *d, struct ike_dgram *dg)
{
	const uint8_t *ike;
	size_t len;

	switch (ike_udp4500_classify(dg->buf, dg->len, &ike, &len)) {
	case IKE_UDP4500_IKE:
		dg->buf = ike;
		dg->len = len;
		daemon_input(d, dg);
		break;
	case IKE_UDP4500_KEEPALIVE:
		d->stats.v[ST_NATT_KEEPALIVES]++;
		break;
	case IKE_UDP4500_ESP:
		ike_drop(d, ST_DROP_NATT_NOT_IKE, dg, NULL, "UDP-encapsulated "
			 "ESP reached the IKE daemon");
		break;
	default:
		ike_drop(d, ST_DROP_NATT_NOT_IKE, dg, NULL, "%zu bytes, neither "
			 "IKE nor ESP", dg->len);
		break;
	}
}

/* One datagram of a recvmmsg() batch: where it came from and went to,
 * then the daemon. */
static void handle_one(struct net_sock *s, struct mmsghdr *mm,
		       const struct sockaddr_storage *peer, const uint8_t *buf)
{
	struct ike_dgram dg;

	memset(&dg, 0, sizeof(dg));
	memcpy(&dg.path.peer, peer, sizeof(dg.path.peer));
	local_from_cmsg(&mm->msg_hdr, s, &dg.path.local);
	dg.buf = buf;
	dg.len = mm->msg_len;
	if (mm->msg_hdr.msg_flags & MSG_TRUNC)
		ike_drop(s->d, ST_DROP_MALFORMED, &dg, NULL, "datagram larger "
			 "than 64 KiB");
	else if (s->natt)
		natt_input(s->d, &dg);
	else
		daemon_input(s->d, &dg);
}

/* Read up to max datagrams with one recvmmsg() and handle them in turn;
 * how many were read (0: none waiting, or an error). */
static int read_batch(struct net_sock *s, struct net *net, unsigned max)
{
	unsigned i;
	int n;

	for (i = 0; i < max; i++) {
		struct msghdr *mh = &net->rx_mh[i].msg_hdr;

		net->rx_iov[i] = (struct iovec){ net->rx_buf[i], NET_BUF };
		memset(&net->rx_peer[i], 0, sizeof(net->rx_peer[i]));
		*mh = (struct msghdr){
			.msg_name = &net->rx_peer[i],
			.msg_namelen = sizeof(net->rx_peer[i]),
			.msg_iov = &net->rx_iov[i], .msg_iovlen = 1,
			.msg_control = net->rx_ctl[i].buf,
			.msg_controllen = sizeof(net->rx_ctl[i].buf),
		};
	}
	n = recvmmsg(s->fd, net->rx_mh, max, MSG_DONTWAIT, NULL);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			log_warn("receiving on UDP port %u: %s", s->port,
				 strerror(errno));
		return 0;
	}
	for (i = 0; i < (unsigned)n; i++)
		handle_one(s, &net->rx_mh[i], &net->rx_peer[i],
			   net->rx_buf[i]);
	return n;
}

/* Drain the socket (at most NET_BURST datagrams, so that the other
 * sockets and timers get their turn), then send the answers together. */
static void readable(evutil_socket_t fd, short what, void *arg)
{
	struct net_sock *s = arg;
	struct net *net = s->d->net;
	unsigned done = 0;
	int n;

	net->batching = true;
	while (done < NET_BURST) {
		unsigned want = NET_BURST - done;

		if (want > NET_RX_BATCH)
			want = NET_RX_BATCH;
		n = read_batch(s, net, want);
		done += (unsigned)n;
		if ((unsigned)n < want)
			break;
	}
	net->batching = false;
	tx_flush(net);
}

/* ---- opening -------------------------------------------------------------- */

static void keepalive_tick(struct daemon *d, void *arg);	/* below */

static int sock_options(int fd, int family)
{
	int on = 1;

	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)))
		return -1;
	if (family == AF_INET)
		return setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)))
		return -1;
	return setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on));
}

/* ESP in UDP on this socket goes to xfrm (RFC 3948); IKE after the
 * non-ESP marker and keepalives still reach us.  A kernel without it can
 * still do IKE: warn. */
static void natt_encap(struct net_sock *s)
{
	int type = UDP_ENCAP_ESPINUDP;

	if (setsockopt(s->fd, IPPROTO_UDP, UDP_ENCAP, &type, sizeof(type)))
		log_warn("UDP port %u (%s): no UDP encapsulation of ESP (%s): "
			 "ESP from peers behind a NAT will not be received",
			 s->port, s->family == AF_INET ? "IPv4" : "IPv6",
			 strerror(errno));
}

static int open_sock(struct daemon *d, struct event_base *evb,
		     struct net_sock *s, int family, uint16_t port)
{
	struct sockaddr_storage any;

	memset(&any, 0, sizeof(any));
	any.ss_family = (sa_family_t)family;
	addr_set_port(&any, port);
	s->d = d;
	s->family = family;
	s->port = port;
	s->natt = port == d->natt_port;
	s->fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -1;
	if (sock_options(s->fd, family) ||
	    bind(s->fd, (struct sockaddr *)&any, addr_len(&any))) {
		int e = errno;

		close(s->fd);
		s->fd = -1;
		errno = e;
		return -1;
	}
	if (s->natt)
		natt_encap(s);
	s->ev = event_new(evb, s->fd, EV_READ | EV_PERSIST, readable, s);
	if (!s->ev || event_add(s->ev, NULL)) {
		close(s->fd);
		s->fd = -1;
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

int net_open(struct daemon *d, struct event_base *evb, char *err,
	     size_t errlen)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct net *net = calloc(1, sizeof(*net));
	size_t f, p;

	if (!net) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	d->net = net;
	timer_init(d, &net->keepalive, keepalive_tick, net);
	if (d->tun.natt_keepalive_s)
		timer_arm(&net->keepalive,
			  (uint64_t)d->tun.natt_keepalive_s * 1000);
	for (f = 0; f < 2; f++) {
		for (p = 0; p < 2; p++) {
			uint16_t port = p ? d->natt_port : d->port;
			struct net_sock *s = &net->s[net->n];

			if (open_sock(d, evb, s, families[f], port) == 0) {
				net->n++;
				continue;
			}
			if (families[f] == AF_INET6 &&
			    (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL)) {
				log_warn("no IPv6 on UDP port %u: %s", port,
					 strerror(errno));
				continue;
			}
			snprintf(err, errlen, "UDP port %u (%s): %s", port,
				 families[f] == AF_INET ? "IPv4" : "IPv6",
				 strerror(errno));
			return -1;
		}
	}
	return 0;
}

void net_close(struct daemon *d)
{
	struct net *net = d->net;
	size_t i;

	if (!net)
		return;
	timer_release(&net->keepalive);
	for (i = 0; i < net->n; i++) {
		if (net->s[i].ev)
			event_free(net->s[i].ev);
		close(net->s[i].fd);
	}
	free(net);
	d->net = NULL;
}

/* ---- sending ----------------------------------------------------------------- */

static struct net_sock *sock_for(struct net *net, int family, uint16_t port)
{
	size_t i;

	for (i = 0; i < net->n; i++)
		if (net->s[i].family == family && net->s[i].port == port)
			return &net->s[i];
	return NULL;
}

/* Say which of our addresses the datagram leaves from. */
static void set_source(struct msghdr *mh, uint8_t *ctl, size_t cap,
		       const struct sockaddr_storage *local)
{
	struct cmsghdr *c;

	memset(ctl, 0, cap);
	mh->msg_control = ctl;
	if (local->ss_family == AF_INET) {
		struct in_pktinfo pi = { 0 };

		pi.ipi_spec_dst = ((const struct sockaddr_in *)local)->sin_addr;
		mh->msg_controllen = CMSG_SPACE(sizeof(pi));
		c = CMSG_FIRSTHDR(mh);
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	} else {
		struct in6_pktinfo pi = { 0 };

		pi.ipi6_addr = ((const struct sockaddr_in6 *)local)->sin6_addr;
		mh->msg_controllen = CMSG_SPACE(sizeof(pi));
		c = CMSG_FIRSTHDR(mh);
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	}
}

static const uint8_t non_esp_marker[IKEV2_NON_ESP_MARKER_LEN];

/* A datagram's header: to peer, from local, the non-ESP marker first on
 * the NAT-T port.  iov has room for two. */
static void fill_msghdr(struct msghdr *mh, const struct net_sock *s,
			struct iovec *iov, union net_ctl *ctl,
			const struct sockaddr_storage *peer,
			const struct sockaddr_storage *local,
			const uint8_t *msg, size_t len)
{
	int n = 0;

	memset(mh, 0, sizeof(*mh));
	if (s->natt)
		iov[n++] = (struct iovec){ (void *)non_esp_marker,
					   sizeof(non_esp_marker) };
	iov[n++] = (struct iovec){ (void *)msg, len };
	mh->msg_name = (void *)peer;
	mh->msg_namelen = addr_len(peer);
	mh->msg_iov = iov;
	mh->msg_iovlen = (size_t)n;
	set_source(mh, ctl->buf, sizeof(ctl->buf), local);
}

static void send_failed(struct daemon *d, const struct sockaddr_storage *peer,
			size_t len, int err)
{
	char to[ADDR_STR_MAX + 8];

	log_warn("sending %zu bytes to %s: %s", len,
		 addr_port_str(peer, to, sizeof(to)), strerror(err));
}

static int send_now(struct net_sock *s, const struct ike_path *path,
		    const uint8_t *msg, size_t len)
{
	union net_ctl ctl;
	struct iovec iov[2];
	struct msghdr mh;

	fill_msghdr(&mh, s, iov, &ctl, &path->peer, &path->local, msg, len);
	if (sendmsg(s->fd, &mh, MSG_DONTWAIT) < 0) {
		send_failed(s->d, &path->peer, len, errno);
		return -1;
	}
	return 0;
}

/* Send the queue: sendmmsg() per run of datagrams on the same socket, in
 * queue order.  A datagram the kernel refuses is logged and counted as a
 * send error (the caller was told 0 when it was queued); the rest go on. */
static void tx_flush(struct net *net)
{
	size_t i = 0, run;
	int r;

	while (i < net->ntx) {
		struct net_sock *s = net->tx[i].s;

		for (run = 1; i + run < net->ntx && net->tx[i + run].s == s;)
			run++;
		r = sendmmsg(s->fd, &net->tx_mh[i], (unsigned)run, MSG_DONTWAIT);
		if (r > 0) {
			i += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		send_failed(s->d, &net->tx[i].peer,
			    net->tx_mh[i].msg_hdr.msg_iov[
				net->tx_mh[i].msg_hdr.msg_iovlen - 1].iov_len,
			    r < 0 ? errno : EIO);
		s->d->stats.v[ST_SEND_ERRORS]++;
		i++;
	}
	net->ntx = 0;
	net->tx_used = 0;
}

/* Queue a datagram for the end of the burst: 0, or -1 when it does not
 * fit (then it leaves at once, after what is queued). */
static int tx_queue(struct net *net, struct net_sock *s,
		    const struct ike_path *path, const uint8_t *msg, size_t len)
{
	struct net_tx *t;
	uint8_t *copy;

	if (len > NET_TX_ARENA)
		return -1;
	if (net->ntx == NET_TX_BATCH || NET_TX_ARENA - net->tx_used < len)
		tx_flush(net);
	t = &net->tx[net->ntx];
	copy = net->tx_arena + net->tx_used;
	memcpy(copy, msg, len);
	t->s = s;
	t->peer = path->peer;
	t->local = path->local;
	fill_msghdr(&net->tx_mh[net->ntx].msg_hdr, s, t->iov, &t->ctl,
		    &t->peer, &t->local, copy, len);
	net->tx_mh[net->ntx].msg_len = 0;
	net->ntx++;
	net->tx_used += len;
	return 0;
}

int net_send(struct daemon *d, const struct ike_path *path,
	     const uint8_t *msg, size_t len)
{
	struct net *net = d->net;
	struct net_sock *s = net ? sock_for(net, path->peer.ss_family,
					    addr_port(&path->local)) : NULL;
	char to[ADDR_STR_MAX + 8];

	if (!s) {
		log_warn("no socket for UDP port %u to %s",
			 addr_port(&path->local),
			 addr_port_str(&path->peer, to, sizeof(to)));
		return -1;
	}
	if (net->batching && tx_queue(net, s, path, msg, len) == 0)
		return 0;
	if (net->ntx)
		tx_flush(net);	/* keep the order */
	return send_now(s, path, msg, len);
}

/* ---- NAT keepalives (RFC 3948 §2.3) --------------------------------------- */

/* One 0xFF byte, without the non-ESP marker, to an IKE SA's peer when a
 * NAT rewrites our address and the SA is on the NAT-T port. */
static void keepalive_one(struct daemon *d, struct ikesa *sa, void *arg)
{
	static const uint8_t ka = 0xff;	/* RFC 3948 §2.3 */
	struct net *net = arg;
	union net_ctl ctl;
	struct iovec iov = { (void *)&ka, 1 };
	struct msghdr mh = { 0 };
	struct net_sock *s;

	if (!sa->natt || !sa->nat_local || sa->state != IKESA_ESTABLISHED)
		return;
	s = sock_for(net, sa->path.peer.ss_family, addr_port(&sa->path.local));
	if (!s || !s->natt)
		return;
	mh.msg_name = (void *)&sa->path.peer;
	mh.msg_namelen = addr_len(&sa->path.peer);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	set_source(&mh, ctl.buf, sizeof(ctl.buf), &sa->path.local);
	if (sendmsg(s->fd, &mh, MSG_DONTWAIT) == 1)
		d->stats.v[ST_NATT_KEEPALIVES_SENT]++;
}

static void keepalive_tick(struct daemon *d, void *arg)
{
	struct net *net = arg;

	ikesa_foreach(d, keepalive_one, net);
	timer_arm(&net->keepalive, (uint64_t)d->tun.natt_keepalive_s * 1000);
}
