// SPDX-License-Identifier: GPL-2.0-only
/*
 * fuzz_keymsg.c - libFuzzer target for the key holder's message codec
 * (ike/wire/wire_keymsg.c), what the network process and the key holder
 * of ipsec-xdpd say to each other.
 *
 * One input is one datagram.  A message that decodes is encoded again and
 * must give the same bytes (the layout has no slack); the data of a KM_IDS
 * reply is walked as a list of ids, and every id read is appended to a
 * fresh list that must read back the same; a rollback request that decodes
 * is the bare header with nothing in any field but its seq.  Crashes,
 * sanitizer reports, a failed round trip and a rollback request carrying
 * anything (abort) are findings.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "wire/wire_keymsg.h"

static void require(bool ok)
{
	if (!ok)
		abort();
}

static uint8_t again[KM_MSG_MAX];
static uint8_t list[KM_DATA_MAX];

static void walk_ids(const struct keymsg *m)
{
	char id[KM_ID_MAX + 1], back[KM_ID_MAX + 1];
	size_t off = 0, len = 0, off2 = 0;
	int r;

	while ((r = keymsg_next_id(m->data, m->data_len, &off, id)) == 1) {
		require(strlen(id) > 0 && strlen(id) <= KM_ID_MAX);
		require(keymsg_add_id(list, sizeof(list), &len, id));
		require(keymsg_next_id(list, len, &off2, back) == 1);
		require(!strcmp(id, back));
	}
	require(r == 0 || r == -1);
	require(off <= m->data_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keymsg m;
	const char *why;
	size_t n;

	if (keymsg_decode(data, size, &m, &why)) {
		require(why != NULL);
		return 0;
	}
	require(keymsg_len(&m) == size);
	n = keymsg_encode(&m, again, sizeof(again));
	require(n == size && !memcmp(again, data, size));
	(void)keymsg_type_name(m.type);
	if (m.type == KM_ROLLBACK || m.type == KM_ROLLBACK_DROP)
		require(size == KM_HDR_LEN && !m.status && !m.method && !m.prf &&
			!m.u32 && !m.id[0]);
	if (m.data_len)
		walk_ids(&m);
	return 0;
}
