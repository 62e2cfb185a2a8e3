/* test-audit: records, chain, resume, torn tail, rotation, checkpoints,
 * concurrent appends and write failures of the audit log writer. */
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "audit.h"
#include "audit-key.h"
#include "audit-read.h"
#include "audit-record.h"
#include "audit-verify.h"
#include "config.h"
#include "verdict.h"

static char	 dir[256];
static char	 path[300];

static struct policy_conf pol = { .name = "default" };
/* a fixed text HMAC secret, meta kept up to 4096 bytes, none redacted */
static struct audit_privacy priv = { .hmac_key = { 1, 2, 3 },
    .meta_max = 4096 };

static int
setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test-audit.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	return 0;
}

static int
teardown(void **state)
{
	char	 cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static struct audit_conf
conf(void)
{
	struct audit_conf c;

	memset(&c, 0, sizeof(c));
	c.enabled = 1;
	c.path = path;
	c.text = AUDIT_TEXT_HASH;
	c.fsync = AUDIT_FSYNC_NEVER;
	c.on_failure = AUDIT_FAIL_BLOCK;
	c.key = "";
	c.checkpoint_every = 0;
	return c;
}

/* A request with a rule match on "bob@corp.io" and classifier scores. */
static const char *TEXT = "write to bob@corp.io today";
static const char *labels[2] = { "hate", "pii" };

static void
mkreq(struct request *req, struct result *res, json_t *id)
{
	static _Thread_local struct match m;	/* one per worker thread */

	memset(req, 0, sizeof(*req));
	memset(res, 0, sizeof(*res));
	req->id = id;
	req->text = TEXT;
	req->len = strlen(TEXT);
	req->peer.pid = 42;
	req->peer.uid = 1000;
	req->peer.gid = 100;
	res->policy = &pol;
	res->verdict = VERDICT_REWRITE;
	m.rule = "pii.email";
	m.category = "pii";
	m.action = ACTION_REWRITE;
	m.start = 9;
	m.end = 20;
	res->matches.v = &m;
	res->matches.n = 1;
	res->n_scores = 2;
	res->labels[0] = labels[0];
	res->labels[1] = labels[1];
	res->scores[0] = 0.01f;
	res->scores[1] = 0.5f;
	res->stage[STAGE_RULES] = STAGE_OK;
	res->stage[STAGE_CLASSIFIER] = STAGE_OK;
	res->elapsed_us = 77;
}

/* Append N records; return the last audit_seq. */
static uint64_t
append_n(struct audit *a, int n)
{
	struct request	 req;
	struct result	 res;
	uint64_t	 last = 0;
	int		 i;

	for (i = 0; i < n; i++) {
		json_t *id = json_integer(i);

		mkreq(&req, &res, id);
		assert_int_equal(audit_append(a, &req, &res, "sha256:v1"), 0);
		assert_true(res.audit_seq > last);
		last = res.audit_seq;
		json_decref(id);
	}
	return last;
}

/* Verify FILES (NULL-terminated) with PK; fill R. */
static int
verify(const char **files, const unsigned char *pk, int flags,
    struct audit_verify_result *r)
{
	struct audit_verify	*v;
	FILE			*f;
	char			*line = NULL;
	size_t			 cap = 0;
	ssize_t			 n;
	int			 rc, stop = 0;

	assert_non_null(v = audit_verify_new(pk, flags));
	for (; *files != NULL && !stop; files++) {
		assert_non_null(f = fopen(*files, "r"));
		audit_verify_file(v, *files);
		while (!stop && (n = getline(&line, &cap, f)) != -1) {
			int complete = n > 0 && line[n - 1] == '\n';

			stop = audit_verify_line(v, line, (size_t)n - complete,
			    complete);
		}
		fclose(f);
	}
	free(line);
	rc = audit_verify_finish(v, r);
	audit_verify_free(v);
	return rc;
}

static int
verify1(const unsigned char *pk, struct audit_verify_result *r)
{
	const char *files[] = { path, NULL };

	return verify(files, pk, 0, r);
}

/* Line N (1-based) of PATH as a parsed object. */
static json_t *
line_json(const char *p, int n)
{
	FILE	*f;
	char	*line = NULL;
	size_t	 cap = 0;
	json_t	*o = NULL;
	int	 i;

	assert_non_null(f = fopen(p, "r"));
	for (i = 1; getline(&line, &cap, f) != -1; i++)
		if (i == n || (n < 0 && 0)) {
			o = json_loads(line, 0, NULL);
			break;
		}
	fclose(f);
	free(line);
	return o;
}

/* Byte offset of the start of line N (1-based) of file P. */
static off_t
line_offset(const char *p, int n)
{
	FILE	*f;
	off_t	 off = 0;
	int	 ch, line = 1;

	assert_non_null(f = fopen(p, "r"));
	while (line < n && (ch = getc(f)) != EOF) {
		off++;
		if (ch == '\n')
			line++;
	}
	fclose(f);
	return off;
}

static int
count_lines(const char *p)
{
	FILE	*f;
	int	 c, n = 0;

	assert_non_null(f = fopen(p, "r"));
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void
test_record_fields(void **state)
{
	struct request	 req;
	struct result	 res;
	json_t		*id = json_string("r1"), *b, *meta;
	char		*s, *line, h[AUDIT_HASH_SIZE];
	size_t		 len, llen;

	mkreq(&req, &res, id);
	meta = json_pack("{s:s}", "session", "abc");
	req.meta = meta;
	b = audit_record_body(&req, &res, "sha256:v1", AUDIT_TEXT_REDACTED,
	    &priv);
	assert_non_null(b);
	assert_string_equal(json_string_value(json_object_get(b, "text")),
	    "write to [pii] today");
	assert_string_equal(json_string_value(json_object_get(b, "verdict")),
	    "rewrite");
	assert_int_equal(json_integer_value(json_object_get(
	    json_object_get(b, "peer"), "uid")), 1000);
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(b, "meta"), "session")), "abc");
	/* a keyed hash: a guess cannot be checked without the secret */
	audit_hmac_hex(priv.hmac_key, TEXT, strlen(TEXT), h);
	assert_string_equal(json_string_value(json_object_get(b,
	    "text_hmac")), h);
	audit_hash(TEXT, strlen(TEXT), h);
	assert_non_null(s = json_dumps(b, 0));
	assert_null(strstr(s, h + 7));
	free(s);
	assert_null(json_object_get(b, "text_sha256"));
	assert_non_null(s = audit_body_dump(b, &len));
	assert_non_null(line = audit_line_make(7, "2026-01-02T03:04:05.000006Z",
	    s, len, AUDIT_HASH_ZERO, &llen));
	/* seq first, ts second, prev last, one newline at the end */
	assert_memory_equal(line, "{\"seq\":7,\"ts\":\"2026-01-02T03:04:05."
	    "000006Z\",\"id\":\"r1\",", 50);
	assert_int_equal(line[llen - 1], '\n');
	assert_non_null(strstr(line, ",\"prev\":\"" AUDIT_HASH_ZERO "\"}\n"));
	assert_null(memchr(line, '\n', llen - 1));
	assert_non_null(strstr(line, "\"hate\":0.01,"));
	free(line);
	free(s);
	json_decref(b);

	b = audit_record_body(&req, &res, "v", AUDIT_TEXT_FULL,
	    &priv);
	assert_string_equal(json_string_value(json_object_get(b, "text")), TEXT);
	json_decref(b);
	b = audit_record_body(&req, &res, "v", AUDIT_TEXT_NONE,
	    &priv);
	assert_null(json_object_get(b, "text"));
	assert_non_null(json_object_get(b, "text_hmac"));
	json_decref(b);
	/* the policy's audit_text overrides the log's */
	pol.has_audit_text = 1;
	pol.audit_text = AUDIT_TEXT_FULL;
	{
		struct audit_conf c = conf();

		assert_int_equal(audit_text_mode(&c, &pol), AUDIT_TEXT_FULL);
		pol.has_audit_text = 0;
		assert_int_equal(audit_text_mode(&c, &pol), AUDIT_TEXT_HASH);
	}
	json_decref(meta);
	json_decref(id);
}

