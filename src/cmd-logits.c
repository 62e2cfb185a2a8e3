/*
 * modgate logits: what the classifier computes, for tests and debugging.
 *
 *	modgate logits [-t] [-m model] [-w window] [-s stride] [-b batch]
 *
 * Reads JSONL from stdin ({"text": "..."} a line; other keys ignored) and
 * writes one JSON line per input: the token ids and byte spans, every
 * window's first token, length ([CLS] included) and raw logits, and the
 * calibrated scores and best span from classifier_score (-t: the ids and
 * spans only).  The golden tests compare this output with PyTorch's.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <jansson.h>

#include "classifier.h"
#include "cmd.h"
#include "log.h"
#include "model-internal.h"

static int
usage(void)
{
	fprintf(stderr, "usage: modgate logits [-t] [-m model] [-w window] "
	    "[-s stride] [-b batch] < file.jsonl\n");
	return EX_USAGE;
}

/* The JSON answer for TEXT, or NULL after logging. */
static json_t *
describe(const struct model *m, const struct classifier_conf *cc,
    struct model_slot *s, const char *text, size_t len, int tokens_only)
{
	json_t		*ids, *spans, *wins, *lg, *sc;
	struct classifier_out out;
	size_t		 n, i, start, end, w = (size_t)cc->window, stride;
	size_t		 wl;

	if (w > m->cfg.max_positions)
		w = m->cfg.max_positions;
	stride = (size_t)cc->stride > w - 1 ? w - 1 : (size_t)cc->stride;
	if (model_slot_reserve(m, s, len + 1) == -1)
		return NULL;
	n = tokenizer_encode(m->tok, text, len, s->toks, s->toks_cap);
	ids = json_array();
	spans = json_array();
	for (i = 0; i < n; i++) {
		json_array_append_new(ids, json_integer(s->toks[i].id));
		json_array_append_new(spans, json_pack("[I,I]",
		    (json_int_t)s->toks[i].start, (json_int_t)s->toks[i].end));
	}
	if (tokens_only)
		return json_pack("{s:o,s:o}", "ids", ids, "spans", spans);
	wins = json_array();
	for (start = 0;; start += stride) {
		end = start + w - 1 < n ? start + w - 1 : n;
		wl = 1 + end - start;
		s->ids[0] = TOKEN_CLS;
		for (i = start; i < end; i++)
			s->ids[1 + i - start] = s->toks[i].id;
		if (transformer_forward(&m->cfg, &m->w, s->ts, s->ids, &wl, 1,
		    s->logits) == -1) {
			log_warnx("forward pass failed");
			json_decref(ids);
			json_decref(spans);
			json_decref(wins);
			return NULL;
		}
		lg = json_array();
		for (i = 0; i < m->n_labels; i++)
			json_array_append_new(lg, json_real(s->logits[i]));
		json_array_append_new(wins, json_pack("{s:I,s:I,s:o}", "start",
		    (json_int_t)start, "len", (json_int_t)wl, "logits", lg));
		if (end >= n)
			break;
	}
	sc = json_array();
	if (classifier_score(m, cc, text, len, &out) == -1) {
		json_decref(sc);
		sc = json_null();
	} else
		for (i = 0; i < m->n_labels; i++)
			json_array_append_new(sc, json_real(out.scores[i]));
	return json_pack("{s:o,s:o,s:I,s:I,s:o,s:o,s:[I,I]}", "ids", ids,
	    "spans", spans, "window", (json_int_t)w, "stride",
	    (json_int_t)stride, "windows", wins, "scores", sc, "span",
	    (json_int_t)out.span_start, (json_int_t)out.span_end);
}

int
cmd_logits(int argc, char **argv)
{
	struct classifier_conf cc = { .enabled = 1, .window = 128,
	    .stride = 96, .batch_max = 16, .threads = 1 };
	const char	*dir = "models/default";
	struct model	*m;
	struct model_slot *s = NULL;
	json_t		*in, *outj;
	json_error_t	 jerr;
	char		*line = NULL;
	size_t		 cap = 0, lineno = 0;
	ssize_t		 len;
	int		 ch, rc = 0, tokens_only = 0;

	optind = 1;
	while ((ch = getopt(argc, argv, "b:m:s:tw:")) != -1)
		switch (ch) {
		case 't': tokens_only = 1; break;
		case 'b': cc.batch_max = atoi(optarg); break;
		case 'm': dir = optarg; break;
		case 's': cc.stride = atoi(optarg); break;
		case 'w': cc.window = atoi(optarg); break;
		default: return usage();
		}
	if (optind != argc || cc.window < 2 || cc.stride < 1)
		return usage();
	transformer_set_threads(1);
	if ((m = model_load(dir)) == NULL)
		return EX_DATAERR;
	if ((s = model_slot_get(m)) == NULL) {
		model_free(m);
		return EX_OSERR;
	}
	while ((len = getline(&line, &cap, stdin)) != -1) {
		lineno++;
		in = json_loadb(line, (size_t)len, 0, &jerr);
		if (in == NULL || !json_is_string(json_object_get(in, "text"))) {
			log_warnx("stdin:%zu: want {\"text\": string}", lineno);
			json_decref(in);
			rc = EX_DATAERR;
			continue;
		}
		outj = describe(m, &cc, s, json_string_value(json_object_get(in,
		    "text")), json_string_length(json_object_get(in, "text")),
		    tokens_only);
		json_decref(in);
		if (outj == NULL) {
			rc = EX_SOFTWARE;
			continue;
		}
		json_dumpf(outj, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(outj);
	}
	free(line);
	model_slot_put(m, s);
	model_free(m);
	return rc;
}
