/*
 * kp_fido.h: declarations of keyprep's C helpers around libfido2 1.12.
 *
 * Every kp_* operation helper is one C call that first runs
 * fido_init(flags) (libfido2 keeps its init flags in thread-local storage,
 * docs/ctap.md §7.4), then sets the operation timeout, then performs the
 * operation. Implementations live in kp_fido.c.
 */
#ifndef KEYPREP_KP_FIDO_H
#define KEYPREP_KP_FIDO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <fido.h>
#include <fido/config.h>
#include <fido/credman.h>
#include <fido/bio.h>

/* Secrets (PINs): calloc'd, NUL-terminated; wiped with explicit_bzero
 * (SecureZeroMemory on Windows). */
char *kp_secret_alloc(size_t n);
void kp_secret_free(char *p, size_t n);

int kp_manifest(fido_dev_info_t *di, size_t n, size_t *olen, int flags);
int kp_open(fido_dev_t *dev, const char *path, int flags, int ms, int vkey);
int kp_close(fido_dev_t *dev, int flags);
int kp_cancel(fido_dev_t *dev, int flags);

int kp_get_cbor_info(fido_dev_t *dev, int flags, int ms, fido_cbor_info_t *ci);
int kp_get_retry_count(fido_dev_t *dev, int flags, int ms, int *n);
int kp_get_uv_retry_count(fido_dev_t *dev, int flags, int ms, int *n);
int kp_set_pin(fido_dev_t *dev, int flags, int ms, const char *pin, const char *oldpin);
int kp_reset(fido_dev_t *dev, int flags, int ms);

int kp_set_pin_minlen(fido_dev_t *dev, int flags, int ms, size_t len, const char *pin);
int kp_set_pin_minlen_rpid(fido_dev_t *dev, int flags, int ms, const char * const *ids, size_t n, const char *pin);
int kp_force_pin_change(fido_dev_t *dev, int flags, int ms, const char *pin);
int kp_toggle_always_uv(fido_dev_t *dev, int flags, int ms, const char *pin);
int kp_enable_entattest(fido_dev_t *dev, int flags, int ms, const char *pin);

int kp_make_cred(fido_dev_t *dev, int flags, int ms, fido_cred_t *cred, const char *pin);
int kp_get_assert(fido_dev_t *dev, int flags, int ms, fido_assert_t *a, const char *pin);

int kp_credman_metadata(fido_dev_t *dev, int flags, int ms, fido_credman_metadata_t *md, const char *pin);
int kp_credman_rp(fido_dev_t *dev, int flags, int ms, fido_credman_rp_t *rp, const char *pin);
int kp_credman_rk(fido_dev_t *dev, int flags, int ms, const char *rpid, fido_credman_rk_t *rk, const char *pin);
int kp_credman_del(fido_dev_t *dev, int flags, int ms, const unsigned char *id, size_t len, const char *pin);
int kp_credman_set(fido_dev_t *dev, int flags, int ms, fido_cred_t *cred, const char *pin);

int kp_bio_info(fido_dev_t *dev, int flags, int ms, fido_bio_info_t *bi);
int kp_bio_templates(fido_dev_t *dev, int flags, int ms, fido_bio_template_array_t *ta, const char *pin);
int kp_bio_set_name(fido_dev_t *dev, int flags, int ms, const unsigned char *id, size_t len, const char *name, const char *pin);
int kp_bio_remove(fido_dev_t *dev, int flags, int ms, const unsigned char *id, size_t len, const char *pin);
int kp_bio_enroll_begin(fido_dev_t *dev, int flags, int ms, fido_bio_template_t *t, fido_bio_enroll_t *e, uint32_t sample_ms, const char *pin);
int kp_bio_enroll_continue(fido_dev_t *dev, int flags, int ms, const fido_bio_template_t *t, fido_bio_enroll_t *e, uint32_t sample_ms);
int kp_bio_enroll_cancel(fido_dev_t *dev, int flags, int ms);

int kp_touch_begin(fido_dev_t *dev, int flags, int ms);
int kp_touch_status(fido_dev_t *dev, int flags, int *touched, int ms);

/* Accessors for the const char * const * / pointer-array getters. */
const char *kp_str_at(char **v, size_t i);

#endif
