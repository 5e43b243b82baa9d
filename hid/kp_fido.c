//go:build cgo

/*
 * kp_fido.c: keyprep's C side of the libfido2 binding.
 *
 * 1. Operation helpers: each runs fido_init(flags) and fido_dev_set_timeout
 *    in the same C call as the libfido2 operation (docs/ctap.md §7.4).
 * 2. I/O hook trampolines with libfido2's exact fido_dev_io_t signatures.
 *    They turn the opaque handle back into an integer id and call the Go
 *    exports in io_cgo.go; no Go pointer is ever stored in libfido2.
 */
#define _DEFAULT_SOURCE
#include <string.h>
#ifdef _WIN32
#include <windows.h>
#endif

#include "kp_fido.h"
#include "_cgo_export.h"

char *
kp_secret_alloc(size_t n)
{
	return calloc(1, n + 1);
}

void
kp_secret_free(char *p, size_t n)
{
	if (p == NULL)
		return;
#ifdef _WIN32
	/* mingw has no explicit_bzero; SecureZeroMemory is the Windows
	 * primitive that the compiler may not elide. */
	SecureZeroMemory(p, n + 1);
#else
	explicit_bzero(p, n + 1);
#endif
	free(p);
}

const char *
kp_str_at(char **v, size_t i)
{
	return v == NULL ? NULL : v[i];
}

/* ---- I/O hooks --------------------------------------------------------- */

static void *
kp_io_open(const char *path)
{
	return (void *)(uintptr_t)kpGoIOOpen((char *)path);
}

static void
kp_io_close(void *h)
{
	kpGoIOClose((uintptr_t)h);
}

static int
kp_io_read(void *h, unsigned char *buf, size_t len, int ms)
{
	return kpGoIORead((uintptr_t)h, buf, len, ms);
}

static int
kp_io_write(void *h, const unsigned char *buf, size_t len)
{
	return kpGoIOWrite((uintptr_t)h, (unsigned char *)buf, len);
}

static const fido_dev_io_t kp_io = {
	kp_io_open,
	kp_io_close,
	kp_io_read,
	kp_io_write,
};

/* ---- operations -------------------------------------------------------- */

static int
prep(fido_dev_t *dev, int flags, int ms)
{
	fido_init(flags);
	return fido_dev_set_timeout(dev, ms);
}

#define PREP(dev, flags, ms) do { \
	int _r = prep((dev), (flags), (ms)); \
	if (_r != FIDO_OK) \
		return _r; \
} while (0)

int
kp_manifest(fido_dev_info_t *di, size_t n, size_t *olen, int flags)
{
	fido_init(flags);
	return fido_dev_info_manifest(di, n, olen);
}

int
kp_open(fido_dev_t *dev, const char *path, int flags, int ms, int vkey)
{
	int r;

	PREP(dev, flags, ms);
	if (vkey && (r = fido_dev_set_io_functions(dev, &kp_io)) != FIDO_OK)
		return r;
	return fido_dev_open(dev, path);
}

int
kp_close(fido_dev_t *dev, int flags)
{
	fido_init(flags);
	return fido_dev_close(dev);
}

int
kp_cancel(fido_dev_t *dev, int flags)
{
	fido_init(flags);
	return fido_dev_cancel(dev);
}

int
kp_get_cbor_info(fido_dev_t *dev, int flags, int ms, fido_cbor_info_t *ci)
{
	PREP(dev, flags, ms);
	return fido_dev_get_cbor_info(dev, ci);
}

int
kp_get_retry_count(fido_dev_t *dev, int flags, int ms, int *n)
{
	PREP(dev, flags, ms);
	return fido_dev_get_retry_count(dev, n);
}

int
kp_get_uv_retry_count(fido_dev_t *dev, int flags, int ms, int *n)
{
	PREP(dev, flags, ms);
	return fido_dev_get_uv_retry_count(dev, n);
}

int
kp_set_pin(fido_dev_t *dev, int flags, int ms, const char *pin, const char *oldpin)
{
	PREP(dev, flags, ms);
	return fido_dev_set_pin(dev, pin, oldpin);
}

int
kp_reset(fido_dev_t *dev, int flags, int ms)
{
	PREP(dev, flags, ms);
	return fido_dev_reset(dev);
}

int
kp_set_pin_minlen(fido_dev_t *dev, int flags, int ms, size_t len, const char *pin)
{
	PREP(dev, flags, ms);
	return fido_dev_set_pin_minlen(dev, len, pin);
}

int
kp_set_pin_minlen_rpid(fido_dev_t *dev, int flags, int ms, const char * const *ids, size_t n, const char *pin)
{
	PREP(dev, flags, ms);
	return fido_dev_set_pin_minlen_rpid(dev, ids, n, pin);
}

int
kp_force_pin_change(fido_dev_t *dev, int flags, int ms, const char *pin)
{
	PREP(dev, flags, ms);
	return fido_dev_force_pin_change(dev, pin);
}

int
kp_toggle_always_uv(fido_dev_t *dev, int flags, int ms, const char *pin)
{
	PREP(dev, flags, ms);
	return fido_dev_toggle_always_uv(dev, pin);
}

