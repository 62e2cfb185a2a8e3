/*
 * modgate eval: quality report of the classifier on labelled JSONL.
 *
 *	modgate eval [-m model] [-c conf] [-p policy] [-j | --json] FILE.jsonl
 *
 * Each line is {"text": "...", "labels": {"hate": 0|1, ...}}; a label the
 * line does not give is not counted for that category, labels the model
 * does not have are ignored.  The config is -c, else the installed one
 * when there is one.  Scores come from classifier_score, windows and
 * stride from the config's classifier section (with no config at all:
 * the model's max_positions and three quarters of it).  Per category: AUPRC
 * (average precision), ROC-AUC, and precision, recall and F1 at the
 * policy's threshold (the lower of its block and rewrite scores; 0.5 when
 * the policy sets none), then the same for "any" (the maximum score
 * against "some label is 1"; a line is a negative for "any" only when it
 * gives every label as 0, as train/metrics.py counts).  A table, or JSON
 * with -j.  A bad line is
 * reported as FILE:LINE and skipped, and counted in the report.
 *
 * Lines with a "functionality" (the functional suite, tests/data/functional)
 * are also counted per functionality: cases, harmful (some label 1) and
 * harmless (every label 0) ones, the harmless ones flagged and the harmful
 * ones caught.  A case is flagged when, with a config, the whole pipeline
 * (rules, classifier, policy; no audit) gives a verdict other than allow
 * (for a monitor policy, the verdict it would give) or flags one of the
 * model's categories; without a config, when a score reaches 0.5.
 */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <jansson.h>

#include "classifier.h"
#include "cmd.h"
#include "config.h"
#include "log.h"
#include "model-internal.h"
#include "pipeline.h"
#include "snapshot.h"
#include "transformer.h"

#define EVAL_ANY	MAX_LABELS	/* index of the any-category column */
#define EVAL_DEFAULT_CONF SYSCONFDIR "/modgate/modgated.conf"

struct sample {
	float		 score[MAX_LABELS + 1];
	signed char	 label[MAX_LABELS + 1];	/* -1 unknown, 0, 1 */
};

struct samples {
	struct sample	*v;
	size_t		 n, cap;
};

/* Counts of one functionality, in order of first appearance. */
struct group {
	char	*name;
	size_t	 n, harmful, harmless;
	size_t	 caught;		/* harmful and flagged */
	size_t	 flagged;		/* harmless and flagged */
};

struct groups {
	struct group	*v;
	size_t		 n, cap;
};

/* What scoring a line needs. */
struct eval {
	const char	*file;
	const struct model *model;
	const struct classifier_conf *cc;
	struct snapshot	*snap;		/* NULL without a config */
	const struct policy_conf *pol;	/* NULL without a config */
	const double	*thr;		/* per label */
	struct groups	 groups;
	int		 warned;
};

struct metric {
	size_t	 n, pos;
	double	 auprc, roc_auc;	/* NAN when undefined */
	double	 threshold;
	int	 threshold_default;
	double	 precision, recall, f1;
};

static int
usage(void)
{
	fprintf(stderr, "usage: modgate eval [-j] [-m model] [-c conf] "
	    "[-p policy] file.jsonl\n");
	return EX_USAGE;
}

struct scored {
	float	 s;
	int	 y;
};

static int
scored_desc(const void *a, const void *b)
{
	float	 x = ((const struct scored *)a)->s;
	float	 y = ((const struct scored *)b)->s;

	return x > y ? -1 : x < y ? 1 : 0;
}

/*
 * AUPRC as average precision over distinct thresholds (ties grouped),
 * ROC-AUC as the Mann-Whitney statistic with tied ranks averaged, over the
 * N pairs in V (sorted here, by score descending).
 */