/* An error answer, and a text that is not UTF-8: hash only, no failure. */
static void
test_record_error_and_bad_utf8(void **state)
{
	struct request	 req;
	struct result	 res;
	json_t		*b;

	mkreq(&req, &res, NULL);
	req.text = "bad \xff byte";
	req.len = strlen(req.text);
	res.policy = NULL;
	req.policy = "nosuch";
	res.error_code = "unknown_policy";
	snprintf(res.error_msg, sizeof(res.error_msg), "no policy");
	b = audit_record_body(&req, &res, "v", AUDIT_TEXT_FULL,
	    &priv);
	assert_non_null(b);
	assert_null(json_object_get(b, "verdict"));
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(b, "error"), "code")), "unknown_policy");
	assert_string_equal(json_string_value(json_object_get(b, "policy")),
	    "nosuch");
	assert_string_equal(json_string_value(json_object_get(b,
	    "text_mode")), "hash");
	assert_null(json_object_get(b, "text"));
	json_decref(b);
	b = audit_record_body(&req, &res, "v", AUDIT_TEXT_REDACTED,
	    &priv);
	assert_non_null(b);
	assert_null(json_object_get(b, "text"));
	json_decref(b);
}

/* meta: keys redacted at any depth, and dropped past the bound. */
static void
test_meta_privacy(void **state)
{
	struct request		 req;
	struct result		 res;
	struct audit_privacy	 pv = priv;
	char			*keys[] = { "email", "token" };
	json_t			*b, *m;
	char			*s;

	mkreq(&req, &res, NULL);
	req.meta = json_pack("{s:s, s:s, s:{s:s, s:[{s:s}]}}", "session", "abc",
	    "email", "bob@corp.io", "user", "name", "bob", "list", "token",
	    "sekrit");
	pv.redact = keys;
	pv.n_redact = 2;
	assert_non_null(b = audit_record_body(&req, &res, "v", AUDIT_TEXT_NONE,
	    &pv));
	m = json_object_get(b, "meta");
	assert_string_equal(json_string_value(json_object_get(m, "session")),
	    "abc");
	assert_non_null(s = json_dumps(b, 0));
	assert_null(strstr(s, "bob@corp.io"));
	assert_null(strstr(s, "sekrit"));
	assert_non_null(strstr(s, "\"email\": \"[redacted]\""));
	free(s);
	/* the request's own meta is left as it was */
	assert_string_equal(json_string_value(json_object_get(req.meta,
	    "email")), "bob@corp.io");
	assert_null(json_object_get(b, "meta_dropped"));
	json_decref(b);
	/* larger than meta_max: dropped, its size said */
	pv.meta_max = 20;
	assert_non_null(b = audit_record_body(&req, &res, "v", AUDIT_TEXT_NONE,
	    &pv));
	assert_true(json_is_null(json_object_get(b, "meta")));
	assert_true(json_integer_value(json_object_get(b, "meta_dropped")) >
	    20);
	json_decref(b);
	/* 0: never kept */
	pv.meta_max = 0;
	assert_non_null(b = audit_record_body(&req, &res, "v", AUDIT_TEXT_NONE,
	    &pv));
	assert_true(json_is_null(json_object_get(b, "meta")));
	json_decref(b);
	json_decref(req.meta);
}