int
kp_enable_entattest(fido_dev_t *dev, int flags, int ms, const char *pin)
{
	PREP(dev, flags, ms);
	return fido_dev_enable_entattest(dev, pin);
}

int
kp_make_cred(fido_dev_t *dev, int flags, int ms, fido_cred_t *cred, const char *pin)
{
	PREP(dev, flags, ms);
	return fido_dev_make_cred(dev, cred, pin);
}

int
kp_get_assert(fido_dev_t *dev, int flags, int ms, fido_assert_t *a, const char *pin)
{
	PREP(dev, flags, ms);
	return fido_dev_get_assert(dev, a, pin);
}

int
kp_credman_metadata(fido_dev_t *dev, int flags, int ms, fido_credman_metadata_t *md, const char *pin)
{
	PREP(dev, flags, ms);
	return fido_credman_get_dev_metadata(dev, md, pin);
}

int
kp_credman_rp(fido_dev_t *dev, int flags, int ms, fido_credman_rp_t *rp, const char *pin)
{
	PREP(dev, flags, ms);
	return fido_credman_get_dev_rp(dev, rp, pin);
}

int
kp_credman_rk(fido_dev_t *dev, int flags, int ms, const char *rpid, fido_credman_rk_t *rk, const char *pin)
{
	PREP(dev, flags, ms);
	return fido_credman_get_dev_rk(dev, rpid, rk, pin);
}

int
kp_credman_del(fido_dev_t *dev, int flags, int ms, const unsigned char *id, size_t len, const char *pin)
{
	PREP(dev, flags, ms);
	return fido_credman_del_dev_rk(dev, id, len, pin);
}

int
kp_credman_set(fido_dev_t *dev, int flags, int ms, fido_cred_t *cred, const char *pin)
{
	PREP(dev, flags, ms);
	return fido_credman_set_dev_rk(dev, cred, pin);
}

/* ---- bio enrollment (fido/bio.h) --------------------------------------- */

int
kp_bio_info(fido_dev_t *dev, int flags, int ms, fido_bio_info_t *bi)
{
	PREP(dev, flags, ms);
	return fido_bio_dev_get_info(dev, bi);
}

int
kp_bio_templates(fido_dev_t *dev, int flags, int ms, fido_bio_template_array_t *ta, const char *pin)
{
	PREP(dev, flags, ms);
	return fido_bio_dev_get_template_array(dev, ta, pin);
}

/* bio_template builds a template with id (and name, when not NULL). */
static fido_bio_template_t *
bio_template(const unsigned char *id, size_t len, const char *name)
{
	fido_bio_template_t *t;

	if ((t = fido_bio_template_new()) == NULL)
		return NULL;
	if (fido_bio_template_set_id(t, id, len) != FIDO_OK ||
	    (name != NULL && fido_bio_template_set_name(t, name) != FIDO_OK)) {
		fido_bio_template_free(&t);
		return NULL;
	}
	return t;
}

int
kp_bio_set_name(fido_dev_t *dev, int flags, int ms, const unsigned char *id, size_t len, const char *name, const char *pin)
{
	fido_bio_template_t *t;
	int r;

	PREP(dev, flags, ms);
	if ((t = bio_template(id, len, name)) == NULL)
		return FIDO_ERR_INTERNAL;
	r = fido_bio_dev_set_template_name(dev, t, pin);
	fido_bio_template_free(&t);
	return r;
}

int
kp_bio_remove(fido_dev_t *dev, int flags, int ms, const unsigned char *id, size_t len, const char *pin)
{
	fido_bio_template_t *t;
	int r;

	PREP(dev, flags, ms);
	if ((t = bio_template(id, len, NULL)) == NULL)
		return FIDO_ERR_INTERNAL;
	r = fido_bio_dev_enroll_remove(dev, t, pin);
	fido_bio_template_free(&t);
	return r;
}

int
kp_bio_enroll_begin(fido_dev_t *dev, int flags, int ms, fido_bio_template_t *t, fido_bio_enroll_t *e, uint32_t sample_ms, const char *pin)
{
	PREP(dev, flags, ms);
	return fido_bio_dev_enroll_begin(dev, t, e, sample_ms, pin);
}

int
kp_bio_enroll_continue(fido_dev_t *dev, int flags, int ms, const fido_bio_template_t *t, fido_bio_enroll_t *e, uint32_t sample_ms)
{
	PREP(dev, flags, ms);
	return fido_bio_dev_enroll_continue(dev, t, e, sample_ms);
}

int
kp_bio_enroll_cancel(fido_dev_t *dev, int flags, int ms)
{
	PREP(dev, flags, ms);
	return fido_bio_dev_enroll_cancel(dev);
}

int
kp_touch_begin(fido_dev_t *dev, int flags, int ms)
{
	PREP(dev, flags, ms);
	return fido_dev_get_touch_begin(dev);
}

int
kp_touch_status(fido_dev_t *dev, int flags, int *touched, int ms)
{
	fido_init(flags);
	return fido_dev_get_touch_status(dev, touched, ms);
}
