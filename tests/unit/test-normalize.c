/* test-normalize: strict UTF-8 validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "normalize.h"

#define V(s)	utf8_valid((s), sizeof(s) - 1)

static void
test_utf8_valid(void **state)
{
	assert_true(V(""));
	assert_true(V("plain ascii"));
	assert_true(V("caf\xc3\xa9"));			/* U+00E9 */
	assert_true(V("\xc2\x80"));			/* U+0080 */
	assert_true(V("\xdf\xbf"));			/* U+07FF */
	assert_true(V("\xe0\xa0\x80"));		/* U+0800 */
	assert_true(V("\xed\x9f\xbf"));		/* U+D7FF */
	assert_true(V("\xee\x80\x80"));		/* U+E000 */
	assert_true(V("\xef\xbf\xbf"));		/* U+FFFF */
	assert_true(V("\xf0\x90\x80\x80"));		/* U+10000 */
	assert_true(V("\xf4\x8f\xbf\xbf"));		/* U+10FFFF */
	assert_true(V("\xf0\x9f\x98\x80 emoji"));
}

static void
test_utf8_invalid(void **state)
{
	assert_false(V("a\0b"));			/* NUL */
	assert_false(V("\x80"));			/* lone continuation */
	assert_false(V("\xbf"));
	assert_false(V("\xc0\xaf"));			/* overlong '/' */
	assert_false(V("\xc1\xbf"));			/* overlong */
	assert_false(V("\xe0\x80\xaf"));		/* overlong 3-byte */
	assert_false(V("\xe0\x9f\xbf"));		/* overlong U+07FF */
	assert_false(V("\xf0\x80\x80\xaf"));		/* overlong 4-byte */
	assert_false(V("\xf0\x8f\xbf\xbf"));		/* overlong U+FFFF */
	assert_false(V("\xed\xa0\x80"));		/* U+D800 surrogate */
	assert_false(V("\xed\xbf\xbf"));		/* U+DFFF surrogate */
	assert_false(V("\xf4\x90\x80\x80"));		/* U+110000 */
	assert_false(V("\xf5\x80\x80\x80"));
	assert_false(V("\xff"));
	assert_false(V("\xfe"));
	assert_false(V("\xc3"));			/* truncated */
	assert_false(V("\xe2\x82"));
	assert_false(V("\xf0\x9f\x98"));
	assert_false(V("\xc3\x28"));			/* bad continuation */
	assert_false(V("\xe2\x28\xa1"));
	assert_false(V("\xf0\x9f\x28\x80"));
	assert_true(utf8_valid("ab\xc3", 2));		/* length honoured */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_utf8_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