static void
ranking_metrics(struct scored *v, size_t n, size_t pos, struct metric *m)
{
	size_t	 i, j, tp = 0, fp = 0, neg = n - pos;
	double	 ap = 0, prev_recall = 0, recall, rank_sum = 0, rank;

	m->auprc = m->roc_auc = NAN;
	if (pos == 0 || neg == 0)
		return;		/* undefined, as in train/metrics.py */
	qsort(v, n, sizeof(*v), scored_desc);
	for (i = 0; i < n; i = j) {
		size_t gpos = 0;
		for (j = i; j < n && v[j].s == v[i].s; j++)
			gpos += (size_t)v[j].y;
		tp += gpos;
		fp += (j - i) - gpos;
		recall = (double)tp / (double)pos;
		ap += (recall - prev_recall) * (double)tp / (double)(tp + fp);
		prev_recall = recall;
		/* ascending ranks n - j + 1 .. n - i, averaged over the tie */
		rank = ((double)(n - j + 1) + (double)(n - i)) / 2;
		rank_sum += rank * (double)gpos;
	}
	m->auprc = ap;
	if (neg > 0)
		m->roc_auc = (rank_sum - (double)pos * ((double)pos + 1) / 2) /
		    ((double)pos * (double)neg);
}

static void
compute(const struct samples *ss, size_t col, struct metric *m,
    struct scored *buf, const double *thr, size_t nlabels)
{
	size_t	 i, j, n = 0, tp = 0, fp = 0, fn = 0;
	int	 flag;

	m->n = m->pos = 0;
	for (i = 0; i < ss->n; i++) {
		const struct sample *s = &ss->v[i];
		if (s->label[col] < 0)
			continue;
		if (col == EVAL_ANY) {
			for (flag = 0, j = 0; j < nlabels; j++)
				if (s->score[j] >= thr[j])
					flag = 1;
		} else
			flag = s->score[col] >= m->threshold;
		buf[n].s = s->score[col];
		buf[n].y = s->label[col];
		if (flag && buf[n].y)
			tp++;
		else if (flag)
			fp++;
		else if (buf[n].y)
			fn++;
		m->pos += (size_t)buf[n].y;
		n++;
	}
	m->n = n;
	m->precision = tp + fp ? (double)tp / (double)(tp + fp) : NAN;
	m->recall = tp + fn ? (double)tp / (double)(tp + fn) : NAN;
	m->f1 = 2 * tp + fp + fn ? 2.0 * (double)tp /
	    (double)(2 * tp + fp + fn) : NAN;
	ranking_metrics(buf, n, m->pos, m);
}

/* The group named NAME in GS, added when new; NULL on ENOMEM (logged). */
static struct group *
group_get(struct groups *gs, const char *name)
{
	struct group	*g;
	size_t		 i;

	for (i = 0; i < gs->n; i++)
		if (strcmp(gs->v[i].name, name) == 0)
			return &gs->v[i];
	if (gs->n == gs->cap) {
		size_t ncap = gs->cap ? gs->cap * 2 : 32;
		if ((g = reallocarray(gs->v, ncap, sizeof(*g))) == NULL) {
			log_warn("eval");
			return NULL;
		}
		gs->v = g;
		gs->cap = ncap;
	}
	g = &gs->v[gs->n];
	memset(g, 0, sizeof(*g));
	if ((g->name = strdup(name)) == NULL) {
		log_warn("eval");
		return NULL;
	}
	gs->n++;
	return g;
}

static void
groups_free(struct groups *gs)
{
	size_t	 i;

	for (i = 0; i < gs->n; i++)
		free(gs->v[i].name);
	free(gs->v);
}

/*
 * 1 when TEXT is flagged (see the top of the file), 0 when not, -1 when
 * the pipeline failed (logged).  S holds its classifier scores.
 */
static int
flagged(const struct eval *ev, const struct sample *s, const char *text,
    size_t len)
{
	struct request	 req;
	struct result	 res;
	const char *const *labels;
	size_t		 i, j, nl = model_labels(ev->model, &labels);
	int		 rv = 0;

	if (ev->snap == NULL) {
		for (j = 0; j < nl; j++)
			if (s->score[j] >= ev->thr[j])
				return 1;
		return 0;
	}
	memset(&req, 0, sizeof(req));
	req.text = text;
	req.len = len;
	req.policy = ev->pol->name;
	result_init(&res);
	if (pipeline_run(ev->snap, NULL, &req, &res) == -1) {
		log_warnx("pipeline: %s", res.error_msg);
		rv = -1;
	} else if ((ev->pol->monitor ? (enum verdict)res.would_verdict :
	    res.verdict) != VERDICT_ALLOW)
		rv = 1;
	for (i = 0; rv == 0 && i < res.n_flagged; i++)
		for (j = 0; j < nl; j++)
			if (strcmp(res.flagged[i], labels[j]) == 0)
				rv = 1;
	result_clear(&res);
	return rv;
}

