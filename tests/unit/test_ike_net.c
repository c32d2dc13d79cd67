// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_ike_net.c - the daemon's UDP sockets (ike/daemon/daemon_net.c) on the loopback:
 * the NAT-T sockets hand UDP-encapsulated ESP to the kernel
 * (UDP_ENCAP_ESPINUDP, found missing in the NAT interop scenario: ESP
 * from charon reached the daemon instead of xfrm), the IKE port sockets
 * do not; NAT keepalives (RFC 3948 §2.3) go out, one 0xFF byte without a
 * non-ESP marker, only for established IKE SAs whose own address a NAT
 * rewrites; a burst of requests waiting on both ports is answered
 * (recvmmsg, then one sendmmsg) once each, in order, with the non-ESP
 * marker on the NAT-T port.  Ports come from the pid, so parallel runs do not collide.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <event2/event.h>
#include <cmocka.h>

#include "daemon/daemon.h"
#include "sa/sa_log.h"
#include "sa/sa_ikesa.h"

struct bed {
	struct daemon d;
	struct event_base *evb;
	uint16_t peer_port;
	int peer_fd;		/* where keepalives should arrive */
};

static struct bed bed;

static int setup(void **state)
{
	uint16_t base = (uint16_t)(20000 + (getpid() % 10000) * 3);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { 0, 200000 };
	char err[256];

	daemon_init(&bed.d);
	bed.d.port = base;
	bed.d.natt_port = (uint16_t)(base + 1);
	bed.d.tun.natt_keepalive_s = 1;
	bed.evb = event_base_new();
	assert_non_null(bed.evb);
	evtimer_ops_use(&bed.d, bed.evb);
	assert_int_equal(net_open(&bed.d, bed.evb, err, sizeof(err)), 0);
	bed.d.send = net_send;
	bed.peer_port = (uint16_t)(base + 2);
	bed.peer_fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(bed.peer_fd >= 0);
	a.sin_port = htons(bed.peer_port);
	assert_int_equal(bind(bed.peer_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(setsockopt(bed.peer_fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
				    sizeof(tv)), 0);
	*state = &bed;
	return 0;
}

static int teardown(void **state)
{
	close(bed.peer_fd);
	net_close(&bed.d);
	daemon_fini(&bed.d);
	event_base_free(bed.evb);
	return 0;
}

/* UDP_ENCAP of our socket bound to port (family), -1 when there is none. */
static int encap_of(int family, uint16_t port)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *e;
	int found = -1;

	assert_non_null(dir);
	while ((e = readdir(dir)) && found < 0) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = atoi(e->d_name), type = 0, v = -1;
		socklen_t tl = sizeof(type), vl = sizeof(v);

		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) ||
		    type != SOCK_DGRAM ||
		    getsockname(fd, (struct sockaddr *)&ss, &len) ||
		    ss.ss_family != family || addr_port(&ss) != port)
			continue;
		if (getsockopt(fd, IPPROTO_UDP, UDP_ENCAP, &v, &vl) == 0)
			found = v;
	}
	closedir(dir);
	return found;
}

static void test_natt_sockets_take_esp(void **state)
{
	struct bed *b = *state;

	assert_int_equal(encap_of(AF_INET, b->d.natt_port), UDP_ENCAP_ESPINUDP);
	assert_int_equal(encap_of(AF_INET, b->d.port), 0);
	if (encap_of(AF_INET6, b->d.natt_port) >= 0) {	/* IPv6 may be off */
		assert_int_equal(encap_of(AF_INET6, b->d.natt_port),
				 UDP_ENCAP_ESPINUDP);
		assert_int_equal(encap_of(AF_INET6, b->d.port), 0);
	}
}

/* An IKE SA to our peer socket, from the NAT-T port. */
static struct ikesa *sa_to_peer(struct bed *b, uint16_t local_port,
				bool nat_local, enum ikesa_state st)
{
	struct ike_path path;
	struct peer_conf pc;
	struct ikesa *sa;

	memset(&path, 0, sizeof(path));
	memset(&pc, 0, sizeof(pc));
	assert_int_equal(addr_parse("127.0.0.1", local_port, &path.local), 0);
	assert_int_equal(addr_parse("127.0.0.1", b->peer_port, &path.peer), 0);
	sa = ikesa_new(&b->d, true, 0, &path, &pc);
	assert_non_null(sa);
	sa->state = st;
	sa->natt = local_port == b->d.natt_port;
	sa->nat_local = nat_local;
	return sa;
}

/* Run the loop past one keepalive period; how many datagrams the peer got,
 * the last one in buf. */
static int keepalives_seen(struct bed *b, uint8_t *buf, size_t cap,
			   ssize_t *len)
{
	struct timeval wait = { 1, 300000 };
	int n = 0;
	ssize_t r;

	event_base_loopexit(b->evb, &wait);
	event_base_dispatch(b->evb);
	while ((r = recv(b->peer_fd, buf, cap, MSG_DONTWAIT)) >= 0) {
		*len = r;
		n++;
	}
	return n;
}

