// SPDX-License-Identifier: GPL-2.0-only
/*
 * dataplane_maps.c - the one way the dataplane reads and writes its maps in
 * bulk: batched syscalls (with a per-entry fallback for kernels without
 * batch operations), and for the arrays declared BPF_F_MMAPABLE
 * (bpf/maps.h) copies through the map mapped into the process.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane/dataplane.h"
#include "dataplane/dataplane_internal.h"

bool dp_batch_unsupported(int err)
{
	return err == -EINVAL || err == -ENOTSUPP || err == -EOPNOTSUPP;
}

/*
 * A long read or write of an array the maps declare BPF_F_MMAPABLE
 * (bpf/maps.h: the tree, the slots' ixdp_info and ixdp_tmatch, the order
 * and positions, the cache generations, the port classes) is a
 * copy through the map's memory, mapped: the kernel's batch operations on
 * an array copy one entry per step, about 0.1 us each, and an apply over
 * a 10000-filter tree read back some 300000 of them.  Entries lie
 * round_up(value_size, 8) apart.  A write through the mapping is what an
 * update of an array entry is (a copy into the entry), and the flip that
 * makes a bank live is a syscall after it.
 */
#define MAPPED_MIN 256

struct mapped_array {
	char *mem;
	size_t bytes, stride, entries;
};

/* The map of fd mapped (prot), or -1: not mmapable, too short a range to
 * pay, or mmap refused; the caller then uses the syscalls. */
static int map_array(int fd, __u32 start, size_t n, size_t esize, int prot,
		     struct mapped_array *ma)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	memset(&info, 0, sizeof(info));
	if (n < MAPPED_MIN || bpf_obj_get_info_by_fd(fd, &info, &len) ||
	    info.type != BPF_MAP_TYPE_ARRAY || !(info.map_flags & BPF_F_MMAPABLE) ||
	    info.value_size != esize || (uint64_t)start + n > info.max_entries)
		return -1;
	ma->stride = ((size_t)info.value_size + 7) & ~(size_t)7;
	ma->entries = info.max_entries;
	ma->bytes = ((size_t)info.max_entries * ma->stride + page - 1) & ~(page - 1);
	ma->mem = mmap(NULL, ma->bytes, prot, MAP_SHARED, fd, 0);
	return ma->mem == MAP_FAILED ? -1 : 0;
}

static int array_read_mapped(int fd, __u32 start, size_t n, void *vals,
			     size_t esize)
{
	struct mapped_array ma;

	if (map_array(fd, start, n, esize, PROT_READ, &ma))
		return -1;
	for (size_t i = 0; i < n; i++)
		memcpy((char *)vals + i * esize, ma.mem + (start + i) * ma.stride, esize);
	munmap(ma.mem, ma.bytes);
	return 0;
}

/* vals[i] into entry keys[i] (32-bit keys) through the mapping. */
static int pairs_write_mapped(int fd, const __u32 *keys, const void *vals,
			      size_t n, size_t vsize)
{
	struct mapped_array ma;

	if (map_array(fd, 0, n, vsize, PROT_READ | PROT_WRITE, &ma))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (keys[i] >= ma.entries) {    /* the syscalls say why */
			munmap(ma.mem, ma.bytes);
			return -1;
		}
	for (size_t i = 0; i < n; i++)
		memcpy(ma.mem + (size_t)keys[i] * ma.stride, (const char *)vals + i * vsize,
		       vsize);
	munmap(ma.mem, ma.bytes);
	return 0;
}

static int array_write_mapped(int fd, __u32 start, size_t n, const void *vals,
			      size_t esize)
{
	struct mapped_array ma;

	if (map_array(fd, start, n, esize, PROT_READ | PROT_WRITE, &ma))
		return -1;
	for (size_t i = 0; i < n; i++)
		memcpy(ma.mem + (start + i) * ma.stride, (const char *)vals + i * esize, esize);
	munmap(ma.mem, ma.bytes);
	return 0;
}

