/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dataplane_xfrmstat.h - the kernel's IPsec error counters, /proc/net/xfrm_stat (one
 * set per network namespace), and how they map onto the IP Security
 * Monitor's quick mode statistics of docs/behaviour.md §6.  Shared by the daemon
 * (`stats` on the control socket) and the command (`show stats` when the
 * daemon is not running).
 *
 * The mapping (the kernel counts in net/xfrm/xfrm_input.c):
 *   bad SPI packets            XfrmInNoStates: no SA for the SPI (or for
 *                              its destination and protocol)
 *   packets not decrypted      XfrmInStateProtoError: the ESP/AH transform
 *                              refused the packet (bad ICV, bad padding,
 *                              too short).  With AES-GCM decryption and
 *                              authentication are one operation, so the
 *                              kernel cannot tell them apart: this counter
 *                              includes the packets not authenticated.
 *   packets not authenticated  not in this file: the per-SA count of ICV
 *                              failures (xfrm_stats.integrity_failed) of
 *                              the SAs in force, which the daemon sums
 *   replays                    XfrmInStateSeqError: sequence number
 *                              replayed or left of the replay window
 *   other inbound errors       XfrmInError + XfrmInBufferError +
 *                              XfrmInHdrError + XfrmInStateModeError +
 *                              XfrmInStateExpired + XfrmInStateMismatch +
 *                              XfrmInStateInvalid: kept apart, never
 *                              folded into the counters above
 */
#ifndef IXDP_XFRMSTAT_H
#define IXDP_XFRMSTAT_H

#include <stddef.h>
#include <stdint.h>

#define XFRMSTAT_PATH      "/proc/net/xfrm_stat"
#define XFRMSTAT_MAX       64	/* counters kept; 6.12 has 32 */
#define XFRMSTAT_NAME_MAX  40

struct xfrmstat {
	size_t n;
	struct {
		char name[XFRMSTAT_NAME_MAX];
		uint64_t value;
	} c[XFRMSTAT_MAX];
};

/* The quick mode counters that come from xfrm_stat. */
struct xfrmstat_monitor {
	uint64_t bad_spi;
	uint64_t not_decrypted;
	uint64_t replays;
	uint64_t other_in_errors;
	uint64_t out_errors;		/* every XfrmOut* counter */
};

/* Parse the text of xfrm_stat: lines "Name<blanks>value".  0, or -1 with
 * errbuf naming the line that is not of that form. */
int xfrmstat_parse(const char *text, size_t len, struct xfrmstat *out,
		   char *errbuf, size_t errlen);
/* Read and parse path (XFRMSTAT_PATH).  0, or -1 with the reason; a
 * kernel without xfrm has no such file ("... not available"). */
int xfrmstat_read(const char *path, struct xfrmstat *out, char *errbuf,
		  size_t errlen);
/* A counter by name; 0 when the kernel does not have it. */
uint64_t xfrmstat_get(const struct xfrmstat *s, const char *name);
void xfrmstat_monitor(const struct xfrmstat *s, struct xfrmstat_monitor *m);

#endif /* IXDP_XFRMSTAT_H */