/* The text HMAC secret: created once, kept, refused when others read it. */
static void
test_hmac_key(void **state)
{
	struct audit_conf	 c = conf();
	struct audit		*a;
	char			 kp[400];
	unsigned char		 k1[AUDIT_HMAC_KEY_SIZE], k2[AUDIT_HMAC_KEY_SIZE];
	struct stat		 st;
	json_t			*o;
	const char		*id;

	snprintf(kp, sizeof(kp), "%s.hmac-key", path);
	assert_int_equal(audit_hmac_key_load(kp, 0, k1), -1);
	assert_non_null(a = audit_open(&c));
	audit_close(a);
	assert_int_equal(stat(kp, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(audit_hmac_key_load(kp, 0, k1), 0);
	o = line_json(path, 1);
	assert_non_null(id = json_string_value(json_object_get(o,
	    "hmac_key_id")));
	assert_int_equal(strlen(id), 16);
	/* the same secret at the next start */
	assert_non_null(a = audit_open(&c));
	audit_close(a);
	assert_int_equal(audit_hmac_key_load(kp, 1, k2), 0);
	assert_memory_equal(k1, k2, sizeof(k1));
	json_decref(o);
	assert_int_equal(chmod(kp, 0640), 0);
	assert_null(audit_open(&c));
}

/* The rotated files of the log, oldest first, then the log; in FILES. */
static size_t
log_files(const char **files, size_t max, glob_t *g)
{
	char	 pat[400];
	size_t	 i, n = 0;

	snprintf(pat, sizeof(pat), "%s-*", path);
	assert_int_equal(glob(pat, 0, NULL, g), 0);
	for (i = 0; i < g->gl_pathc && n + 2 < max; i++)
		files[n++] = g->gl_pathv[i];
	files[n++] = path;
	files[n] = NULL;
	return n;
}

/* retain_days: old rotated files go, the rest verifies from its start. */
static void
test_retention(void **state)
{
	struct audit_conf		 c = conf();
	struct audit			*a;
	struct audit_verify_result	 r;
	struct timespec			 old[2];
	char				 first[400], cmd[500];
	const char			*files[16];
	glob_t				 g;
	size_t				 n;

	c.rotate_bytes = 1;		/* a new file after every record */
	assert_non_null(a = audit_open(&c));
	append_n(a, 3);
	audit_close(a);
	n = log_files(files, 16, &g);
	assert_int_equal(n, 4);
	assert_int_equal(verify(files, NULL, 0, &r), 0);
	/* the oldest rotated file was last written 40 days ago */
	snprintf(first, sizeof(first), "%s", files[0]);
	globfree(&g);
	old[0].tv_sec = old[1].tv_sec = time(NULL) - 40 * 86400;
	old[0].tv_nsec = old[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, first, old, 0), 0);
	c.retain_days = 30;
	assert_non_null(a = audit_open(&c));
	audit_close(a);
	assert_int_equal(access(first, F_OK), -1);
	/* the rest verifies from the rotate record that starts its oldest
	 * file, which names the removed one; not as a whole chain */
	n = log_files(files, 16, &g);
	assert_int_equal(n, 3);
	assert_int_equal(verify(files, NULL, AUDIT_VERIFY_MIDDLE, &r), 0);
	assert_int_equal(verify(files, NULL, 0, &r), -1);
	assert_string_equal(r.kind, "dropped");
	globfree(&g);
	/* the log says what was removed */
	snprintf(cmd, sizeof(cmd), "grep -q '\"event\":\"expire\",\""
	    "retain_days\":30,\"removed\":\\[\"%s\"' '%s'",
	    strrchr(first, '/') + 1, path);
	assert_int_equal(system(cmd), 0);
}

static void
test_ts_parse(void **state)
{
	int64_t	 us;
	char	 now[AUDIT_TS_SIZE];

	assert_int_equal(audit_ts_parse("1970-01-01", &us), 0);
	assert_int_equal(us, 0);
	assert_int_equal(audit_ts_parse("1970-01-01T00:00:01.5Z", &us), 0);
	assert_int_equal(us, 1500000);
	assert_int_equal(audit_ts_parse("1970-01-01T02:00:00+02:00", &us), 0);
	assert_int_equal(us, 0);
	assert_int_equal(audit_ts_parse("1970-01-01T00:01", &us), 0);
	assert_int_equal(us, 60000000);
	assert_int_equal(audit_ts_parse("1970-13-01", &us), -1);
	assert_int_equal(audit_ts_parse("yesterday", &us), -1);
	assert_int_equal(audit_ts_parse("1970-01-01T00:00:00Zjunk", &us), -1);
	audit_ts_now(now);
	assert_int_equal(strlen(now), 27);
	assert_int_equal(audit_ts_parse(now, &us), 0);
}

static void
test_chain_and_resume(void **state)
{
	struct audit_conf		 c = conf();
	struct audit			*a;
	struct audit_verify_result	 r;
	json_t				*o;
	uint64_t			 last;

	assert_non_null(a = audit_open(&c));
	last = append_n(a, 5);
	assert_int_equal(last, 6);		/* seq 1 is the start event */
	audit_close(a);
	assert_int_equal(verify1(NULL, &r), 0);
	assert_int_equal(r.records, 7);		/* start, 5, stop */
	o = line_json(path, 1);
	assert_string_equal(json_string_value(json_object_get(o, "event")),
	    "start");
	assert_string_equal(json_string_value(json_object_get(o, "prev")),
	    AUDIT_HASH_ZERO);
	json_decref(o);

	/* resume: seq continues after the stop event */
	assert_non_null(a = audit_open(&c));
	last = append_n(a, 2);
	assert_int_equal(last, 10);		/* 7 stop, 8 start, 9, 10 */
	audit_close(a);
	assert_int_equal(verify1(NULL, &r), 0);
	assert_int_equal(r.last_seq, 11);
	assert_int_equal(count_lines(path), 11);
}

/* The start record says how the previous run ended; reloads are records. */
static void
test_previous_end_and_reload(void **state)
{
	struct audit_conf		 c = conf();
	struct audit			*a;
	struct audit_verify_result	 r;
	unsigned int			 uids[2] = { 0, 1001 };
	json_t				*o;
	off_t				 cut;
	int				 n;

	assert_non_null(a = audit_open(&c));
	o = line_json(path, 1);
	assert_string_equal(json_string_value(json_object_get(o,
	    "previous_end")), "new");
	assert_int_equal(json_integer_value(json_object_get(o, "format")),
	    AUDIT_FORMAT);
	json_decref(o);
	append_n(a, 3);
	assert_int_equal(audit_reload(a, 1, NULL, 0, "sha256:old",
	    "sha256:new"), 0);
	assert_int_equal(audit_reload(a, 0, uids, 2, "sha256:new", NULL), 0);
	audit_close(a);
	o = line_json(path, 5);
	assert_string_equal(json_string_value(json_object_get(o, "event")),
	    "reload");
	assert_true(json_is_true(json_object_get(o, "ok")));
	assert_string_equal(json_string_value(json_object_get(o, "by")),
	    "signal");
	assert_string_equal(json_string_value(json_object_get(o,
	    "new_version")), "sha256:new");
	json_decref(o);
	o = line_json(path, 6);
	assert_true(json_is_false(json_object_get(o, "ok")));
	assert_int_equal(json_integer_value(json_object_get(json_array_get(
	    json_object_get(o, "by"), 1), "uid")), 1001);
	assert_true(json_is_null(json_object_get(o, "new_version")));
	json_decref(o);
	n = count_lines(path);			/* ... 7 stop */

	/* a clean stop is noted as such */
	assert_non_null(a = audit_open(&c));
	audit_close(a);
	o = line_json(path, n + 1);
	assert_string_equal(json_string_value(json_object_get(o,
	    "previous_end")), "clean");
	json_decref(o);
	assert_int_equal(verify1(NULL, &r), 0);
	assert_true(r.clean_end);
	assert_int_equal(r.unclean, 0);

	/* the stop record cut from the end: the next start says unclean */
	n = count_lines(path);
	cut = line_offset(path, n);
	assert_int_equal(truncate(path, cut), 0);
	assert_int_equal(verify1(NULL, &r), 0);
	assert_false(r.clean_end);
	assert_non_null(a = audit_open(&c));
	audit_close(a);
	o = line_json(path, n);
	assert_string_equal(json_string_value(json_object_get(o,
	    "previous_end")), "unclean");
	json_decref(o);
	assert_int_equal(verify1(NULL, &r), 0);
	assert_int_equal(r.unclean, 1);
}

static void
test_torn_tail(void **state)
{
	struct audit_conf		 c = conf();
	struct audit			*a;
	struct audit_verify_result	 r;
	json_t				*o;
	int				 fd;

	assert_non_null(a = audit_open(&c));
	append_n(a, 3);
	audit_close(a);
	/* a write cut short */
	assert_true((fd = open(path, O_WRONLY | O_APPEND)) != -1);
	assert_int_equal(write(fd, "{\"seq\":6,\"ts\":\"20", 17), 17);
	close(fd);
	assert_int_equal(verify1(NULL, &r), -1);
	assert_string_equal(r.kind, "torn");
	assert_int_equal(r.line, 6);

	assert_non_null(a = audit_open(&c));
	append_n(a, 1);
	audit_close(a);
	assert_int_equal(verify1(NULL, &r), 0);
	assert_int_equal(r.torn_sealed, 1);
	o = line_json(path, 7);
	assert_string_equal(json_string_value(json_object_get(o, "event")),
	    "torn_tail");
	assert_int_equal(json_integer_value(json_object_get(o, "torn_bytes")),
	    17);
	assert_int_equal(json_integer_value(json_object_get(o, "seq")), 6);
	json_decref(o);
}

static void
test_missing_newline(void **state)
{
	struct audit_conf		 c = conf();
	struct audit			*a;
	struct audit_verify_result	 r;
	struct stat			 st;

	assert_non_null(a = audit_open(&c));
	append_n(a, 2);
	audit_close(a);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(truncate(path, st.st_size - 1), 0);
	assert_int_equal(verify1(NULL, &r), -1);
	assert_string_equal(r.kind, "torn");
	/* a whole record without its newline is completed, not sealed */
	assert_non_null(a = audit_open(&c));
	audit_close(a);
	assert_int_equal(verify1(NULL, &r), 0);
	assert_int_equal(r.torn_sealed, 0);
	assert_int_equal(r.last_seq, 6);
}

static void
test_garbage_tail_refused(void **state)
{
	struct audit_conf	 c = conf();
	struct audit		*a;
	FILE			*f;

	assert_non_null(a = audit_open(&c));
	audit_close(a);
	assert_non_null(f = fopen(path, "a"));
	fputs("this is not a record\n", f);
	fclose(f);
	assert_null(audit_open(&c));
}

static int
list_rotated(char names[][600], int max)
{
	DIR		*d;
	struct dirent	*e;
	int		 n = 0, i, j;
	char		 tmp[600];

	assert_non_null(d = opendir(dir));
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, "audit.log-", 10) == 0 && n < max)
			snprintf(names[n++], 600, "%s/%s", dir, e->d_name);
	closedir(d);
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (strcmp(names[i], names[j]) > 0) {
				memcpy(tmp, names[i], 600);
				memcpy(names[i], names[j], 600);
				memcpy(names[j], tmp, 600);
			}
	return n;
}

