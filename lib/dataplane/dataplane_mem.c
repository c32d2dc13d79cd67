// SPDX-License-Identifier: GPL-2.0-only
/*
 * dataplane_mem.c - what the dataplane's maps cost: per CPU and shared.
 *
 * A map costs what it holds at its maximum: max_entries times its key and
 * value, each rounded up to 8 bytes as the kernel stores them.  Per-CPU
 * maps hold one value per possible CPU; they are what issue 11 bounds to
 * IXDP_PERCPU_BUDGET.  The kernel's own bookkeeping (hash buckets and
 * element headers, the few per-CPU spare elements of a hash) is not
 * counted.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "dataplane/dataplane.h"

static uint64_t round8(uint64_t v)
{
	return (v + 7) & ~(uint64_t)7;
}

bool dp_map_type_percpu(uint32_t type)
{
	return type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_PERCPU_HASH ||
	       type == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
	       type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

void dp_map_cost(uint32_t type, uint32_t key_size, uint32_t value_size,
		 uint32_t max_entries, struct dp_memory *m)
{
	uint64_t n = max_entries;

	switch (type) {
	case BPF_MAP_TYPE_RINGBUF:
		m->bytes_shared += n;			/* max_entries is bytes */
		return;
	case BPF_MAP_TYPE_ARRAY:
	case BPF_MAP_TYPE_ARRAY_OF_MAPS:
		m->bytes_shared += n * round8(value_size);
		return;
	case BPF_MAP_TYPE_PERCPU_ARRAY:
		m->bytes_per_cpu += n * round8(value_size);
		return;
	default:
		if (dp_map_type_percpu(type)) {		/* per-CPU hashes */
			m->bytes_shared += n * round8(key_size);
			m->bytes_per_cpu += n * round8(value_size);
		} else {
			m->bytes_shared += n * (round8(key_size) + round8(value_size));
		}
	}
}

int dp_memory(const char *root, struct dp_memory *m)
{
	char path[600];
	struct dirent *e;
	DIR *d;
	int err = 0;

	memset(m, 0, sizeof(*m));
	snprintf(path, sizeof(path), "%s/maps", root);
	d = opendir(path);
	if (!d)
		return -errno;
	while (!err && (e = readdir(d))) {
		struct bpf_map_info info;
		__u32 len = sizeof(info);
		int fd;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/maps/%s", root, e->d_name);
		fd = bpf_obj_get(path);
		if (fd < 0) {
			err = -errno;
			break;
		}
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			err = -errno;
		else
			dp_map_cost(info.type, info.key_size, info.value_size,
				    info.max_entries, m);
		close(fd);
		m->maps++;
	}
	closedir(d);
	return err;
}
