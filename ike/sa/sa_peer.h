/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sa_peer.h - peer selection: what the assigned policy (CONFDIR/policy.yaml)
 * says about negotiating with one peer address.
 *
 * The settings of a peer come from the active negotiate rule whose filters
 * name that address (a host or a prefix or range holding it) or whose
 * tunnel endpoint it is: the most specific wins (a host, which a tunnel
 * endpoint counts as, before a longer prefix before a shorter one), and of
 * equally specific rules the first in the policy's order.  A peer no rule names gets
 * the policy's default response settings when the policy answers such
 * peers (default-response, on by default): the policy's IKE proposals, and
 * as pre-shared keys the one named by the peer's own identity or address
 * in the secrets file, then those of every rule; as certificate methods
 * those of every rule.  `auth` lists the methods in the rule's order (for
 * the default response: the address key, then each rule's in turn).
 *
 * The types here are plain numbers (IKEv2 transform ids) so that this
 * header includes neither lib/policy/policy.h nor ike/wire/wire_message.h, whose struct
 * names overlap.
 */
#ifndef IXDP_IKE_PEER_H
#define IXDP_IKE_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PEER_MAX_PROPOSALS 16
#define PEER_MAX_PSK       16
#define PEER_NAME_MAX      64
#define PEER_MAX_AUTH      16
#define PEER_MAX_CA        4
#define PEER_PATH_MAX      256

/* One IKE proposal as IKEv2 transform ids (integ 0 with an AEAD). */
struct peer_proposal {
	uint16_t encr, key_bits, integ, prf, dh;
};

enum peer_source {
	PEER_NONE = 0,		/* no rule, and default response is off */
	PEER_RULE,		/* a negotiate rule names the peer */
	PEER_DEFAULT,		/* the default response settings */
};

enum peer_auth_kind { PEER_AUTH_PSK = 0, PEER_AUTH_CERT };

/* One authentication method, in the rule's order: a pre-shared key
 * (psk[index]) or a certificate chained to the roots of ca[index] with a
 * CRL mode (0 off, 1 weak, 2 strong: cert.h enum cert_crl). */
struct peer_auth {
	uint8_t kind;			/* enum peer_auth_kind */
	uint8_t index;
	uint8_t crl;
};

struct peer_conf {
	enum peer_source source;
	char rule[PEER_NAME_MAX];	/* rule name, or "default-response" */
	char policy[PEER_NAME_MAX];
	struct peer_proposal prop[PEER_MAX_PROPOSALS];
	size_t nprop;
	char psk[PEER_MAX_PSK][PEER_NAME_MAX];	/* PSK ids, in order */
	size_t npsk;
	bool cert_only;			/* the rule authenticates by certificate only */
	struct peer_auth auth[PEER_MAX_AUTH];	/* every method, in order */
	size_t nauth;
	char ca[PEER_MAX_CA][PEER_PATH_MAX];	/* CA files (absolute paths) */
	size_t nca;
	uint32_t lifetime_s;		/* IKE SA lifetime */
	uint32_t qmpermm;		/* CHILD SAs one IKE SA may key (its
					 * SK_d); 0 unlimited, master-key
					 * PFS: 1 */
};

struct peer_policy;	/* the parsed policy */

/* Parse the assigned policy CONFDIR/policy.yaml.  A missing file gives
 * *out = NULL and 0 (no policy assigned); a bad one -1 and err. */
int peer_policy_load(const char *confdir, struct peer_policy **out,
		     char *err, size_t errlen);
int peer_policy_from_buffer(const char *name, const char *text, size_t len,
			    struct peer_policy **out, char *err, size_t errlen);
void peer_policy_free(struct peer_policy *pp);
const char *peer_policy_name(const struct peer_policy *pp);

/* The settings for peer (its address; the port is ignored). */
enum peer_source peer_lookup(const struct peer_policy *pp,
			     const struct sockaddr_storage *peer,
			     struct peer_conf *out);

/* Does the active negotiate rule `name` have `inpass` in its action
 * (false when there is no such rule)? */
bool peer_rule_inpass(const struct peer_policy *pp, const char *name);

#endif /* IXDP_IKE_PEER_H */