/* Count S, of functionality NAME and TEXT, in EV's groups.  0 or -1. */
static int
count_functional(struct eval *ev, const char *name, const struct sample *s,
    const char *text, size_t len)
{
	struct group	*g;
	int		 f;

	if ((f = flagged(ev, s, text, len)) == -1 ||
	    (g = group_get(&ev->groups, name)) == NULL)
		return -1;
	g->n++;
	if (s->label[EVAL_ANY] == 1) {
		g->harmful++;
		g->caught += (size_t)f;
	} else if (s->label[EVAL_ANY] == 0) {
		g->harmless++;
		g->flagged += (size_t)f;
	}
	return 0;
}

/* One JSONL line into S.  0, or -1 after reporting FILE:LINENO. */
static int
parse_line(struct eval *ev, size_t lineno, const char *line, size_t len,
    struct sample *s)
{
	const char *const *labels;
	json_t		*root, *text, *lab, *func, *v;
	json_error_t	 jerr;
	const char	*key, *file = ev->file;
	size_t		 n, j;
	struct classifier_out out;
	int		 rc = -1, any = -1;

	n = model_labels(ev->model, &labels);
	if ((root = json_loadb(line, len, 0, &jerr)) == NULL) {
		log_warnx("%s:%zu: %s", file, lineno, jerr.text);
		return -1;
	}
	text = json_object_get(root, "text");
	lab = json_object_get(root, "labels");
	func = json_object_get(root, "functionality");
	if (!json_is_string(text) || (lab != NULL && !json_is_object(lab)) ||
	    (func != NULL && !json_is_string(func))) {
		log_warnx("%s:%zu: want {\"text\": string, \"labels\": "
		    "object, \"functionality\": string}", file, lineno);
		goto out;
	}
	for (j = 0; j <= MAX_LABELS; j++)
		s->label[j] = -1;
	json_object_foreach(lab, key, v) {
		int y;
		if (json_is_boolean(v))
			y = json_is_true(v);
		else if (json_is_integer(v) && (json_integer_value(v) == 0 ||
		    json_integer_value(v) == 1))
			y = (int)json_integer_value(v);
		else if (json_is_null(v))
			continue;
		else {
			log_warnx("%s:%zu: label \"%s\" must be 0 or 1", file,
			    lineno, key);
			goto out;
		}
		for (j = 0; j < n; j++)
			if (strcmp(labels[j], key) == 0)
				break;
		if (j == n) {
			if (!ev->warned)
				log_warnx("%s:%zu: label \"%s\" is not one of "
				    "the model's; ignored", file, lineno, key);
			ev->warned = 1;
			continue;
		}
		s->label[j] = (signed char)y;
	}
	/*
	 * Any category: positive when some label is 1, negative only when
	 * every label of the model is known to be 0 (as train/metrics.py).
	 */
	for (j = 0, any = 0; j < n; j++) {
		if (s->label[j] == 1) {
			any = 1;
			break;
		}
		if (s->label[j] < 0)
			any = -1;
	}
	s->label[EVAL_ANY] = (signed char)any;
	if (classifier_score(ev->model, ev->cc, json_string_value(text),
	    json_string_length(text), &out) == -1) {
		log_warnx("%s:%zu: classifier failed", file, lineno);
		goto out;
	}
	s->score[EVAL_ANY] = 0;
	for (j = 0; j < n; j++) {
		s->score[j] = out.scores[j];
		if (out.scores[j] > s->score[EVAL_ANY])
			s->score[EVAL_ANY] = out.scores[j];
	}
	if (func != NULL && count_functional(ev, json_string_value(func), s,
	    json_string_value(text), json_string_length(text)) == -1) {
		log_warnx("%s:%zu: cannot run the pipeline", file, lineno);
		goto out;
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

static json_t *
num_or_null(double x)
{
	return isnan(x) ? json_null() : json_real(x);
}

static void
print_row(const char *name, const struct metric *m)
{
	char	 b[6][16];
	const double v[6] = { m->auprc, m->roc_auc, m->threshold,
	    m->precision, m->recall, m->f1 };
	int	 i;

	for (i = 0; i < 6; i++) {
		if (isnan(v[i]))
			snprintf(b[i], sizeof(b[i]), "-");
		else
			snprintf(b[i], sizeof(b[i]), "%.3f", v[i]);
	}
	if (m->threshold_default)
		strcat(b[2], "*");
	printf("%-12s %7zu %7zu %7s %7s %7s %7s %7s %7s\n", name, m->n, m->pos,
	    b[0], b[1], b[2], b[3], b[4], b[5]);
}

static double
share(size_t k, size_t n)
{
	return n ? (double)k / (double)n : NAN;
}

/* G's counts, and ALL's sums of them. */
static void
group_add(struct group *all, const struct group *g)
{
	all->n += g->n;
	all->harmful += g->harmful;
	all->harmless += g->harmless;
	all->caught += g->caught;
	all->flagged += g->flagged;
}

static json_t *
group_json(const struct group *g)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:o,s:I,s:o}",
	    "n", (json_int_t)g->n,
	    "harmful", (json_int_t)g->harmful,
	    "harmless", (json_int_t)g->harmless,
	    "harmless_flagged", (json_int_t)g->flagged,
	    "harmless_flagged_share", num_or_null(share(g->flagged,
	    g->harmless)),
	    "harmful_caught", (json_int_t)g->caught,
	    "harmful_caught_share", num_or_null(share(g->caught, g->harmful)));
}