static void test_keepalive_behind_nat(void **state)
{
	struct bed *b = *state;
	uint8_t buf[64];
	ssize_t len = -1;

	sa_to_peer(b, b->d.natt_port, true, IKESA_ESTABLISHED);
	assert_int_equal(keepalives_seen(b, buf, sizeof(buf), &len), 1);
	assert_int_equal(len, 1);
	assert_int_equal(buf[0], 0xff);
	assert_int_equal(b->d.stats.v[ST_NATT_KEEPALIVES_SENT], 1);
}

static void test_no_keepalive_without_our_nat(void **state)
{
	struct bed *b = *state;
	uint8_t buf[64];
	ssize_t len = -1;

	/* the peer is behind a NAT, not us: it keeps its own mapping */
	sa_to_peer(b, b->d.natt_port, false, IKESA_ESTABLISHED);
	/* not on the NAT-T port */
	sa_to_peer(b, b->d.port, true, IKESA_ESTABLISHED);
	/* not established yet */
	sa_to_peer(b, b->d.natt_port, true, IKESA_AUTH_SENT);
	assert_int_equal(keepalives_seen(b, buf, sizeof(buf), &len), 0);
	assert_int_equal(b->d.stats.v[ST_NATT_KEEPALIVES_SENT], 0);
}

/* An IKE header of a higher major version (3.0) with message ID id: the
 * daemon answers it with INVALID_MAJOR_VERSION (RFC 7296 §2.5), same SPIs
 * and ID, without any state: one answer per request. */
static size_t v3_request(uint8_t *p, uint32_t id)
{
	memset(p, 0, 28);
	memset(p, 0x5a, 8);		/* SPIi */
	p[17] = 0x30;			/* version 3.0 */
	p[18] = IKEV2_EXCH_IKE_SA_INIT;
	p[19] = IKEV2_FLAG_INITIATOR;
	p[20] = (uint8_t)(id >> 24);
	p[21] = (uint8_t)(id >> 16);
	p[22] = (uint8_t)(id >> 8);
	p[23] = (uint8_t)id;
	p[27] = 28;
	return 28;
}

static void send_to(struct bed *b, uint16_t port, const uint8_t *p, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons(port) };

	assert_int_equal(sendto(b->peer_fd, p, len, 0, (struct sockaddr *)&a,
				sizeof(a)), (ssize_t)len);
}

/* A burst on both ports, all waiting before the loop runs: every request
 * is answered once, from the port it went to, in the order sent on that
 * port; on the NAT-T port each answer has the non-ESP marker first, as
 * each request had. */
static void test_burst_answered_in_order(void **state)
{
	enum { N = 40, NATT_ID = 1000 };
	struct bed *b = *state;
	struct timeval wait = { 0, 300000 };
	uint32_t next_ike = 0, next_natt = NATT_ID;
	uint8_t req[4 + 28], ans[256];
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	ssize_t r;
	uint32_t i;

	b->d.tun.invalid_spi_per_s = 1000;	/* no rate limit in the way */
	log_open(true, false, true);		/* 80 "answered" lines */
	for (i = 0; i < N; i++) {
		send_to(b, b->d.port, req, v3_request(req, i));
		memset(req, 0, 4);		/* the non-ESP marker */
		send_to(b, b->d.natt_port, req, 4 + v3_request(req + 4,
							       NATT_ID + i));
	}
	event_base_loopexit(b->evb, &wait);
	event_base_dispatch(b->evb);
	while ((r = recvfrom(b->peer_fd, ans, sizeof(ans), MSG_DONTWAIT,
			     (struct sockaddr *)&from, &fl)) >= 0) {
		bool natt = ntohs(from.sin_port) == b->d.natt_port;
		const uint8_t *h = natt ? ans + 4 : ans;
		uint32_t id;

		assert_true(natt || ntohs(from.sin_port) == b->d.port);
		if (natt) {
			assert_true(r >= 4 + 28);
			assert_memory_equal(ans, "\0\0\0\0", 4);
		}
		assert_true(r - (h - ans) >= 28);
		assert_int_equal(h[0], 0x5a);
		assert_true(h[19] & IKEV2_FLAG_RESPONSE);
		id = (uint32_t)h[20] << 24 | (uint32_t)h[21] << 16 |
		     (uint32_t)h[22] << 8 | h[23];
		assert_int_equal(id, natt ? next_natt++ : next_ike++);
		fl = sizeof(from);
	}
	assert_int_equal(next_ike, N);
	assert_int_equal(next_natt, NATT_ID + N);
	assert_int_equal(b->d.stats.v[ST_INVALID_MAJOR_SENT], 2 * N);
	assert_int_equal(b->d.stats.v[ST_SEND_ERRORS], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_natt_sockets_take_esp,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_keepalive_behind_nat,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_keepalive_without_our_nat,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_burst_answered_in_order,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