static void
test_rotation(void **state)
{
	struct audit_conf		 c = conf();
	struct audit			*a;
	struct audit_verify_result	 r;
	struct audit_key		 k;
	char				 names[64][600], sk[300];
	const char			*files[66];
	int				 n, i;
	json_t				*o;

	snprintf(sk, sizeof(sk), "%s/key", dir);
	assert_int_equal(audit_key_generate(sk, NULL, 0, &k), 0);
	c.key = sk;
	c.rotate_bytes = 4000;
	assert_non_null(a = audit_open(&c));
	append_n(a, 40);
	audit_close(a);
	n = list_rotated(names, 64);
	assert_true(n >= 3);
	for (i = 0; i < n; i++)
		files[i] = names[i];
	files[n] = path;
	files[n + 1] = NULL;
	assert_int_equal(verify(files, k.pk, 0, &r), 0);
	assert_true(r.checkpoints >= (uint64_t)n);
	/* each rotated file ends with a checkpoint, the next starts with
	 * a rotate event linking to it */
	o = line_json(path, 1);
	assert_string_equal(json_string_value(json_object_get(o, "event")),
	    "rotate");
	json_decref(o);
	/* the newest file alone does not start a chain ... */
	files[0] = path;
	files[1] = NULL;
	assert_int_equal(verify(files, k.pk, 0, &r), -1);
	assert_string_equal(r.kind, "dropped");
	/* ... unless the older files are declared archived */
	assert_int_equal(verify(files, k.pk, AUDIT_VERIFY_MIDDLE, &r), 0);
	/* files out of order */
	if (n >= 2) {
		files[0] = names[1];
		files[1] = names[0];
		files[2] = NULL;
		assert_int_equal(verify(files, NULL, 0, &r), -1);
	}
}

