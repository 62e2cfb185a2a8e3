/*
 * test-log: log_escape writes control characters as escapes, never cuts
 * one, and leaves everything else as it is.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"

static void
test_escapes(void **state)
{
	char	 out[64];

	assert_int_equal(log_escape(out, sizeof(out), "plain [id] ü"),
	    strlen("plain [id] ü"));
	assert_string_equal(out, "plain [id] ü");
	log_escape(out, sizeof(out), "a\nb\rc\td\x01" "e\x1b[2J\x7f");
	assert_string_equal(out, "a\\nb\\rc\\td\\x01e\\x1b[2J\\x7f");
	log_escape(out, sizeof(out), "x\n<0>forged");
	assert_null(strchr(out, '\n'));
	assert_string_equal(out, "x\\n<0>forged");
}

static void
test_bounds(void **state)
{
	char	 out[6];

	/* "ab\x01" needs 6 bytes and the NUL: the escape goes whole. */
	assert_int_equal(log_escape(out, sizeof(out), "ab\x01"), 2);
	assert_string_equal(out, "ab");
	assert_int_equal(log_escape(out, sizeof(out), "abcdefgh"), 5);
	assert_string_equal(out, "abcde");
	assert_int_equal(log_escape(out, 1, "abc"), 0);
	assert_string_equal(out, "");
	assert_int_equal(log_escape(out, 0, "abc"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
