/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sa_ikesa_internal.h - what the files of the IKE SA table share (sa_ikesa.c,
 * sa_frag.c, sa_tomb.c, sa_send.c, sa_input.c) and no other: the table's
 * and the tombs' layout, reassembly, the helpers they call across.
 */
#ifndef IXDP_IKE_SA_IKESA_INTERNAL_H
#define IXDP_IKE_SA_IKESA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sa/sa_ikesa.h"

/* The hash tables grow with the SAs and tombs they hold (tombs of closed
 * SAs stay 10 s: tens of thousands under load), keeping chains at two
 * entries or fewer. */
#define IKESA_BUCKETS_MIN 1024		/* powers of two */
#define IKESA_BUCKETS_MAX (1u << 20)

LIST_HEAD(ikesa_list, ikesa);
TAILQ_HEAD(ikesa_tailq, ikesa);

/*
 * A closed SA is kept tun.linger_ms only to answer a retransmission of
 * the peer's last request from the cached response, and to drop anything
 * else sent to it quietly (ST_DROP_SA_CLOSED).  That takes its SPIs, the
 * peer and the response: a tomb of a few hundred bytes.  The 5 KB SA is
 * freed once the callback that closed it has returned (its t_life timer,
 * armed for 0 ms): under load tens of thousands of SAs close every 10 s.
 */
struct ikesa_tomb {
	LIST_ENTRY(ikesa_tomb) by_local, by_ispi;
	TAILQ_ENTRY(ikesa_tomb) fifo;	/* by expiry: all linger as long */
	uint64_t serial, ispi, rspi, expires_ms;
	struct sockaddr_storage peer;
	bool initiator, have_resp, resp_train;
	uint32_t resp_msgid, peer_next;
	size_t resp_len;
	uint8_t resp[];
};

LIST_HEAD(tomb_list, ikesa_tomb);
TAILQ_HEAD(tomb_tailq, ikesa_tomb);

struct ikesa_table {
	size_t nbuckets;
	struct ikesa_list *by_local, *by_ispi, *by_peer;
	struct tomb_list *tomb_local, *tomb_ispi;
	struct ikesa_tailq all;
	struct tomb_tailq tombs;
	struct ike_timer t_tombs;	/* the oldest tomb's expiry */
	bool t_tombs_ready;
	size_t count;		/* SAs and tombs in the table */
	size_t half_open;	/* responder SAs in AUTH_WAIT */
	/* the hash key: peers choose their SPIs and addresses, so that
	 * they cannot choose them all into one chain */
	uint64_t mult;		/* odd */
	uint32_t fnv_basis;
};

/* The hash lists, n buckets each, empty. */
struct buckets {
	struct ikesa_list *local, *ispi, *peer;
	struct tomb_list *tomb_local, *tomb_ispi;
};

#define IKE_FRAG_MAX 64		/* fragments of one message, either way */

/* A fragmented message coming in: each fragment checked and decrypted as
 * it arrives, its plaintext kept here until all have come. */
struct ike_reasm {
	uint32_t msgid;
	uint8_t exchange;
	uint8_t first;			/* first inner payload (fragment 1) */
	uint16_t total, have;
	size_t bytes;
	uint8_t *piece[IKE_FRAG_MAX];
	size_t piece_len[IKE_FRAG_MAX];
};

size_t addr_bucket(const struct ikesa_table *t,
		   const struct sockaddr_storage *ss);

void buckets_free(struct buckets *b);

void buckets_of(const struct ikesa_table *t, struct buckets *b);

void bury(struct daemon *d, const struct ikesa *sa);

const struct exchange_ops *exchange_of(struct daemon *d, uint8_t type);

void exchanges_send_wanted(struct daemon *d, struct ikesa *sa);

bool first_of_message(const struct ike_msg *msg);

size_t fragment_room(const struct daemon *d, const struct ikesa *sa);

uint16_t get_be16(const uint8_t *p);

void ikesa_free(struct daemon *d, struct ikesa *sa);

uint64_t local_spi(const struct ikesa *sa);

void reasm_free(struct ike_reasm **rp);

uint64_t remote_spi(const struct ikesa *sa);

int seal_fragments(struct ikesa *sa, const struct ike_header *hdr,
		   uint8_t first, const uint8_t *plain, size_t len,
		   size_t room, struct ike_blob *out);

int send_blob(struct daemon *d, const struct ike_path *path,
	      const uint8_t *p, size_t len, bool train);

size_t spi_bucket(const struct ikesa_table *t, uint64_t spi);

void table_grow(struct ikesa_table *t);

bool tomb_input(struct daemon *d, const struct ike_dgram *dg,
		const struct ike_msg *msg);

void tomb_link(struct ikesa_table *t, struct ikesa_tomb *tb);

uint64_t tomb_local_spi(const struct ikesa_tomb *tb);

#endif /* IXDP_IKE_SA_IKESA_INTERNAL_H */