static void
test_checkpoints(void **state)
{
	struct audit_conf		 c = conf();
	struct audit			*a;
	struct audit_verify_result	 r;
	struct audit_key		 k, other;
	char				 sk[300], sk2[300], pub[300];
	unsigned char			 pk[32];
	json_t				*o;
	struct stat			 st;

	snprintf(sk, sizeof(sk), "%s/key", dir);
	snprintf(sk2, sizeof(sk2), "%s/key2", dir);
	snprintf(pub, sizeof(pub), "%s/key.pub", dir);
	assert_int_equal(audit_key_generate(sk, pub, 0, &k), 0);
	assert_int_equal(stat(sk, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* no overwrite without force */
	assert_int_equal(audit_key_generate(sk, NULL, 0, &other), -1);
	assert_int_equal(audit_key_generate(sk2, NULL, 0, &other), 0);
	assert_int_equal(audit_key_read_public(pub, pk), 0);
	assert_memory_equal(pk, k.pk, 32);
	assert_int_equal(audit_key_read_public(k.pubstr, pk), 0);

	c.key = sk;
	c.checkpoint_every = 3;
	assert_non_null(a = audit_open(&c));
	append_n(a, 7);
	audit_close(a);
	/* start, a checkpoint sealing it, 7 records with a checkpoint after
	 * every 3, stop and its checkpoint */
	assert_int_equal(verify1(k.pk, &r), 0);
	assert_int_equal(r.checkpoints, 4);
	assert_int_equal(r.signed_seq, r.last_seq - 1);
	assert_true(r.clean_end);
	o = line_json(path, 2);
	assert_string_equal(json_string_value(json_object_get(o, "reason")),
	    "start");
	json_decref(o);
	o = line_json(path, 6);
	assert_string_equal(json_string_value(json_object_get(o, "event")),
	    "checkpoint");
	assert_string_equal(json_string_value(json_object_get(o, "reason")),
	    "records");
	assert_int_equal(json_integer_value(json_object_get(o, "head_seq")), 5);
	json_decref(o);
	o = line_json(path, 13);
	assert_string_equal(json_string_value(json_object_get(o, "reason")),
	    "stop");
	json_decref(o);
	/* another key is refused */
	assert_int_equal(verify1(other.pk, &r), -1);
	assert_string_equal(r.kind, "signature");
	/* a key readable by others is refused */
	assert_int_equal(chmod(sk, 0644), 0);
	assert_null(audit_open(&c));
	assert_int_equal(chmod(sk, 0600), 0);
	/* not a secret key */
	assert_int_equal(chmod(pub, 0600), 0);
	assert_int_equal(audit_key_load(pub, &other), -1);
}

struct worker_arg {
	struct audit	*a;
	int		 n;
};

static void *
worker(void *p)
{
	struct worker_arg	*w = p;
	struct request		 req;
	struct result		 res;
	int			 i;

	for (i = 0; i < w->n; i++) {
		mkreq(&req, &res, NULL);
		if (audit_append(w->a, &req, &res, "v") != 0)
			return (void *)1;
	}
	return NULL;
}

static void
concurrent(enum audit_fsync mode)
{
	struct audit_conf		 c = conf();
	struct audit			*a;
	struct audit_verify_result	 r;
	pthread_t			 t[4];
	struct worker_arg		 w;
	void				*ret;
	int				 i;

	c.fsync = mode;
	c.fsync_interval_ms = 5;
	assert_non_null(a = audit_open(&c));
	w.a = a;
	w.n = 250;
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker, &w), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &ret), 0);
		assert_null(ret);
	}
	audit_close(a);
	assert_int_equal(verify1(NULL, &r), 0);
	assert_int_equal(r.records, 1002);
	assert_int_equal(count_lines(path), 1002);
}

