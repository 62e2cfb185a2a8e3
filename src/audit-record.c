/* audit-record: see include/audit-record.h. */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "audit-record.h"
#include "rewrite.h"

void
audit_hash(const char *line, size_t len, char out[AUDIT_HASH_SIZE])
{
	unsigned char	 h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, (const unsigned char *)line, len);
	memcpy(out, "sha256:", 7);
	sodium_bin2hex(out + 7, AUDIT_HASH_SIZE - 7, h, sizeof(h));
}

void
audit_ts_now(char out[AUDIT_TS_SIZE])
{
	struct timespec	 ts;
	struct tm	 tm;
	size_t		 n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(out, AUDIT_TS_SIZE, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, AUDIT_TS_SIZE - n, ".%06uZ",
	    (unsigned)(ts.tv_nsec / 1000) % 1000000u);
}

/* Read exactly N digits at *P into *V. */
static int
digits(const char **p, int n, int *v)
{
	int	 i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return 0;
}

int
audit_ts_parse(const char *s, int64_t *us)
{
	struct tm	 tm;
	const char	*p = s;
	int		 y, mo, d, h = 0, mi = 0, sec = 0, oh, om, frac = 0, n;
	int64_t		 off = 0;
	time_t		 t;

	if (digits(&p, 4, &y) == -1 || *p++ != '-' ||
	    digits(&p, 2, &mo) == -1 || *p++ != '-' ||
	    digits(&p, 2, &d) == -1)
		return -1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (digits(&p, 2, &h) == -1 || *p++ != ':' ||
		    digits(&p, 2, &mi) == -1)
			return -1;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &sec) == -1)
				return -1;
			if (*p == '.') {
				p++;
				for (n = 0; isdigit((unsigned char)*p);
				    n++, p++)
					if (n < 6)
						frac = frac * 10 + (*p - '0');
				if (n == 0)
					return -1;
				for (; n < 6; n++)
					frac *= 10;
			}
		}
		if (*p == 'Z' || *p == 'z')
			p++;
		else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1;

			if (digits(&p, 2, &oh) == -1 || *p++ != ':' ||
			    digits(&p, 2, &om) == -1 || oh > 23 || om > 59)
				return -1;
			off = sign * (oh * 3600 + om * 60);
		}
	}
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*us = ((int64_t)t - off) * 1000000 + frac;
	return 0;
}

enum audit_text_mode
audit_text_mode(const struct audit_conf *conf, const struct policy_conf *p)
{
	if (p != NULL && p->has_audit_text)
		return p->audit_text;
	return conf != NULL ? conf->text : AUDIT_TEXT_HASH;
}

const char *
audit_text_mode_name(enum audit_text_mode m)
{
	switch (m) {
	case AUDIT_TEXT_NONE:
		return "none";
	case AUDIT_TEXT_HASH:
		return "hash";
	case AUDIT_TEXT_REDACTED:
		return "redacted";
	case AUDIT_TEXT_FULL:
		return "full";
	}
	return "hash";
}

/* Move [*A, *B) outward to UTF-8 character boundaries of TEXT. */
static void
span_align(const char *text, size_t len, size_t *a, size_t *b)
{
	if (*b > len)
		*b = len;
	if (*a > *b)
		*a = *b;
	while (*a > 0 && ((unsigned char)text[*a] & 0xc0) == 0x80)
		(*a)--;
	while (*b < len && ((unsigned char)text[*b] & 0xc0) == 0x80)
		(*b)++;
}

/*
 * The request text with every matched span (all rules, monitor ones too)
 * and the classifier's flagged window replaced by "[category]".
 */
static json_t *
redact(const struct request *req, const struct result *res)
{
	struct span_edit	*e = NULL;
	char			**labels = NULL, *out = NULL;
	size_t			 i, n = 0, outlen;
	json_t			*j = NULL;

	e = calloc(res->matches.n + 1, sizeof(*e));
	labels = calloc(res->matches.n + 1, sizeof(*labels));
	if (e == NULL || labels == NULL)
		goto done;
	for (i = 0; i < res->matches.n; i++) {
		const struct match *m = &res->matches.v[i];

		if (asprintf(&labels[n], "[%s]",
		    m->category != NULL ? m->category : "redacted") == -1) {
			labels[n] = NULL;
			goto done;
		}
		e[n].start = m->start;
		e[n].end = m->end;
		span_align(req->text, req->len, &e[n].start, &e[n].end);
		e[n].replacement = labels[n];
		n++;
	}
	if (res->n_flagged > 0 && res->span_end > res->span_start) {
		if (asprintf(&labels[n], "[%s]", res->flagged[0]) == -1) {
			labels[n] = NULL;
			goto done;
		}
		e[n].start = res->span_start;
		e[n].end = res->span_end;
		span_align(req->text, req->len, &e[n].start, &e[n].end);
		e[n].replacement = labels[n];
		n++;
	}
	if ((out = rewrite_apply(req->text, req->len, e, n, &outlen)) == NULL)
		goto done;
	j = json_stringn(out, outlen);
 done:
	if (labels != NULL)
		for (i = 0; i < n; i++)
			free(labels[i]);
	free(labels);
	free(e);
	free(out);
	return j;
}

