/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * maps.h - the dataplane's maps, pinned by name (LIBBPF_PIN_BY_NAME),
 * for ipsec_xdp.bpf.c alone.  Their key and value layouts,
 * limits and enums are in include/ipsec_xdp.h, shared with userspace.
 */
#ifndef IXDP_BPF_MAPS_H
#define IXDP_BPF_MAPS_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "ipsec_xdp.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, IXDP_STATE__MAX);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ixdp_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct ixdp_bank);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ixdp_banks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * 2 * IXDP_MAX_TUPLES);
	__type(key, __u32);
	__type(value, struct ixdp_tuple);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ixdp_tuples SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, IXDP_MAX_KEYS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ixdp_fkey);
	__type(value, struct ixdp_fval);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ixdp_filters SEC(".maps");

/* The decision tree of each bank (include/ipsec_xdp.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * IXDP_TREE_NODES);
	__type(key, __u32);
	__type(value, struct ixdp_tnode);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(map_flags, BPF_F_MMAPABLE); /* read and written through a mapping: dp_array_read(), _write() */
} ixdp_tnodes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * IXDP_TREE_LEAF_REFS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(map_flags, BPF_F_MMAPABLE); /* read and written through a mapping: dp_array_read(), _write() */
} ixdp_tleaf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, IXDP_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct ixdp_tmatch);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(map_flags, BPF_F_MMAPABLE); /* written through a mapping: dp_update_pairs() */
} ixdp_tmatch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, IXDP_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct ixdp_ifmask);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ixdp_ifmask SEC(".maps");

/* Read by userspace only (see include/ipsec_xdp.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * IXDP_MAX_IFGROUPS);
	__type(key, __u32);
	__type(value, struct ixdp_ifgroup);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ixdp_ifgroup SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * 2 * IXDP_PORT_CLASSES);
	__type(key, __u32);
	__type(value, __u16);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(map_flags, BPF_F_MMAPABLE); /* written through a mapping: dp_array_write() */
} ixdp_port_class SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);	/* shared: atomic adds */
	__uint(max_entries, IXDP_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct ixdp_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ixdp_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, IXDP_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct ixdp_filter_info);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(map_flags, BPF_F_MMAPABLE); /* read and written through a mapping: dp_array_read(), _write() */
} ixdp_info SEC(".maps");

/* Read by userspace only: each bank's slots in enforcement order. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * IXDP_MAX_FILTERS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(map_flags, BPF_F_MMAPABLE); /* read and written through a mapping: dp_array_read(), _write() */
} ixdp_order SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * IXDP_MAX_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(map_flags, BPF_F_MMAPABLE); /* written through a mapping: dp_update_pairs() */
} ixdp_slot_pos SEC(".maps");

/* Shared, written by userspace only: one entry per slot and one for
 * "no match" (IXDP_CACHE_NO_MATCH). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, IXDP_MAX_SLOTS + 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(map_flags, BPF_F_MMAPABLE); /* written through a mapping: dp_update_pairs() */
} ixdp_cache_gen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct ixdp_boot);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ixdp_boot SEC(".maps");

/* Preallocated plain hash, not LRU: only idle entries leave (the sweeper
 * deletes them), never a live one to make room (include/ipsec_xdp.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, IXDP_MAX_CONNS);
	__type(key, struct ixdp_conn_key);
	__type(value, struct ixdp_conn);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ixdp_conns SEC(".maps");

/* The sweeper's timer.  Pinned: a timer can only be armed in a map that
 * userspace holds (pins count), and is cancelled when none does. */
struct ixdp_conn_sweeper {
	struct bpf_timer timer;
	__u32 armed;        /* 1 once the timer runs (it re-arms itself) */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ixdp_conn_sweeper);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ixdp_conn_sweep SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IXDP_FLOW_CACHE_SIZE);
	__type(key, __u32);
	__type(value, struct ixdp_flow_entry);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ixdp_flow_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IXDP_DROP__MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ixdp_drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IXDP_PKT__MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ixdp_pkts SEC(".maps");

/* SA bundles, filled by the daemon (include/ipsec_xdp.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, IXDP_MAX_BUNDLES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ixdp_bundle_key);
	__type(value, struct ixdp_bundle);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ixdp_bundles SEC(".maps");

/* Negotiate traffic without an SA, for the daemon. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, IXDP_EVENT_RING_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ixdp_events SEC(".maps");

/* Dropped packets described, for `ipsec-xdp monitor` (rate limited per
 * CPU by ixdp_drop_limit; include/ipsec_xdp.h). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, IXDP_DROP_RING_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ixdp_drop_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ixdp_drop_limiter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ixdp_drop_limit SEC(".maps");

/* When the last event of a {rule, peer} was sent (rate limit). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, IXDP_MAX_BUNDLES);
	__type(key, struct ixdp_bundle_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ixdp_event_last SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IXDP_XS__MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ixdp_xfrm_stats SEC(".maps");

/* Never read here: userspace replaces entry 0 after a flip because the
 * kernel waits for running BPF programs (synchronize_rcu) after a
 * map-in-map update from a syscall.  That is the grace period after which
 * the old bank may be cleared. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct {
		__uint(type, BPF_MAP_TYPE_ARRAY);
		__uint(max_entries, 1);
		__type(key, __u32);
		__type(value, __u32);
	});
} ixdp_sync SEC(".maps");

#endif /* IXDP_BPF_MAPS_H */