static void
test_concurrent_interval(void **state)
{
	concurrent(AUDIT_FSYNC_INTERVAL);
}

/* group commit: every append returns after a sync that covers it */
static void
test_concurrent_always(void **state)
{
	concurrent(AUDIT_FSYNC_ALWAYS);
}

/* Writes fail past a file size limit (EFBIG), then succeed again. */
static void
test_write_failure_and_recovery(void **state)
{
	struct audit_conf		 c = conf();
	struct audit			*a;
	struct audit_verify_result	 r;
	struct audit_stats		 st;
	struct request			 req;
	struct result			 res;
	struct rlimit			 old, lim;
	struct stat			 sb, sb2;
	json_t				*o;
	int				 i, n;

	signal(SIGXFSZ, SIG_IGN);
	c.on_failure = AUDIT_FAIL_ALLOW;
	assert_non_null(a = audit_open(&c));
	append_n(a, 2);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)sb.st_size + 100;	/* a partial write */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (i = 0; i < 3; i++) {
		mkreq(&req, &res, NULL);
		assert_int_equal(audit_append(a, &req, &res, "v"), -1);
		assert_int_equal(res.audit_seq, 0);
	}
	/* never half a line: cut back to the last record */
	assert_int_equal(stat(path, &sb2), 0);
	assert_int_equal(sb2.st_size, sb.st_size);
	audit_stats(a, &st);
	assert_int_equal(st.failures, 3);
	assert_int_equal(st.lost, 3);
	assert_true(st.failing);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	mkreq(&req, &res, NULL);
	assert_int_equal(audit_append(a, &req, &res, "v"), 0);
	/* seq 4 is the failure event, 5 this record */
	assert_int_equal(res.audit_seq, 5);
	audit_stats(a, &st);
	assert_false(st.failing);
	audit_close(a);
	assert_int_equal(verify1(NULL, &r), 0);
	o = line_json(path, 4);
	assert_string_equal(json_string_value(json_object_get(o, "event")),
	    "audit_failure");
	n = (int)json_integer_value(json_object_get(o, "failed"));
	assert_int_equal(n, 3);
	assert_int_equal(json_integer_value(json_object_get(o,
	    "answered_allow")), 3);
	json_decref(o);
}

