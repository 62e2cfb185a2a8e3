/* test-config: modgated.conf parsing, defaults and every kind of error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static char	 tmpdir[] = "/tmp/test-config.XXXXXX";
static char	 errors[65536];	/* stderr of the last load */

static const char *
write_file(const char *name, const char *text)
{
	static char	 path[512];
	FILE		*f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* config_load of TEXT with stderr captured into errors[]. */
static struct config *
load(const char *text)
{
	struct config	*cfg;
	const char	*path = write_file("modgated.conf", text);
	char		 epath[512];
	FILE		*f;
	size_t		 n;
	int		 saved, fd;

	snprintf(epath, sizeof(epath), "%s/stderr", tmpdir);
	fflush(stderr);
	saved = dup(2);
	f = fopen(epath, "w+");
	assert_non_null(f);
	fd = fileno(f);
	dup2(fd, 2);
	cfg = config_load(path);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	n = fread(errors, 1, sizeof(errors) - 1, f);
	errors[n] = '\0';
	fclose(f);
	return cfg;
}

/* A line of the error output starts "...modgated.conf:LINE: " and holds MSG. */
static void
assert_error(int line, const char *msg)
{
	char		 want[64];
	const char	*p, *eol, *at;

	snprintf(want, sizeof(want), "modgated.conf:%d: ", line);
	for (p = errors; *p != '\0'; p = *eol != '\0' ? eol + 1 : eol) {
		if ((eol = strchr(p, '\n')) == NULL)
			eol = p + strlen(p);
		if ((at = strstr(p, want)) == NULL || at > eol)
			continue;
		at = strstr(at, msg);
		if (at != NULL && at + strlen(msg) <= eol)
			return;
	}
	fprintf(stderr, "wanted: %s%s\ngot:\n%s", want, msg, errors);
	fail();
}

static const char good[] =
    "server = {\n"
    "  socket = \"run/m.sock\";\n"
    "  socket_mode = 0640;\n"
    "  allowed_uids = [ 0, 1000 ];\n"
    "  admin_uids = [ \"root\" ];\n"
    "  max_request_bytes = 4096;\n"
    "  request_timeout = 250;\n"
    "  workers = 3;\n"
    "  default_policy = \"strict\";\n"
    "  peer_policies = ( { uid = 1000; policy = \"lax\"; },\n"
    "                    { gid = 100; policy = \"strict\"; } );\n"
    "};\n"
    "rules = { paths = [ \"r/*.rules\", \"/abs/x.rules\" ]; };\n"
    "classifier = { window = 128; stride = 64; };\n"
    "audit = { text = \"full\"; fsync = \"never\"; rotate_bytes = 10000000000L; };\n"
    "policies = {\n"
    "  strict = {\n"
    "    message = \"no\";\n"
    "    rewrite_scope = \"all\";\n"
    "    on_error = \"allow\";\n"
    "    stages = [ \"rules\" ];\n"
    "    categories = { hate = { block = 0.9; rewrite = 0.5; };\n"
    "                   sexual = { block = 0.8; }; };\n"
    "    block_rule_categories = [ \"pii\" ];\n"
    "  };\n"
    "  lax = { monitor = true; audit_text = \"none\"; };\n"
    "};\n";

static void
test_good(void **state)
{
	struct config			*cfg;
	const struct policy_conf	*p;
	char				 want[512];

	cfg = load(good);
	assert_non_null(cfg);
	assert_string_equal(errors, "");
	snprintf(want, sizeof(want), "%s/run/m.sock", tmpdir);
	assert_string_equal(cfg->server.socket, want);
	assert_int_equal(cfg->server.socket_mode, 0640);
	assert_int_equal(cfg->server.n_allowed_uids, 2);
	assert_int_equal(cfg->server.allowed_uids[1], 1000);
	assert_int_equal(cfg->server.n_admin_uids, 1);
	assert_int_equal(cfg->server.admin_uids[0], 0);
	assert_int_equal(cfg->server.max_request_bytes, 4096);
	assert_int_equal(cfg->server.request_timeout, 250);
	assert_int_equal(cfg->server.workers, 3);
	assert_int_equal(cfg->server.n_peer_policies, 2);
	assert_false(cfg->server.peer_policies[0].is_gid);
	assert_int_equal(cfg->server.peer_policies[0].id, 1000);
	assert_string_equal(cfg->server.peer_policies[0].policy, "lax");
	assert_true(cfg->server.peer_policies[1].is_gid);
	assert_int_equal(cfg->rules.n_paths, 2);
	snprintf(want, sizeof(want), "%s/r/*.rules", tmpdir);
	assert_string_equal(cfg->rules.paths[0], want);
	assert_string_equal(cfg->rules.paths[1], "/abs/x.rules");
	assert_int_equal(cfg->classifier.window, 128);
	assert_int_equal(cfg->audit.text, AUDIT_TEXT_FULL);
	assert_int_equal(cfg->audit.fsync, AUDIT_FSYNC_NEVER);
	assert_true(cfg->audit.rotate_bytes == 10000000000LL);

	assert_int_equal(cfg->n_policies, 2);
	p = config_policy(cfg, "strict");
	assert_non_null(p);
	assert_string_equal(p->message, "no");
	assert_int_equal(p->rewrite_scope, REWRITE_ALL);
	assert_int_equal(p->on_error, ON_ERROR_ALLOW);
	assert_true(p->stage_rules);
	assert_false(p->stage_classifier);
	assert_int_equal(p->n_thresholds, 2);
	assert_string_equal(p->thresholds[0].category, "hate");
	assert_true(p->thresholds[0].block == 0.9);
	assert_true(p->thresholds[0].rewrite == 0.5);
	assert_true(p->thresholds[1].rewrite > 1.0);	/* never */
	assert_int_equal(p->n_block_rule_categories, 1);
	assert_string_equal(p->block_rule_categories[0], "pii");
	/* audit.text is inherited unless the policy overrides it. */
	assert_false(p->has_audit_text);
	assert_int_equal(p->audit_text, AUDIT_TEXT_FULL);
	p = config_policy(cfg, "lax");
	assert_non_null(p);
	assert_true(p->monitor);
	assert_true(p->has_audit_text);
	assert_int_equal(p->audit_text, AUDIT_TEXT_NONE);
	assert_null(config_policy(cfg, "nope"));
	config_free(cfg);
}

static void
test_defaults(void **state)
{
	struct config	*cfg;
	char		 want[512];

	cfg = load("# nothing set\n");
	assert_non_null(cfg);
	assert_string_equal(cfg->server.socket, "/run/modgate/modgated.sock");
	assert_int_equal(cfg->server.socket_mode, 0660);
	assert_string_equal(cfg->server.socket_group, "");
	assert_int_equal(cfg->server.max_connections, 1024);
	assert_int_equal(cfg->server.max_connections_per_uid, 64);
	assert_int_equal(cfg->server.max_request_bytes, 1048576);
	assert_int_equal(cfg->server.idle_timeout, 300);
	assert_int_equal(cfg->server.request_timeout, 5000);
	assert_int_equal(cfg->server.queue_max, 1024);
	assert_string_equal(cfg->server.default_policy, "default");
	assert_int_equal(cfg->rules.n_paths, 1);
	snprintf(want, sizeof(want), "%s/rules/*.rules", tmpdir);
	assert_string_equal(cfg->rules.paths[0], want);
	assert_int_equal(cfg->rules.match_limit, 1000000);
	assert_true(cfg->classifier.enabled);
	assert_int_equal(cfg->classifier.window, 256);
	assert_int_equal(cfg->audit.text, AUDIT_TEXT_HASH);
	assert_int_equal(cfg->audit.on_failure, AUDIT_FAIL_BLOCK);
	assert_false(cfg->http.enabled);
	assert_string_equal(cfg->http.listen, "127.0.0.1:8080");
	/* Without a policies section: one implicit policy "default". */
	assert_int_equal(cfg->n_policies, 1);
	assert_string_equal(cfg->policies[0].name, "default");
	assert_true(cfg->policies[0].stage_rules);
	assert_true(cfg->policies[0].stage_classifier);
	assert_int_equal(cfg->policies[0].on_error, ON_ERROR_BLOCK);
	assert_string_equal(cfg->policies[0].rewrite_text, "[removed]");
	config_free(cfg);
}

static void
test_policy_list(void **state)
{
	struct config	*cfg;

	cfg = load("policies = ( { name = \"default\"; },\n"
	    "  { name = \"b\"; message = \"x\"; } );\n");
	assert_non_null(cfg);
	assert_int_equal(cfg->n_policies, 2);
	assert_string_equal(config_policy(cfg, "b")->message, "x");
	config_free(cfg);

	assert_null(load("policies = ( { name = \"default\"; },\n"
	    "  { name = \"default\"; } );\n"));
	assert_error(2, "two policies named \"default\"");
	assert_null(load("policies = ( { message = \"x\"; } );\n"));
	assert_error(1, "policy without a name");
}

static void
test_unknown_keys(void **state)
{
	assert_null(load("server = {\n  sockett = \"x\";\n};\n"));
	assert_error(2, "unknown option server.sockett");
	assert_null(load("\n\nsrever = { };\n"));
	assert_error(3, "unknown section srever");
	assert_null(load("policies = { default = {\n"
	    "  categories = { hate = { blok = 0.5; }; };\n}; };\n"));
	assert_error(2, "unknown option policies.default.categories.hate.blok");
	assert_null(load("server = { peer_policies = (\n"
	    "  { uid = 1; policy = \"default\"; pid = 3; } ); };\n"));
	assert_error(2, "unknown option pid");
}

static void
test_wrong_types(void **state)
{
	assert_null(load("server = { max_connections = \"many\"; };\n"));
	assert_error(1, "server.max_connections: expected an integer");
	assert_null(load("server = {\n socket = 3;\n};\n"));
	assert_error(2, "server.socket: expected a string");
	assert_null(load("classifier = { enabled = 1; };\n"));
	assert_error(1, "classifier.enabled: expected true or false");
	assert_null(load("rules = { paths = \"x\"; };\n"));
	assert_error(1, "rules.paths: expected a list");
	assert_null(load("rules = { match_limit = 1.5; };\n"));
	assert_error(1, "rules.match_limit: expected an integer");
	assert_null(load("server = { allowed_uids = [ \"no-such-user-x\" ]; };\n"));
	assert_error(1, "unknown user \"no-such-user-x\"");
	assert_null(load("audit = { text = \"all\"; };\n"));
	assert_error(1, "audit.text: unknown value \"all\"");
	assert_null(load("policies = { default = { stages = [ \"magic\" ]; }; };\n"));
	assert_error(1, "unknown stage \"magic\"");
	assert_null(load("server = { socket_mode = 0999; };\n"));
	assert_error(1, "server.socket_mode: 999 is not an octal mode");
	assert_null(load("server = { socket_mode = \"rw\"; };\n"));
	assert_error(1, "server.socket_mode: expected an octal mode");
}

static void
test_ranges(void **state)
{
	assert_null(load("server = { max_connections = 0; };\n"));
	assert_error(1, "server.max_connections: 0 out of range [1, 65536]");
	assert_null(load("server = { max_request_bytes = 100000000; };\n"));
	assert_error(1, "server.max_request_bytes: 100000000 out of range "
	    "[64, 16777216]");
	assert_null(load("policies = { default = {\n categories = {\n"
	    "  hate = { block = 2.5; }; }; }; };\n"));
	assert_error(3, "policies.default.categories.hate.block: 2.5 out of "
	    "range [0, 2]");
	assert_null(load("server = { socket_mode = 01777; };\n"));
	assert_error(1, "server.socket_mode: expected an octal mode");
	assert_null(load("classifier = { window = 32; stride = 64; };\n"));
	assert_error(1, "classifier.stride 64 exceeds classifier.window 32");
}

static void
test_references(void **state)
{
	assert_null(load("server = { default_policy = \"nope\"; };\n"));
	assert_error(1, "server.default_policy: no policy named \"nope\"");
	assert_null(load("server = { peer_policies = (\n"
	    "  { uid = 5; policy = \"default\"; },\n"
	    "  { gid = 5; policy = \"ghost\"; } ); };\n"));
	assert_error(3, "server.peer_policies: no policy named \"ghost\"");
	assert_null(load("server = { peer_policies = ( { uid = 5; } ); };\n"));
	assert_error(1, "entry without policy");
	assert_null(load("server = { peer_policies = (\n"
	    "  { uid = 5; gid = 5; policy = \"default\"; } ); };\n"));
	assert_error(2, "give one of uid or gid");
}

static void
test_syntax_error(void **state)
{
	assert_null(load("server = {\n  socket = \"x\";\n  workers = ;\n};\n"));
	assert_error(3, "syntax error");
}

/* Every error of a file in one run, in line order. */
static void
test_all_errors(void **state)
{
	char	*a, *b, *c;

	assert_null(load("audit = { text = \"x\"; };\n"
	    "server = { bogus = 1;\n"
	    "  workers = 1000; };\n"
	    "policies = { default = { on_error = \"maybe\"; }; };\n"));
	assert_error(1, "audit.text: unknown value");
	assert_error(2, "unknown option server.bogus");
	assert_error(3, "server.workers: 1000 out of range");
	assert_error(4, "policies.default.on_error: unknown value");
	assert_non_null(strstr(errors, "4 errors"));
	a = strstr(errors, "conf:1:");
	b = strstr(errors, "conf:2:");
	c = strstr(errors, "conf:4:");
	assert_true(a != NULL && b != NULL && c != NULL && a < b && b < c);
}

static void
test_missing_file(void **state)
{
	char	 path[512];

	snprintf(path, sizeof(path), "%s/none.conf", tmpdir);
	assert_null(config_load(path));
}

static void
test_dump_options(void **state)
{
	char	 path[512], buf[65536];
	FILE	*f;
	size_t	 n;
	int	 saved;

	snprintf(path, sizeof(path), "%s/options", tmpdir);
	fflush(stdout);
	saved = dup(1);
	f = fopen(path, "w+");
	assert_non_null(f);
	dup2(fileno(f), 1);
	config_dump_options();
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_non_null(strstr(buf, "server.socket\tpath\t"));
	assert_non_null(strstr(buf, "server.max_request_bytes\tint\t64..16777216"
	    "\t1048576\t"));
	assert_non_null(strstr(buf, "audit.fsync\tenum\talways|interval|never"
	    "\tinterval\t"));
	assert_non_null(strstr(buf, "policies.NAME.categories.LABEL.block\t"));
	assert_non_null(strstr(buf, "server.peer_policies[].uid\t"));
}

static int
setup(void **state)
{
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char	 cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_policy_list),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_references),
		cmocka_unit_test(test_syntax_error),
		cmocka_unit_test(test_all_errors),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_dump_options),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