static void
print_group(const char *name, const struct group *g)
{
	char	 b[2][16];
	double	 v[2] = { share(g->flagged, g->harmless),
	    share(g->caught, g->harmful) };
	int	 i;

	for (i = 0; i < 2; i++) {
		if (isnan(v[i]))
			snprintf(b[i], sizeof(b[i]), "-");
		else
			snprintf(b[i], sizeof(b[i]), "%.3f", v[i]);
	}
	printf("%-28s %6zu %7zu %8zu %7zu %7s %7zu %7s\n", name, g->n,
	    g->harmful, g->harmless, g->flagged, b[0], g->caught, b[1]);
}

/* The functional report of GS: JSON into ROOT, else a table. */
static void
report_groups(const struct groups *gs, json_t *root)
{
	struct group	 all = { .name = "all" };
	json_t		*o = NULL, *fs = NULL;
	size_t		 i;

	if (gs->n == 0)
		return;
	if (root != NULL) {
		o = json_object();
		fs = json_object();
		json_object_set_new(root, "functional", o);
		json_object_set_new(o, "functionalities", fs);
	} else
		printf("\n%-28s %6s %7s %8s %7s %7s %7s %7s\n",
		    "functionality", "n", "harmful", "harmless", "flagged",
		    "share", "caught", "share");
	for (i = 0; i < gs->n; i++) {
		group_add(&all, &gs->v[i]);
		if (fs != NULL)
			json_object_set_new(fs, gs->v[i].name,
			    group_json(&gs->v[i]));
		else
			print_group(gs->v[i].name, &gs->v[i]);
	}
	if (o != NULL)
		json_object_set_new(o, "all", group_json(&all));
	else {
		print_group(all.name, &all);
		printf("flagged: harmless cases flagged; caught: harmful cases "
		    "flagged; share: of the harmless, of the harmful\n");
	}
}

static void
progress(size_t done, size_t total, size_t lines, int final)
{
	static int	 last = -1;
	int		 pct = total ? (int)(100.0 * done / total) : 100;

	if (pct == last && !final)
		return;
	last = pct;
	fprintf(stderr, "\reval: [%-40.*s] %3d%% %zu lines", pct * 40 / 100,
	    "########################################", pct, lines);
	if (final)
		fputc('\n', stderr);
}