/* Write n (key, value) pairs: through the mapping (a long write of an
 * mmapable array with 32-bit keys), else one batch syscall, or one by one
 * where the kernel has no batch operation for the map. */
int dp_update_pairs(int fd, const void *keys, const void *vals, size_t n,
		    size_t ksize, size_t vsize)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);
	__u32 count = (__u32)n;
	int err;

	if (!n)
		return 0;
	if (ksize == sizeof(__u32) && !pairs_write_mapped(fd, keys, vals, n, vsize))
		return 0;
	err = bpf_map_update_batch(fd, keys, vals, &count, &opts);
	if (!err || !dp_batch_unsupported(err))
		return err;
	for (size_t i = 0; i < n; i++) {
		err = bpf_map_update_elem(fd, (const char *)keys + i * ksize,
					  (const char *)vals + i * vsize, BPF_ANY);
		if (err)
			return err;
	}
	return 0;
}

/* Array slots [start, start + n) = vals (esize bytes each as userspace sees
 * them: for per-CPU maps, one value per possible CPU). */
int dp_array_write(int fd, __u32 start, size_t n, const void *vals,
		   size_t esize)
{
	__u32 keys[CHUNK];

	if (!array_write_mapped(fd, start, n, vals, esize))
		return 0;

	for (size_t off = 0; off < n; off += CHUNK) {
		size_t c = n - off < CHUNK ? n - off : CHUNK;
		int err;

		for (size_t i = 0; i < c; i++)
			keys[i] = start + (__u32)(off + i);
		err = dp_update_pairs(fd, keys, (const char *)vals + off * esize, c,
				      sizeof(__u32), esize);
		if (err)
			return err;
	}
	return 0;
}

int dp_update_pairs_chunked(int fd, const __u32 *keys, const __u32 *vals, size_t n)
{
	for (size_t off = 0; off < n; off += CHUNK) {
		int err = dp_update_pairs(fd, keys + off, vals + off,
					  n - off < CHUNK ? n - off : CHUNK,
					  sizeof(__u32), sizeof(__u32));
		if (err)
			return err;
	}
	return 0;
}

static int array_read_slow(int fd, __u32 start, size_t n, void *vals,
			   size_t esize)
{
	for (size_t i = 0; i < n; i++) {
		__u32 k = start + (__u32)i;
		int err = bpf_map_lookup_elem(fd, &k, (char *)vals + i * esize);

		if (err)
			return err;
	}
	return 0;
}

/* vals = array slots [start, start + n). */
int dp_array_read(int fd, __u32 start, size_t n, void *vals, size_t esize)
{
	__u32 keys[CHUNK];

	if (!array_read_mapped(fd, start, n, vals, esize))
		return 0;

	for (size_t off = 0; off < n; off += CHUNK) {
		size_t c = n - off < CHUNK ? n - off : CHUNK;
		__u32 first = start + (__u32)off, prev = first - 1, next;
		__u32 count = (__u32)c;
		char *dst = (char *)vals + off * esize;
		/* A batch starts after its in_batch key, or at slot 0. */
		int err = bpf_map_lookup_batch(fd, first ? &prev : NULL, &next,
					       keys, dst, &count, NULL);

		if (err == -ENOENT && count == c)
			err = 0;        /* the range ends at the last slot */
		if (dp_batch_unsupported(err))
			err = array_read_slow(fd, first, c, dst, esize);
		if (err)
			return err;
	}
	return 0;
}

int dp_read_u32(int fd, __u32 idx, __u32 *v)
{
	return bpf_map_lookup_elem(fd, &idx, v);
}

int dp_write_u32(int fd, __u32 idx, __u32 v)
{
	return bpf_map_update_elem(fd, &idx, &v, BPF_ANY);
}

size_t dp_percpu_size(size_t vsize)
{
	int n = libbpf_num_possible_cpus();

	return ((vsize + 7) & ~(size_t)7) * (size_t)(n > 0 ? n : 1);
}