static void
test_reopen_after_rename(void **state)
{
	struct audit_conf		 c = conf();
	struct audit			*a;
	struct audit_verify_result	 r;
	char				 old[320];
	const char			*files[3];
	json_t				*o;

	snprintf(old, sizeof(old), "%s.1", path);
	assert_non_null(a = audit_open(&c));
	append_n(a, 3);
	assert_int_equal(rename(path, old), 0);
	append_n(a, 1);			/* still goes to the renamed file */
	assert_int_equal(audit_reopen(a), 0);
	append_n(a, 2);
	audit_close(a);
	o = line_json(path, 1);
	assert_string_equal(json_string_value(json_object_get(o, "event")),
	    "reopen");
	json_decref(o);
	files[0] = old;
	files[1] = path;
	files[2] = NULL;
	assert_int_equal(verify(files, NULL, 0, &r), 0);
	assert_int_equal(count_lines(old), 5);
}

/* Lines come back whole up to the limit; longer ones are skipped. */
static void
test_reader(void **state)
{
	static const char	 in[] = "short\n0123456789abcdef\n\nlast";
	struct audit_reader	*r;
	const char		*line;
	size_t			 len;
	int			 fd, complete;

	assert_true((fd = memfd_create("t", 0)) != -1);
	assert_int_equal(write(fd, in, sizeof(in) - 1), sizeof(in) - 1);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_non_null(r = audit_reader_new(fd, 8));
	assert_int_equal(audit_reader_next(r, &line, &len, &complete), 1);
	assert_int_equal(len, 5);
	assert_memory_equal(line, "short", 5);
	assert_true(complete);
	assert_int_equal(audit_reader_next(r, &line, &len, &complete), 1);
	assert_null(line);			/* 16 bytes > 8 */
	assert_int_equal(len, 16);
	assert_int_equal(audit_reader_next(r, &line, &len, &complete), 1);
	assert_int_equal(len, 0);
	assert_non_null(line);
	assert_int_equal(audit_reader_next(r, &line, &len, &complete), 1);
	assert_int_equal(len, 4);
	assert_memory_equal(line, "last", 4);
	assert_false(complete);
	assert_int_equal(audit_reader_next(r, &line, &len, &complete), 0);
	assert_int_equal(audit_reader_offset(r), sizeof(in) - 1);
	audit_reader_free(r);
	close(fd);
}

