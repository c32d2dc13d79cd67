/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ixdp_control.h - the message vocabulary between `ipsec-xdp` and the
 * daemon `ipsec-xdpd`, over a unix stream socket.
 *
 * One request = one JSON object on one line; one reply = one JSON object on
 * one line, then the daemon closes the connection (except "monitor").  Every reply has
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
 *   {"cmd":"agent-status"}         -> {"ok":true,"agent":{"file","watch",
 *        "polling_interval_s","in_force":{"sha256","since","source",
 *        "policy","specific_filters","dataplane"}|null,"last":{"ok","at",
 *        "source","result"|"error"}|null,"pending_confirmation":
 *        {"deadline","seconds_left","restores"}|null}}  (times: Unix seconds)
 *   {"cmd":"policy-arm","seconds":N} -> keep the stored policy; restore it
 *        unless policy-confirm comes within N (1..86400) seconds;
 *        {"ok":true,"agent":{...}}
 *   {"cmd":"policy-confirm"}       -> cancel that rollback ("ok": false
 *        when none is pending)
 *   {"cmd":"filter-edit","op":"add"|"delete","list":L,"filter":F}
 *                                  -> {"ok":true,"sha256":H,"specific_filters":N,
 *        "index":I}: the change (`ipsec-xdp filter`, F a filter in the policy
 *        file's syntax) made in the stored policy the agent holds read (H:
 *        its SHA-256) is in force; the connection stays open and the daemon
 *        holds the writers' lock for the client until it closes it
 *        (DAGENT_EDIT_HOLD_S at most), then reads the stored file again and
 *        puts it in force.  Or {"ok":false,"declined":true,"error":WHY}:
 *        nothing was done (ike/daemon/daemon_agent.h, dagent_edit).
 *   {"cmd":"monitor"}              -> {"ok":true}, then the connection stays
 *        open and carries one JSON object per line per event, until the
 *        client closes it: {"source":"ike","event":E,"text":T} and, where
 *        known, "ike" (serial), "peer", "spi" ("SPIi:SPIr"), "role",
 *        "rule", "reason", "spi_in", "spi_out", "policy".  E: started,
 *        established, failed, rekeyed, deleted, sa-added, sa-rekeyed,
 *        sa-deleted, sa-failed, policy (ike/sa/sa_log.h ikelog_event).
 *        A client that lets over 1 MiB wait is disconnected.
 *
 * The socket is root-only (0600).  No reply ever carries a secret.
 */
#ifndef IXDP_CONTROL_H
#define IXDP_CONTROL_H

#define IXDP_RUNDIR_DEFAULT   "/run/ipsec-xdp"
#define IXDP_CONTROL_SOCKET   "ipsec-xdpd.sock"  /* inside the run dir */
#define IXDP_CONTROL_MAX_LINE 65536              /* request size limit */

#endif /* IXDP_CONTROL_H */
