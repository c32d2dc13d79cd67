// SPDX-License-Identifier: GPL-2.0-only
/* agent_rollback.c - see agent_rollback.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util_atomic_file.h"
#include "agent/agent.h"
#include "agent/agent_rollback.h"

void agent_rollback_paths(const char *confdir, char *copy, char *none,
			  size_t len)
{
	snprintf(copy, len, "%s/policy.yaml.rollback", confdir);
	snprintf(none, len, "%s/policy.yaml.rollback-none", confdir);
}

enum agent_kept agent_rollback_kept(const char *confdir)
{
	char copy[PATH_MAX], none[PATH_MAX];
	struct stat st;

	agent_rollback_paths(confdir, copy, none, sizeof(copy));
	if (!lstat(copy, &st))
		return AGENT_KEPT_COPY;
	return lstat(none, &st) ? AGENT_KEPT_NOTHING : AGENT_KEPT_NONE;
}

/* The directory's entries made durable (a rename, an unlink). */
static int sync_dir(const char *dir, char *err, size_t errlen)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	rc = fd < 0 ? -1 : fsync(fd);
	if (rc)
		snprintf(err, errlen, "cannot sync %s: %s", dir, strerror(errno));
	if (fd >= 0)
		close(fd);
	return rc;
}

/* The stored policy's bytes, mode and group into copy. */
static int save_copy(const char *policy, const char *copy, char *err,
		     size_t errlen)
{
	char why[600], *text;
	struct stat st;
	size_t len;
	int rc;

	if (read_file_whole(policy, STORED_POLICY_MAX, &text, &len, why,
			    sizeof(why))) {
		snprintf(err, errlen, "cannot read the stored policy: %s", why);
		return -1;
	}
	if (stat(policy, &st)) {
		snprintf(err, errlen, "%s: %s", policy, strerror(errno));
		free(text);
		return -1;
	}
	rc = write_file_atomic_group(copy, text, len, st.st_mode & 07777,
				     st.st_gid, err, errlen);
	free(text);
	return rc;
}

int agent_rollback_save(const char *confdir, char *err, size_t errlen)
{
	char policy[PATH_MAX], copy[PATH_MAX], none[PATH_MAX];
	enum agent_kept kept = agent_rollback_kept(confdir);

	agent_rollback_paths(confdir, copy, none, sizeof(copy));
	if (kept != AGENT_KEPT_NOTHING) {
		snprintf(err, errlen, "a policy already waits for `ipsec-xdp "
			 "policy confirm` (%s is there)",
			 kept == AGENT_KEPT_COPY ? copy : none);
		return -1;
	}
	agent_assigned_path(confdir, policy, sizeof(policy));
	if (access(policy, F_OK) && errno == ENOENT)
		return write_file_atomic(none, "", 0, 0600, err, errlen);
	return save_copy(policy, copy, err, errlen);
}

static int unlink_gone(const char *path, char *err, size_t errlen)
{
	if (unlink(path) && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove %s: %s", path,
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* The copy renamed over policy: only a regular file of ours (root's). */
static int put_copy_back(const char *copy, const char *policy, char *err,
			 size_t errlen)
{
	struct stat st;

	if (lstat(copy, &st)) {
		snprintf(err, errlen, "%s: %s", copy, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s is not a regular file of uid %u: not "
			 "put back", copy, (unsigned)geteuid());
		return -1;
	}
	if (rename(copy, policy)) {
		snprintf(err, errlen, "cannot rename %s to %s: %s", copy,
			 policy, strerror(errno));
		return -1;
	}
	return 0;
}

int agent_rollback_restore(const char *confdir, bool *had_policy, char *err,
			   size_t errlen)
{
	char policy[PATH_MAX], copy[PATH_MAX], none[PATH_MAX];
	enum agent_kept kept = agent_rollback_kept(confdir);

	if (kept == AGENT_KEPT_NOTHING)
		return AGENT_ROLLBACK_NOTHING;
	agent_rollback_paths(confdir, copy, none, sizeof(copy));
	agent_assigned_path(confdir, policy, sizeof(policy));
	*had_policy = kept == AGENT_KEPT_COPY;
	if (*had_policy ? put_copy_back(copy, policy, err, errlen)
			: unlink_gone(policy, err, errlen))
		return -1;
	if (unlink_gone(none, err, errlen))
		return -1;
	return sync_dir(confdir, err, errlen);
}

int agent_rollback_drop(const char *confdir, char *err, size_t errlen)
{
	char copy[PATH_MAX], none[PATH_MAX];

	agent_rollback_paths(confdir, copy, none, sizeof(copy));
	if (unlink_gone(copy, err, errlen) || unlink_gone(none, err, errlen))
		return -1;
	return sync_dir(confdir, err, errlen);
}
