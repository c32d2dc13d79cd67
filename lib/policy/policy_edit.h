/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * policy_edit.h - one filter added to or deleted from a filter list of a
 * policy file's text (`ipsec-xdp filter add|delete LIST FILTER`, the
 * seeds' `netsh ipsec static add|delete filter`).
 *
 * The edit is made in the text, at the positions the YAML parser reports,
 * so the administrator's comments, order and layout stay; only the
 * filter's item of the list's `filters:` sequence is written or removed.
 * The edit is also made in the stored text's model, which is the edited
 * policy.  Before the text is kept it is parsed again and must read as
 * that model (policy_edit_check()), exactly the old one with that one
 * filter added (at the end of the list) or removed.  Pure: no file is
 * read or written here.
 */
#ifndef IXDP_POLICY_EDIT_H
#define IXDP_POLICY_EDIT_H

#include <stddef.h>
#include "policy/policy.h"

enum policy_edit_op { POLICY_FILTER_ADD, POLICY_FILTER_DELETE };

/* What policy_edit_filter returns besides 0. */
enum {
	POLICY_EDIT_BAD = -1,	/* the request: unknown list, a filter that
				 * does not parse, a duplicate, not found, the
				 * last filter of a list, an invalid result */
	POLICY_EDIT_FAIL = -2,	/* the stored text does not parse, it has a
				 * form the edit cannot handle, out of memory */
};

struct policy_edit {
	char *text;		/* the edited file, NUL-terminated (malloc) */
	size_t len;
	size_t index;		/* 0-based: where the filter was added, or was */
	size_t nfilters;	/* the list's filters after the edit */
	char *filter;		/* FILTER as one flow mapping (malloc) */
	/* The edited policy.  Until checked, the stored text's model with
	 * the change made: what the parser would make of text, but for the
	 * positions of the added filter and of what follows the change in
	 * the file (so a message about them must come from the checked
	 * model).  Once checked, text as policy_parse_buffer() reads it. */
	struct policy_file *pf;
	bool checked;		/* text was read back as pf (policy_edit_check) */
};

/*
 * Add FILTER (YAML text: a mapping with a filter's keys, as in a policy
 * file, e.g. "{src: me, dst: 10.1.2.3, protocol: tcp, dst-port: 5432}")
 * at the end of filter list `list` of the policy text (len bytes, `name`
 * for messages), or delete the filter of that list equal to it.  Two
 * filters are equal when their parsed src, dst, protocol, ports and
 * mirrored are (10.0.0.1 is 10.0.0.1/32, tcp is 6); the description is
 * not compared.  0 and *out (free with policy_edit_free), or
 * POLICY_EDIT_BAD / POLICY_EDIT_FAIL and err.
 */
int policy_edit_filter(const char *name, const char *text, size_t len,
		       enum policy_edit_op op, const char *list,
		       const char *filter, struct policy_edit *out,
		       char *err, size_t errlen);

/*
 * Read e->text back (as `name`): it must be e->pf, which it then replaces
 * (e->checked).  0; POLICY_EDIT_BAD when the text is not a valid policy;
 * POLICY_EDIT_FAIL when it reads as another one (a form of the list the
 * edit does not handle).  policy_edit_filter() has already done it when
 * the parser could refuse what the model shows no reason to refuse (a
 * tunnel rule's list, a file over the size limit): for any other edit
 * only a wrong text edit can fail it, so the caller may put e->pf in
 * force first and check before it keeps the text.
 */
int policy_edit_check(const char *name, struct policy_edit *e, char *err,
		      size_t errlen);
void policy_edit_free(struct policy_edit *e);

/*
 * A stored text kept read, for many edits without reading it again (the
 * daemon's copy of the policy in force, ike/daemon/daemon_agent.h): the
 * text, its nodes (the positions the text edit needs) and its model.
 * policy_text_read(): 0, or -1 and perr as policy_parse_buffer() says it.
 */
struct policy_text;
int policy_text_read(const char *name, const char *text, size_t len,
		     struct policy_text **out, struct policy_error *perr);
const struct policy_file *policy_text_model(const struct policy_text *t);
/* Is text (len bytes) the kept text, byte for byte? */
bool policy_text_is(const struct policy_text *t, const char *text, size_t len);
void policy_text_free(struct policy_text *t);

/*
 * policy_edit_filter() on a text kept read: the same checks, the same
 * edited text in out (out->pf stays NULL), and the change made in t's
 * model itself, which *undo puts back (policy_edit_undo(), always called
 * before t is edited or read as the stored text again).  0;
 * POLICY_EDIT_BAD / POLICY_EDIT_FAIL with err; or POLICY_EDIT_TEXT with
 * err: only reading the edited text back can tell whether the edit is
 * valid (a tunnel rule's list, the file's size: policy_edit_check()).
 * On failure t is unchanged.
 */
enum { POLICY_EDIT_TEXT = -3 };
struct policy_model_edit {
	struct filter_list *list;	/* NULL: nothing to undo */
	enum policy_edit_op op;
	size_t index;			/* where the filter was added, or was */
	struct filter_spec removed;	/* delete: the filter taken out */
};
int policy_edit_kept(struct policy_text *t, enum policy_edit_op op,
		     const char *list, const char *filter, struct policy_edit *out,
		     struct policy_model_edit *undo, char *err, size_t errlen);
void policy_edit_undo(struct policy_model_edit *undo);

/* Two filters select the same packets as written (description aside). */
bool filter_spec_same(const struct filter_spec *a, const struct filter_spec *b);

#endif /* IXDP_POLICY_EDIT_H */
