// SPDX-License-Identifier: GPL-2.0-only
/* sa_stats.c - names of the IKE counters; see stats.h. */
#include "sa/sa_stats.h"

static const char *const names[ST_COUNT] = {
	[ST_NEG_TOTAL]			= "negotiations_total",
	[ST_NEG_FAILED]			= "negotiations_failed",
	[ST_AUTH_FAILURES]		= "authentication_failures",
	[ST_INVALID_COOKIES]		= "invalid_cookies",
	[ST_IKE_SA_ESTABLISHED]		= "ike_sas_established",
	[ST_IKE_SA_DELETED]		= "ike_sas_deleted",
	[ST_COOKIES_SENT]		= "cookies_sent",
	[ST_INVALID_KE_SENT]		= "invalid_ke_sent",
	[ST_INVALID_KE_RECEIVED]	= "invalid_ke_received",
	[ST_NO_PROPOSAL_CHOSEN]		= "no_proposal_chosen",
	[ST_PEER_TIMEOUTS]		= "peer_timeouts",
	[ST_LIVENESS_CHECKS]		= "liveness_checks",
	[ST_RETRANSMITS]		= "retransmits",
	[ST_RESPONSES_RESENT]		= "responses_resent",
	[ST_MESSAGES_RECEIVED]		= "messages_received",
	[ST_MESSAGES_SENT]		= "messages_sent",
	[ST_SEND_ERRORS]		= "send_errors",
	[ST_NATT_KEEPALIVES]		= "natt_keepalives",
	[ST_NATT_KEEPALIVES_SENT]	= "natt_keepalives_sent",
	[ST_INVALID_SPI_SENT]		= "invalid_spi_notifies_sent",
	[ST_INVALID_MAJOR_SENT]		= "invalid_major_version_sent",
	[ST_UNSUPPORTED_CRITICAL_SENT]	= "unsupported_critical_sent",
	[ST_FAIL_AUTH]			= "negotiations_failed_authentication",
	[ST_FAIL_NO_PROPOSAL]		= "negotiations_failed_no_proposal_chosen",
	[ST_FAIL_TS_UNACCEPTABLE]	= "negotiations_failed_ts_unacceptable",
	[ST_FAIL_INVALID_SYNTAX]	= "negotiations_failed_invalid_syntax",
	[ST_FAIL_TIMEOUT]		= "negotiations_failed_timeout",
	[ST_FAIL_KERNEL]		= "negotiations_failed_kernel",
	[ST_FAIL_OTHER]			= "negotiations_failed_other",
	[ST_BACKOFF_STEPS]		= "backoff_steps",
	[ST_BACKOFF_HELD]		= "negotiations_held_back",
	[ST_KEY_ADDITIONS]		= "key_additions",
	[ST_KEY_UPDATES]		= "key_updates",
	[ST_KEY_DELETIONS]		= "key_deletions",
	[ST_CHILD_REKEYS]		= "child_sa_rekeys",
	[ST_IKE_REKEYS]			= "ike_sa_rekeys",
	[ST_SOFT_SAS]			= "soft_sas",
	[ST_DROP_MALFORMED]		= "drop_malformed",
	[ST_DROP_BAD_VERSION]		= "drop_bad_version",
	[ST_DROP_BAD_FLAGS]		= "drop_bad_flags",
	[ST_DROP_UNKNOWN_SPI]		= "drop_unknown_spi",
	[ST_DROP_MSGID_WINDOW]		= "drop_msgid_out_of_window",
	[ST_DROP_UNEXPECTED_RESPONSE]	= "drop_unexpected_response",
	[ST_DROP_UNEXPECTED_EXCHANGE]	= "drop_unexpected_exchange",
	[ST_DROP_UNPROTECTED]		= "drop_unprotected",
	[ST_DROP_INTEGRITY]		= "drop_integrity_failed",
	[ST_DROP_MISSING_PAYLOAD]	= "drop_missing_payload",
	[ST_DROP_BAD_PAYLOAD]		= "drop_bad_payload",
	[ST_DROP_HALF_OPEN_LIMIT]	= "drop_half_open_limit",
	[ST_DROP_NO_POLICY]		= "drop_no_policy",
	[ST_DROP_WRONG_ADDRESS]		= "drop_wrong_address",
	[ST_DROP_SA_CLOSED]		= "drop_sa_closed",
	[ST_DROP_NATT_NOT_IKE]		= "drop_natt_not_ike",
	[ST_DROP_FRAGMENT]		= "drop_fragment",
};

const char *stats_name(enum ike_stat s)
{
	if ((unsigned)s >= ST_COUNT || !names[s])
		return "unknown";
	return names[s];
}
