/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ixdp_control.h - the message vocabulary between `ipsec-xdp` and the
 * daemon `ipsec-xdpd`, over a unix stream socket.
 *
 * One request = one JSON object on one line; one reply = one JSON object on
 * one line, then the daemon closes the connection.  Every reply has
 * "ok": true|false and, when false, "error": "text".
 *
 *   {"cmd":"show-sa"}              -> {"ok":true,"ike_sas":[...],"child_sas":[...]}
 *        each CHILD SA has "in" and "out" when the kernel has its SAs:
 *        {"bytes","packets","age_s","idle_s","integrity_failed","replay",
 *         "replay_window","lifetime":{"soft_s","hard_s","soft_kb","hard_kb",
 *         "soft_left_s","hard_left_s","soft_left_kb","hard_left_kb"}}
 *   {"cmd":"stats"}                -> {"ok":true,"stats":{name:number,...},
 *                                      "kernel":{...}}
 *        "stats": the IKE counters (ike/sa/sa_stats.h) and gauges; "kernel": the
 *        SAs in force summed ("sas", "esp"/"ah"/"transport"/"tunnel":
 *        {"bytes_in","bytes_out","packets_in","packets_out"},
 *        "integrity_failed", "replay", "replay_window") and "xfrm_stat"
 *        (/proc/net/xfrm_stat by name); a part the daemon could not read
 *        is replaced by "sa_error" / "xfrm_stat_error" (ike/kernel/kernel_monitor.h)
 *   {"cmd":"metrics"}              -> {"ok":true,"families":TEXT}
 *        the daemon's OpenMetrics families (no "# EOF"), for
 *        `show stats --openmetrics` (ike/daemon/daemon_metrics.h)
 *   {"cmd":"initiate","peer":ADDR} -> {"ok":true,"ike_sa":"SPIi:SPIr"}
 *   {"cmd":"sa-delete","ike_sa":"SPIi"} or {"cmd":"sa-delete","peer":ADDR}
 *                                  -> {"ok":true,"deleted":N}
 *   {"cmd":"reload"}               -> re-read the assigned policy and config
 *
 * The socket is root-only (0600).  No reply ever carries a secret.
 */
#ifndef IXDP_CONTROL_H
#define IXDP_CONTROL_H

#define IXDP_RUNDIR_DEFAULT   "/run/ipsec-xdp"
#define IXDP_CONTROL_SOCKET   "ipsec-xdpd.sock"  /* inside the run dir */
#define IXDP_CONTROL_MAX_LINE 65536              /* request size limit */

#endif /* IXDP_CONTROL_H */