/* A line far longer than the buffer is skipped in pieces, then reading
 * goes on. */
static void
test_reader_huge_line(void **state)
{
	struct audit_reader	*r;
	const char		*line;
	char			*big;
	size_t			 len, n = 1000000;
	int			 fd, complete;

	assert_non_null(big = malloc(n));
	memset(big, 'x', n);
	assert_true((fd = memfd_create("t", 0)) != -1);
	assert_int_equal(write(fd, big, n), n);
	assert_int_equal(write(fd, "\nok\n", 4), 4);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_non_null(r = audit_reader_new(fd, 100));
	assert_int_equal(audit_reader_next(r, &line, &len, &complete), 1);
	assert_null(line);
	assert_int_equal(len, n);
	assert_true(complete);
	assert_int_equal(audit_reader_next(r, &line, &len, &complete), 1);
	assert_int_equal(len, 2);
	assert_memory_equal(line, "ok", 2);
	assert_int_equal(audit_reader_next(r, &line, &len, &complete), 0);
	assert_int_equal(audit_reader_offset(r), n + 4);
	audit_reader_free(r);
	close(fd);
	free(big);
}

/* Rotated away while stopped (logrotate dateext): the chain goes on. */
static void
test_resume_from_rotated(void **state)
{
	struct audit_conf		 c = conf();
	struct audit			*a;
	struct audit_verify_result	 r;
	char				 old1[340], old2[340], gz[340];
	const char			*files[4];
	json_t				*o;
	int				 fd;

	snprintf(old1, sizeof(old1), "%s-20260101T000000", path);
	snprintf(old2, sizeof(old2), "%s-20260102T000000", path);
	snprintf(gz, sizeof(gz), "%s-20260103T000000.gz", path);
	assert_non_null(a = audit_open(&c));
	append_n(a, 2);
	audit_close(a);
	assert_int_equal(rename(path, old1), 0);
	assert_non_null(a = audit_open(&c));
	append_n(a, 2);
	audit_close(a);
	/* the second one is torn when it is rotated */
	assert_int_equal(rename(path, old2), 0);
	assert_true((fd = open(old2, O_WRONLY | O_APPEND)) != -1);
	assert_int_equal(write(fd, "{\"seq\":", 7), 7);
	close(fd);
	assert_true((fd = open(gz, O_WRONLY | O_CREAT, 0600)) != -1);
	close(fd);
	assert_non_null(a = audit_open(&c));
	append_n(a, 1);
	audit_close(a);
	o = line_json(path, 1);
	assert_string_equal(json_string_value(json_object_get(o, "event")),
	    "start");
	assert_int_equal(json_integer_value(json_object_get(o, "seq")), 10);
	json_decref(o);
	files[0] = old1;
	files[1] = old2;
	files[2] = path;
	files[3] = NULL;
	assert_int_equal(verify(files, NULL, 0, &r), 0);
	assert_int_equal(r.torn_sealed, 1);
	assert_int_equal(r.last_seq, 12);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_fields),
		cmocka_unit_test(test_record_error_and_bad_utf8),
		cmocka_unit_test(test_ts_parse),
		cmocka_unit_test(test_reader),
		cmocka_unit_test(test_reader_huge_line),
		cmocka_unit_test_setup_teardown(test_chain_and_resume, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_previous_end_and_reload,
		    setup, teardown),
		cmocka_unit_test(test_meta_privacy),
		cmocka_unit_test_setup_teardown(test_hmac_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_newline, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_garbage_tail_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoints, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_interval, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_always, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_write_failure_and_recovery,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_after_rename, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_resume_from_rotated, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