int
cmd_eval(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*model_dir = NULL, *conf_file = NULL, *policy = NULL;
	const char	*file, *const *labels;
	struct snapshot	*snap = NULL;
	const struct config *cfg = NULL;
	const struct policy_conf *pol = NULL;
	struct classifier_conf cc = { 0 };
	struct model	*own = NULL, *loaded;
	const struct model *model;
	struct eval	 ev = { 0 };
	struct samples	 ss = { 0 };
	struct metric	 met[MAX_LABELS + 1];
	struct scored	*buf = NULL;
	double		 thr[MAX_LABELS];
	struct stat	 sb;
	FILE		*f = NULL;
	char		*line = NULL;
	size_t		 cap = 0, lineno = 0, skipped = 0, nl, j, k, done = 0;
	ssize_t		 len;
	int		 ch, json = 0, bar, rc = EX_SOFTWARE;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:jm:p:", longopts, NULL)) != -1)
		switch (ch) {
		case 'c': conf_file = optarg; break;
		case 'j': json = 1; break;
		case 'm': model_dir = optarg; break;
		case 'p': policy = optarg; break;
		default: return usage();
		}
	if (argc - optind != 1)
		return usage();
	file = argv[optind];

	if (conf_file == NULL && access(EVAL_DEFAULT_CONF, R_OK) == 0)
		conf_file = EVAL_DEFAULT_CONF;
	if (conf_file != NULL) {
		/* The whole pipeline, for the verdicts of functional cases. */
		if ((snap = snapshot_load(conf_file, NULL)) == NULL)
			return EX_CONFIG;
		cfg = snap->cfg;
		cc = cfg->classifier;
		if (policy == NULL)
			policy = cfg->server.default_policy;
		if ((pol = config_policy(cfg, policy)) == NULL) {
			log_warnx("%s: no policy named \"%s\"", conf_file,
			    policy);
			rc = EX_CONFIG;
			goto out;
		}
		/* -m, or a config with the classifier off: load it here. */
		if (model_dir != NULL || snap->model == NULL) {
			if ((loaded = model_load(model_dir ? model_dir :
			    cfg->classifier.model)) == NULL) {
				rc = EX_DATAERR;
				goto out;
			}
			model_free(snap->model);
			snap->model = loaded;
		}
		if (model_dir == NULL)
			model_dir = cfg->classifier.model;
		model = snap->model;
	} else if (policy != NULL) {
		log_warnx("-p needs -c: policies live in the config");
		rc = EX_USAGE;
		goto out;
	} else {
		if (model_dir == NULL)
			model_dir = "models/default";
		if ((own = model_load(model_dir)) == NULL) {
			rc = EX_DATAERR;
			goto out;
		}
		model = own;
		/* No config: the model's longest window, 3/4 of it apart. */
		cc.window = (int)model->cfg.max_positions;
		cc.stride = cc.window * 3 / 4;
		cc.batch_max = MODEL_BATCH_MAX;
	}
	transformer_set_threads(cc.threads > 0 ? cc.threads : 1);
	nl = model_labels(model, &labels);
	for (j = 0; j < nl; j++) {
		met[j].threshold = 0.5;
		met[j].threshold_default = 1;
		for (k = 0; pol != NULL && k < pol->n_thresholds; k++) {
			const struct category_threshold *t = &pol->thresholds[k];
			double x = t->block < t->rewrite ? t->block :
			    t->rewrite;
			if (strcmp(t->category, labels[j]) == 0 && x <= 1) {
				met[j].threshold = x;
				met[j].threshold_default = 0;
			}
		}
		thr[j] = met[j].threshold;
	}
	ev.file = file;
	ev.model = model;
	ev.cc = &cc;
	ev.snap = snap;
	ev.pol = pol;
	ev.thr = thr;

	if ((f = fopen(file, "r")) == NULL) {
		log_warn("%s", file);
		rc = EX_NOINPUT;
		goto out;
	}
	bar = isatty(STDERR_FILENO) && fstat(fileno(f), &sb) == 0 &&
	    sb.st_size > 256 * 1024;
	while ((len = getline(&line, &cap, f)) != -1) {
		lineno++;
		done += (size_t)len;
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r'))
			len--;
		if (len == 0)
			continue;
		if (ss.n == ss.cap) {
			size_t ncap = ss.cap ? ss.cap * 2 : 1024;
			struct sample *nv = reallocarray(ss.v, ncap,
			    sizeof(*nv));
			if (nv == NULL) {
				log_warn("eval");
				goto out;
			}
			ss.v = nv;
			ss.cap = ncap;
		}
		if (parse_line(&ev, lineno, line, (size_t)len,
		    &ss.v[ss.n]) == -1)
			skipped++;
		else
			ss.n++;
		if (bar)
			progress(done, (size_t)sb.st_size, lineno, 0);
	}
	if (ferror(f)) {
		log_warn("%s", file);
		rc = EX_IOERR;
		goto out;
	}
	if (bar)
		progress(done, (size_t)sb.st_size, lineno, 1);
	if ((buf = calloc(ss.n + 1, sizeof(*buf))) == NULL) {
		log_warn("eval");
		goto out;
	}
	for (j = 0; j < nl; j++)
		compute(&ss, j, &met[j], buf, thr, nl);
	met[EVAL_ANY].threshold = NAN;
	met[EVAL_ANY].threshold_default = 0;
	compute(&ss, EVAL_ANY, &met[EVAL_ANY], buf, thr, nl);

	if (json) {
		json_t *root = json_object(), *cats = json_object();
		json_object_set_new(root, "file", json_string(file));
		json_object_set_new(root, "model", json_string(model_dir));
		json_object_set_new(root, "policy", pol ? json_string(
		    pol->name) : json_null());
		json_object_set_new(root, "lines", json_integer(
		    (json_int_t)ss.n));
		json_object_set_new(root, "skipped", json_integer(
		    (json_int_t)skipped));
		json_object_set_new(root, "categories", cats);
		for (j = 0; j <= nl; j++) {
			const struct metric *m = &met[j == nl ? EVAL_ANY : j];
			json_t *o = json_pack("{s:I,s:I,s:o,s:o,s:o,s:o,s:o}",
			    "n", (json_int_t)m->n,
			    "positives", (json_int_t)m->pos,
			    "auprc", num_or_null(m->auprc),
			    "roc_auc", num_or_null(m->roc_auc),
			    "precision", num_or_null(m->precision),
			    "recall", num_or_null(m->recall),
			    "f1", num_or_null(m->f1));
			if (j < nl) {
				json_object_set_new(o, "threshold",
				    json_real(m->threshold));
				json_object_set_new(o, "threshold_default",
				    json_boolean(m->threshold_default));
				json_object_set_new(cats, labels[j], o);
			} else
				json_object_set_new(root, "any", o);
		}
		report_groups(&ev.groups, root);
		json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
		    JSON_REAL_PRECISION(6));
		putchar('\n');
		json_decref(root);
	} else {
		printf("%s: %zu lines scored, %zu skipped; model %s, policy "
		    "%s\n", file, ss.n, skipped, model_dir,
		    pol ? pol->name : "(none)");
		printf("%-12s %7s %7s %7s %7s %7s %7s %7s %7s\n", "category",
		    "n", "pos", "AUPRC", "ROC-AUC", "thresh", "prec",
		    "recall", "F1");
		for (j = 0; j < nl; j++)
			print_row(labels[j], &met[j]);
		print_row("any", &met[EVAL_ANY]);
		for (k = 0, j = 0; j < nl; j++)
			k += (size_t)met[j].threshold_default;
		if (k > 0)
			printf("* no threshold in the policy: 0.5\n");
		report_groups(&ev.groups, NULL);
	}
	rc = skipped ? EX_DATAERR : 0;
out:
	if (f != NULL)
		fclose(f);
	free(line);
	free(buf);
	free(ss.v);
	groups_free(&ev.groups);
	model_free(own);
	snapshot_unref(snap);
	return rc;
}