/* json_object_set_new that reports failure of either step. */
static int
put(json_t *o, const char *k, json_t *v)
{
	if (v == NULL)
		return -1;
	return json_object_set_new(o, k, v);
}

static json_t *
matches_json(const struct match_list *l)
{
	json_t	*a, *m;
	size_t	 i;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < l->n; i++) {
		const struct match *x = &l->v[i];

		if ((m = json_object()) == NULL ||
		    json_array_append_new(a, m) == -1 ||
		    put(m, "rule", json_string(x->rule != NULL ?
		    x->rule : "")) == -1 ||
		    put(m, "category", json_string(x->category != NULL ?
		    x->category : "")) == -1 ||
		    put(m, "action",
		    json_string(rule_action_name(x->action))) == -1 ||
		    (x->monitor && put(m, "monitor", json_true()) == -1) ||
		    put(m, "start", json_integer((json_int_t)x->start)) == -1 ||
		    put(m, "end", json_integer((json_int_t)x->end)) == -1) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *
scores_json(const struct result *res)
{
	json_t	*o;
	size_t	 i;

	if ((o = json_object()) == NULL)
		return NULL;
	for (i = 0; i < res->n_scores && i < MAX_LABELS; i++) {
		double v = round((double)res->scores[i] * 10000.0) / 10000.0;

		if (res->labels[i] == NULL || !isfinite(v))
			continue;
		if (put(o, res->labels[i], json_real(v)) == -1) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* Replace, in place and at any depth, the values of PV's keys in J. */
static void
redact_meta(json_t *j, const struct audit_privacy *pv)
{
	const char	*k;
	json_t		*v;
	size_t		 i;

	if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			redact_meta(v, pv);
		return;
	}
	if (!json_is_object(j))
		return;
	json_object_foreach(j, k, v) {
		for (i = 0; i < pv->n_redact; i++)
			if (strcmp(k, pv->redact[i]) == 0)
				break;
		if (i < pv->n_redact)
			json_object_set_new(j, k, json_string("[redacted]"));
		else
			redact_meta(v, pv);
	}
}

/*
 * Add "meta" (redacted; null when absent or larger than meta_max, and then
 * "meta_dropped", its size) to B.  0 or -1.
 */
static int
put_meta(json_t *b, const json_t *meta, const struct audit_privacy *pv)
{
	json_t	*m;
	size_t	 size;

	if (meta == NULL)
		return put(b, "meta", json_null());
	if ((m = json_deep_copy(meta)) == NULL)
		return -1;
	redact_meta(m, pv);
	size = json_dumpb(m, NULL, 0, JSON_COMPACT);
	if (pv->meta_max > 0 && size <= (size_t)pv->meta_max)
		return put(b, "meta", m);
	json_decref(m);
	if (put(b, "meta", json_null()) == -1)
		return -1;
	return put(b, "meta_dropped", json_integer((json_int_t)size));
}

json_t *
audit_record_body(const struct request *req, const struct result *res,
    const char *policy_version, enum audit_text_mode mode,
    const struct audit_privacy *pv)
{
	json_t		*b, *peer, *a, *st, *text;
	char		 h[AUDIT_HMAC_HEX_SIZE];
	const char	*pname;
	size_t		 i;

	if ((b = json_object()) == NULL)
		return NULL;
	if (put(b, "id", req->id != NULL ? json_deep_copy(req->id) :
	    json_null()) == -1)
		goto fail;
	if (put(b, "peer", peer = json_object()) == -1 ||
	    put(peer, "pid", json_integer(req->peer.pid)) == -1 ||
	    put(peer, "uid", json_integer(req->peer.uid)) == -1 ||
	    put(peer, "gid", json_integer(req->peer.gid)) == -1)
		goto fail;
	pname = res->policy != NULL ? res->policy->name : req->policy;
	if (put(b, "policy", pname != NULL ? json_string(pname) :
	    json_null()) == -1 ||
	    put(b, "policy_version", json_string(policy_version != NULL ?
	    policy_version : "")) == -1)
		goto fail;
	if (res->error_code != NULL) {
		json_t *e = json_object();

		if (put(b, "error", e) == -1 ||
		    put(e, "code", json_string(res->error_code)) == -1 ||
		    put(e, "message", json_string(res->error_msg)) == -1)
			goto fail;
	} else {
		if (put(b, "verdict", json_string(verdict_name(res->verdict)))
		    == -1)
			goto fail;
		if (((res->policy != NULL && res->policy->monitor) ||
		    res->would_verdict != (int)res->verdict) &&
		    put(b, "would_verdict",
		    json_string(verdict_name((enum verdict)res->would_verdict))) == -1)
			goto fail;
	}
	if (put(b, "degraded", json_boolean(res->degraded)) == -1 ||
	    put(b, "matches", matches_json(&res->matches)) == -1 ||
	    put(b, "scores", scores_json(res)) == -1)
		goto fail;
	if ((a = json_array()) == NULL || put(b, "flagged", a) == -1)
		goto fail;
	for (i = 0; i < res->n_flagged && i < MAX_LABELS; i++)
		if (json_array_append_new(a,
		    json_string(res->flagged[i])) == -1)
			goto fail;
	if (put(b, "stages", st = json_object()) == -1)
		goto fail;
	for (i = STAGE_RULES; i <= STAGE_CLASSIFIER; i++)
		if (put(st, stage_name(i), json_string(stage_state_name(res->stage[i])))
		    == -1)
			goto fail;
	audit_hmac_hex(pv->hmac_key, req->text != NULL ? req->text : "",
	    req->len, h);
	/* a text that is not valid UTF-8 (a bad_request) keeps its hash only */
	text = NULL;
	if (mode == AUDIT_TEXT_FULL && req->text != NULL)
		text = json_stringn(req->text, req->len);
	else if (mode == AUDIT_TEXT_REDACTED && req->text != NULL)
		text = redact(req, res);
	if (text == NULL && (mode == AUDIT_TEXT_FULL ||
	    mode == AUDIT_TEXT_REDACTED))
		mode = AUDIT_TEXT_HASH;
	if (put(b, "text_mode",
	    json_string(audit_text_mode_name(mode))) == -1 ||
	    put(b, "text_hmac", json_string(h)) == -1) {
		json_decref(text);
		goto fail;
	}
	if (text != NULL && put(b, "text", text) == -1)
		goto fail;
	if (res->error_code == NULL && res->verdict == VERDICT_REWRITE &&
	    res->text != NULL) {
		audit_hmac_hex(pv->hmac_key, res->text, res->text_len, h);
		if (put(b, "rewritten_hmac", json_string(h)) == -1)
			goto fail;
		if (mode == AUDIT_TEXT_FULL && put(b, "rewritten",
		    json_stringn(res->text, res->text_len)) == -1)
			goto fail;
	}
	if (put_meta(b, req->meta, pv) == -1 ||
	    put(b, "elapsed_us",
	    json_integer((json_int_t)res->elapsed_us)) == -1)
		goto fail;
	return b;
 fail:
	json_decref(b);
	return NULL;
}

char *
audit_body_dump(const json_t *body, size_t *len)
{
	char	*s;

	s = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER |
	    JSON_REAL_PRECISION(6));
	if (s != NULL && len != NULL)
		*len = strlen(s);
	return s;
}

char *
audit_line_make(uint64_t seq, const char *ts, const char *body,
    size_t bodylen, const char *prev, size_t *len)
{
	char	 head[96];
	size_t	 hl, pl, inner, total;
	char	*s, *p;

	if (bodylen < 2 || body[0] != '{' || body[bodylen - 1] != '}')
		return NULL;
	hl = (size_t)snprintf(head, sizeof(head), "{\"seq\":%" PRIu64
	    ",\"ts\":\"%s\",", seq, ts);
	if (hl >= sizeof(head))
		return NULL;
	inner = bodylen - 2;
	pl = strlen(prev);
	total = hl + inner + (inner > 0 ? 1 : 0) + 8 + pl + 3;
	if ((s = malloc(total + 1)) == NULL)
		return NULL;
	p = s;
	memcpy(p, head, hl);
	p += hl;
	memcpy(p, body + 1, inner);
	p += inner;
	if (inner > 0)
		*p++ = ',';
	memcpy(p, "\"prev\":\"", 8);
	p += 8;
	memcpy(p, prev, pl);
	p += pl;
	memcpy(p, "\"}\n", 3);
	p += 3;
	*p = '\0';
	*len = (size_t)(p - s);
	return s;
}

size_t
audit_checkpoint_msg_fss(char *out, size_t size, uint64_t epoch,
    const char *ts, uint64_t head_seq, const char *head)
{
	int	 n;

	n = snprintf(out, size, "%s\nepoch %" PRIu64 "\nts %s\nseq %" PRIu64
	    "\nhead %s\n", AUDIT_CHECKPOINT_FSS, epoch, ts, head_seq, head);
	if (n < 0)
		return 0;
	return (size_t)n >= size ? size - 1 : (size_t)n;
}

size_t
audit_checkpoint_msg(char *out, size_t size, uint64_t head_seq,
    const char *head)
{
	int	 n;

	n = snprintf(out, size, "%s\nseq %" PRIu64 "\nhead %s\n",
	    AUDIT_CHECKPOINT_CTX, head_seq, head);
	if (n < 0)
		return 0;
	return (size_t)n >= size ? size - 1 : (size_t)n;
}
