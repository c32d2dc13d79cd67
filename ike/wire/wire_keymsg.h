/* SPDX-License-Identifier: GPL-2.0-only
 *
 * wire_keymsg.h - the messages between ipsec-xdpd's network process and its
 * key holder (ike/daemon/daemon_keyholder.c), over a SOCK_SEQPACKET
 * socketpair: one message per datagram, one request, then its reply.
 *
 * The network process holds no pre-shared key and no private key; it asks:
 *
 *   KM_RELOAD        read CONFDIR/secrets and the host certificate again
 *                    (a failure keeps the set in force); reply: status, the
 *                    number of ids (u32), 1 in `method` when there is a host
 *                    certificate, an error text in data
 *   KM_IDS           the ids from index u32 on; reply: as many as fit in
 *                    data as (u8 length, bytes), u32 the total, method 1
 *                    when more follow
 *   KM_HOST_CERT     the u32-th certificate to send (0 ours); reply: DER in
 *                    data, status KM_ST_NONE past the end
 *   KM_PSK_MAC       AUTH = prf(prf(PSK id, "Key Pad for IKEv2"), data)
 *                    with PRF `prf`; reply: the MAC in data
 *   KM_PSK_VERIFY    whether data2 is that AUTH for data; reply: status
 *                    KM_ST_OK or KM_ST_MISMATCH, never the MAC
 *   KM_SIGN          sign data for a peer that announced the hashes u32
 *                    (wire_signature.h); reply: method and the AUTH data
 *   KM_ROLLBACK      put back the policy `ipsec-xdp policy apply
 *                    --confirm-within` kept in CONFDIR (lib/agent/agent.h,
 *                    agent_rollback_restore); reply: status KM_ST_OK with
 *                    u32 1 when a policy file was put back, 0 when none had
 *                    been stored (policy.yaml removed), KM_ST_NONE when
 *                    nothing was kept, KM_ST_FAILED with the error in data
 *   KM_ROLLBACK_DROP the policy was confirmed: remove what was kept;
 *                    reply: KM_ST_OK, or KM_ST_FAILED with the error
 *
 * The two rollback requests are fixed: every field but version, type and
 * seq is zero, and nothing follows the header (the network process can
 * only trigger what root prepared, never name a file).
 *
 * Layout (big-endian), the same for every type; unused fields are zero:
 *
 *   0  version (1)   1  type   2  status   3  method
 *   4  seq (u32: the reply repeats the request's)
 *   8  prf (u16)     10 id length (u8)     11 zero
 *   12 u32          16 data length (u32)  20 data2 length (u32)
 *   24 id, data, data2
 *
 * keymsg_decode checks every length against the datagram's and the
 * bounds below, the version, the type, that the id holds no NUL and
 * that a rollback request carries nothing: a message that fails any is
 * refused whole.
 */
#ifndef IXDP_IKE_KEYMSG_H
#define IXDP_IKE_KEYMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KM_VERSION    1
#define KM_HDR_LEN    24
#define KM_ID_MAX     255		/* SECRETS_MAX_ID */
#define KM_DATA_MAX   65536		/* <SignedOctets>, a certificate */
#define KM_DATA2_MAX  2048		/* a peer's AUTH data */
#define KM_MSG_MAX    (KM_HDR_LEN + KM_ID_MAX + KM_DATA_MAX + KM_DATA2_MAX)

enum km_type {
	KM_RELOAD = 1,
	KM_IDS,
	KM_HOST_CERT,
	KM_PSK_MAC,
	KM_PSK_VERIFY,
	KM_SIGN,
	KM_ROLLBACK,
	KM_ROLLBACK_DROP,
	KM_TYPE_MAX = KM_ROLLBACK_DROP,
	KM_REPLY = 0x80,		/* or'ed into a reply's type */
};

enum km_status {
	KM_ST_OK = 0,
	KM_ST_MISMATCH,		/* PSK_VERIFY: the AUTH does not verify */
	KM_ST_NONE,		/* no such key or certificate */
	KM_ST_FAILED,		/* the operation failed: data says why */
	KM_ST_REFUSED,		/* a request the key holder does not take */
};

struct keymsg {
	uint8_t type;		/* enum km_type, | KM_REPLY in replies */
	uint8_t status;		/* enum km_status, replies */
	uint8_t method;
	uint32_t seq;
	uint16_t prf;
	uint32_t u32;
	char id[KM_ID_MAX + 1];	/* NUL-terminated */
	const uint8_t *data;	/* point into the decoded buffer */
	size_t data_len;
	const uint8_t *data2;
	size_t data2_len;
};

/* The bytes of m at out (cap >= keymsg_len(m)): the length, or 0 when a
 * field is out of bounds. */
size_t keymsg_len(const struct keymsg *m);
size_t keymsg_encode(const struct keymsg *m, uint8_t *out, size_t cap);
/* One datagram into m (data and data2 point into buf).  0, or -1 and *why. */
int keymsg_decode(const uint8_t *buf, size_t len, struct keymsg *m,
		  const char **why);
/* The next id of a KM_IDS reply's data at *off: 1 and id (NUL-terminated),
 * 0 at the end, -1 when malformed. */
int keymsg_next_id(const uint8_t *data, size_t len, size_t *off,
		   char id[KM_ID_MAX + 1]);
/* Append id to a KM_IDS reply's data (cap bytes at data, *len used):
 * false when it does not fit. */
bool keymsg_add_id(uint8_t *data, size_t cap, size_t *len, const char *id);
const char *keymsg_type_name(uint8_t type);

#endif /* IXDP_IKE_KEYMSG_H */
