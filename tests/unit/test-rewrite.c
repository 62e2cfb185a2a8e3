/* test-rewrite: span merging and replacement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rewrite.h"

static void
check(const char *text, struct span_edit *e, size_t n, const char *want)
{
	size_t	 outlen = 12345;
	char	*out;

	out = rewrite_apply(text, strlen(text), e, n, &outlen);
	assert_non_null(out);
	assert_string_equal(out, want);
	assert_int_equal(outlen, strlen(want));
	free(out);
}

static void
test_none(void **state)
{
	check("hello world", NULL, 0, "hello world");
	check("", NULL, 0, "");
}

static void
test_single(void **state)
{
	struct span_edit e[] = { { 6, 11, "[x]" } };

	check("hello world", e, 1, "hello [x]");
}

static void
test_disjoint_unsorted(void **state)
{
	struct span_edit e[] = { { 6, 11, "B" }, { 0, 5, "A" } };

	check("hello world", e, 2, "A B");
}

static void
test_overlap_first_start_wins(void **state)
{
	/* [2,8) and [5,11) overlap: merged [2,11) takes "X" (starts first) */
	struct span_edit e[] = { { 5, 11, "Y" }, { 2, 8, "X" } };

	check("hello world", e, 2, "heX");
}

static void
test_tie_longest_wins(void **state)
{
	struct span_edit e[] = { { 0, 2, "short" }, { 0, 5, "long" } };

	check("hello world", e, 2, "long world");
}

static void
test_touching_merge(void **state)
{
	/* [0,5) and [5,6) touch: one replacement for [0,6) */
	struct span_edit e[] = { { 5, 6, "_" }, { 0, 5, "W" } };

	check("hello world", e, 2, "Wworld");
}

static void
test_contained(void **state)
{
	struct span_edit e[] = { { 0, 11, "ALL" }, { 3, 4, "x" }, { 6, 8, "y" } };

	check("hello world", e, 3, "ALL");
}

static void
test_chain(void **state)
{
	/* [0,3) [2,5) [4,7) chain into [0,7); [9,10) stays separate */
	struct span_edit e[] = { { 4, 7, "c" }, { 9, 10, "d" }, { 0, 3, "a" },
	    { 2, 5, "b" } };

	check("0123456789", e, 4, "a78d");
}

static void
test_empty_replacement_and_null(void **state)
{
	struct span_edit e[] = { { 0, 6, "" }, { 10, 11, NULL } };

	check("hello world", e, 2, "worl");
}

static void
test_insertion(void **state)
{
	struct span_edit e[] = { { 5, 5, "," } };

	check("hello world", e, 1, "hello, world");
}

static void
test_whole_multibyte(void **state)
{
	/* "é" is 2 bytes: spans are byte offsets */
	struct span_edit e[] = { { 3, 9, "***" } };

	check("caf\xc3\xa9 bar", e, 1, "caf***");
}

static void
test_out_of_bounds(void **state)
{
	struct span_edit e1[] = { { 3, 12, "x" } };
	struct span_edit e2[] = { { 5, 3, "x" } };
	struct span_edit e3[] = { { 0, 1, "ok" }, { SIZE_MAX - 1, SIZE_MAX, "x" } };
	size_t	 n;

	assert_null(rewrite_apply("hello world", 11, e1, 1, &n));
	assert_null(rewrite_apply("hello world", 11, e2, 1, &n));
	assert_null(rewrite_apply("hello world", 11, e3, 2, &n));
}

static void
test_many(void **state)
{
	char		 text[1001], want[1001];
	struct span_edit e[500];
	size_t		 i;

	/* every other byte replaced by "#": adjacent spans never touch */
	for (i = 0; i < 1000; i++)
		text[i] = 'a' + (i % 26);
	text[1000] = '\0';
	memcpy(want, text, sizeof(want));
	for (i = 0; i < 500; i++) {
		e[499 - i].start = 2 * i;
		e[499 - i].end = 2 * i + 1;
		e[499 - i].replacement = "#";
		want[2 * i] = '#';
	}
	check(text, e, 500, want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_single),
		cmocka_unit_test(test_disjoint_unsorted),
		cmocka_unit_test(test_overlap_first_start_wins),
		cmocka_unit_test(test_tie_longest_wins),
		cmocka_unit_test(test_touching_merge),
		cmocka_unit_test(test_contained),
		cmocka_unit_test(test_chain),
		cmocka_unit_test(test_empty_replacement_and_null),
		cmocka_unit_test(test_insertion),
		cmocka_unit_test(test_whole_multibyte),
		cmocka_unit_test(test_out_of_bounds),
		cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
