/*
 * normalize-pages: the cache of step 1 (norm_decode) for the code points
 * of the BMP.  See include/normalize-internal.h.
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "normalize-internal.h"

/*
 * The decoding of every code point of the BMP, per form, cached in pages
 * of 256 code points built on first use: what step 1 pushes for the code
 * point (utf8proc's decomposition with each code point's class; for the
 * skeleton, confusables already replaced), and for the normalized form
 * the composition of its last segment (from its last starter) as
 * norm_compose() computes it when nothing joins that segment from
 * outside.  Computed by the same functions as the uncached path, so both
 * agree by construction.  A page is built once per process (two threads
 * may both build one; one keeps its copy) and never freed.
 */

_Atomic(void *) norm_cpages[2][NPAGES];	/* struct cpage: normalized,
						   skeleton */
atomic_int	 norm_cache_off;	/* tests: decode without the cache */

int
normalize_cache(int on)
{
	return !atomic_exchange_explicit(&norm_cache_off, !on,
	    memory_order_relaxed);
}

/*
 * Page P cut down to its HDR bytes of entries (the offset of its pool) and
 * a pool of the N entries of ES bytes at TMP.  NULL (P freed) when out of
 * memory.
 */
void *
norm_page_trim(void *p, size_t hdr, const void *tmp, size_t n, size_t es)
{
	char	*q;

	if ((q = realloc(p, hdr + n * es)) == NULL) {
		free(p);
		return NULL;
	}
	memcpy(q + hdr, tmp, n * es);
	return q;
}

/*
 * Install page P, just built, in SLOT unless another thread's page got
 * there first.  Returns the page in SLOT (P, or the other one, P freed).
 */
void *
norm_page_publish(_Atomic(void *) *slot, void *p)
{
	void	*want = NULL;

	if (!atomic_compare_exchange_strong_explicit(slot, &want, p,
	    memory_order_acq_rel, memory_order_acquire)) {
		free(p);
		p = want;
	}
	return p;
}

int
norm_decode_options(int skel)
{
	return UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD |
	    UTF8PROC_IGNORE | UTF8PROC_LUMP | (skel ? UTF8PROC_STRIPMARK : 0);
}

/*
 * What step 1 pushes for CP in FORM, into U (room for 96 units).  Returns
 * the number of units.
 */
static size_t
cp_units(uint32_t cp, int skel, struct cu *u)
{
	utf8proc_int32_t dst[32];
	utf8proc_ssize_t m, j;
	const char	*conf;
	size_t		 n = 0;
	int		 bound = 0;
	uint32_t	 cls;

	m = utf8proc_decompose_char((utf8proc_int32_t)cp, dst, 32,
	    norm_decode_options(skel), &bound);
	if (m < 0 || m > 32)
		m = 0;
	for (j = 0; j < m; j++) {
		cls = norm_cp_class((uint32_t)dst[j]);
		if (skel && dst[j] >= 0x80 &&
		    (conf = norm_confusable((uint32_t)dst[j])) != NULL) {
			for (; *conf; conf++) {
				u[n].cp = (unsigned char)*conf;
				u[n].cls = ascii_cls[(unsigned char)*conf];
				n++;
			}
			continue;
		}
		u[n].cp = (uint32_t)dst[j];
		u[n].cls = cls;
		n++;
	}
	return n;
}

struct cpage *
norm_cpage_build(unsigned pg, int skel)
{
	struct cu	*tmp, cu[96];
	struct unit	 seg[64];
	struct scratch	 one;
	struct cpage	*p = NULL;
	size_t		 np = 0, n, i, t;
	unsigned	 c;

	if ((tmp = malloc(PAGE_SIZE * 160 * sizeof(*tmp))) == NULL)
		return NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		goto done;
	for (c = 0; c < PAGE_SIZE; c++) {
		n = cp_units((pg << PAGE_BITS) | c, skel, cu);
		p->e[c].off = (uint16_t)np;
		p->e[c].n = (uint8_t)n;
		p->e[c].tail = TAIL_NONE;
		memcpy(tmp + np, cu, n * sizeof(*cu));
		np += n;
		if (skel)
			continue;
		for (i = n; i-- > 0; )
			if (!cp_joins(cu[i].cp, cu[i].cls)) {
				p->e[c].tail = (uint8_t)i;
				break;
			}
		if (p->e[c].tail == TAIL_NONE)
			continue;
		/* the last segment composed alone */
		memset(&one, 0, sizeof(one));
		one.u = seg;
		one.cap = sizeof(seg) / sizeof(seg[0]);
		for (t = p->e[c].tail; t < n; t++, one.n++) {
			seg[one.n].cp = cu[t].cp;
			seg[one.n].cls = cu[t].cls;
			seg[one.n].a = 0;
			seg[one.n].b = 1;
		}
		norm_compose(&one, 0);
		p->e[c].coff = (uint16_t)np;
		p->e[c].nc = (uint8_t)one.n;
		for (t = 0; t < one.n; t++, np++) {
			tmp[np].cp = seg[t].cp;
			tmp[np].cls = seg[t].cls;
		}
	}
	p = norm_page_trim(p, offsetof(struct cpage, pool), tmp, np,
	    sizeof(*tmp));
done:
	free(tmp);
	return p;
}
