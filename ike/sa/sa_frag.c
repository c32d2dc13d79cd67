// SPDX-License-Identifier: GPL-2.0-only
/*
 * sa_frag.c - IKE fragmentation (RFC 7383): reassembling a fragmented message
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sa/sa_log.h"
#include "sa/sa_ikesa.h"
#include "sa/sa_proposal.h"
#include "sa/sa_ikesa_internal.h"


/* ---- IKE fragmentation (RFC 7383) -------------------------------------------- */

void reasm_free(struct ike_reasm **rp)
{
	struct ike_reasm *r = *rp;
	size_t i;

	if (!r)
		return;
	for (i = 0; i < IKE_FRAG_MAX; i++)
		if (r->piece[i]) {
			ike_wipe(r->piece[i], r->piece_len[i]);
			free(r->piece[i]);
		}
	free(r);
	*rp = NULL;
}

uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Whether msg is a whole message or its fragment 1: a request sent again
 * is answered once, not once per fragment (RFC 7383 §2.6.1). */
bool first_of_message(const struct ike_msg *msg)
{
	const struct ike_payload *sk;

	if (msg->sk_index == IKE_MSG_NO_SK)
		return true;
	sk = &msg->pl[msg->sk_index];
	return sk->type != IKEV2_PL_SKF || sk->len < IKE_SKF_PREFIX_LEN ||
	       get_be16(sk->body) == 1;
}

/* Send what a blob holds: one datagram, or a train of fragments.  As
 * ikesa_send: 0, or -1 when one could not be sent. */
int send_blob(struct daemon *d, const struct ike_path *path,
	      const uint8_t *p, size_t len, bool train)
{
	size_t off = 0, n;
	int rc = 0;

	if (!train)
		return ikesa_send(d, path, p, len);
	while (len - off >= 2) {
		n = get_be16(p + off);
		off += 2;
		if (n > len - off)
			fatal("a broken train of IKE fragments");
		if (ikesa_send(d, path, p + off, n))
			rc = -1;
		off += n;
	}
	return rc;
}

/* The largest IKE message that fits the fragment size toward the peer;
 * 0: fragmentation not negotiated. */
size_t fragment_room(const struct daemon *d, const struct ikesa *sa)
{
	size_t ip = sa->path.peer.ss_family == AF_INET6 ? 40 : 20;
	size_t natt = sa->natt ? 4 : 0;	/* the non-ESP marker */

	if (!sa->peer_frag || d->tun.fragment_size < FRAGMENT_SIZE_MIN)
		return 0;
	return d->tun.fragment_size - ip - 8 - natt;
}

/* plain sealed in as many fragments as the room needs, into out. */
int seal_fragments(struct ikesa *sa, const struct ike_header *hdr,
		   uint8_t first, const uint8_t *plain, size_t len,
		   size_t room, struct ike_blob *out)
{
	size_t over = ike_skf_overhead(&sa->keys.suite), chunk, n, i;
	size_t off = 0, used = 0, flen;
	uint8_t *buf;

	if (room <= over)
		return -1;
	chunk = room - over;
	n = (len + chunk - 1) / chunk;
	if (n > IKE_FRAG_MAX)
		return -1;
	buf = malloc(n * (2 + room));
	if (!buf)
		return -1;
	for (i = 0; i < n; i++) {
		size_t piece = len - off < chunk ? len - off : chunk;

		if (ike_skf_seal(&sa->keys, sa->initiator, hdr, first,
				 (uint16_t)(i + 1), (uint16_t)n, plain + off,
				 piece, buf + used + 2, room, &flen) !=
		    IKE_CRYPTO_OK) {
			free(buf);
			return -1;
		}
		buf[used] = (uint8_t)(flen >> 8);
		buf[used + 1] = (uint8_t)flen;
		used += 2 + flen;
		off += piece;
	}
	free(out->p);
	out->p = buf;
	out->len = used;
	out->train = true;
	return 0;
}
