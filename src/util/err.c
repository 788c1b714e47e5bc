/* SPDX-License-Identifier: MIT */
/*
 * The table of error codes: stable reason words and classes. The numbers in latchkey.h
 * never move; this file is the only place that names them, and docs/errors.md mirrors it
 * (tests/meta checks that every code is documented).
 */
#include <stdarg.h>
#include <stdio.h>

#include "util/err.h"

static const struct {
	enum lk_err code;
	enum lk_err_class cls;
	const char *word;
} errs[] = {
	{LK_OK, LK_CLASS_OK, "ok"},
	{LK_EMALFORMED, LK_CLASS_INPUT, "malformed"},
	{LK_ETOO_LARGE, LK_CLASS_INPUT, "too_large"},
	{LK_EBASE64, LK_CLASS_INPUT, "bad_base64"},
	{LK_EJSON, LK_CLASS_INPUT, "bad_json"},
	{LK_EDUPLICATE, LK_CLASS_INPUT, "duplicate_member"},
	{LK_EALG_NONE, LK_CLASS_REJECTED, "alg_none"},
	{LK_EALG_NOT_ALLOWED, LK_CLASS_REJECTED, "alg_not_allowed"},
	{LK_ENO_KEY, LK_CLASS_REJECTED, "no_matching_key"},
	{LK_EBAD_SIGNATURE, LK_CLASS_REJECTED, "bad_signature"},
	{LK_EWEAK_KEY, LK_CLASS_REJECTED, "weak_key"},
	{LK_ECRIT, LK_CLASS_REJECTED, "unsupported_crit"},
	{LK_EEXPIRED, LK_CLASS_REJECTED, "expired"},
	{LK_ENOT_YET_VALID, LK_CLASS_REJECTED, "not_yet_valid"},
	{LK_EIAT_FUTURE, LK_CLASS_REJECTED, "issued_in_future"},
	{LK_EISSUER, LK_CLASS_REJECTED, "bad_issuer"},
	{LK_EAUDIENCE, LK_CLASS_REJECTED, "bad_audience"},
	{LK_EMISSING_CLAIM, LK_CLASS_REJECTED, "missing_claim"},
	{LK_ECLAIM_TYPE, LK_CLASS_REJECTED, "bad_claim"},
	{LK_ETYP, LK_CLASS_REJECTED, "bad_typ"},
	{LK_EHEADER, LK_CLASS_REJECTED, "bad_header"},
	{LK_EREVOKED, LK_CLASS_REJECTED, "revoked"},
	{LK_EKEY_AMBIGUOUS, LK_CLASS_REJECTED, "ambiguous_key"},
	{LK_EKEY, LK_CLASS_KEY, "bad_key"},
	{LK_EUNSUPPORTED, LK_CLASS_KEY, "unsupported"},
	{LK_EKEY_USE, LK_CLASS_KEY, "key_not_for_signing"},
	{LK_ENO_PRIVATE, LK_CLASS_KEY, "no_private_key"},
	{LK_ENOMEM, LK_CLASS_SYSTEM, "out_of_memory"},
	{LK_ECRYPTO, LK_CLASS_SYSTEM, "crypto_error"},
	{LK_EIO, LK_CLASS_SYSTEM, "io_error"},
	{LK_EINVAL, LK_CLASS_SYSTEM, "invalid_argument"},
	{LK_EBUSY, LK_CLASS_SYSTEM, "busy"},
	{LK_ESTALE, LK_CLASS_SYSTEM, "stale"},
	{LK_ENOT_FOUND, LK_CLASS_STORE, "not_found"},
	{LK_EEXISTS, LK_CLASS_STORE, "already_exists"},
	{LK_ESTORE, LK_CLASS_STORE, "store_unavailable"},
	{LK_ESTORE_CORRUPT, LK_CLASS_STORE, "store_corrupt"},
	{LK_ESTORE_VERSION, LK_CLASS_STORE, "store_version"},
	{LK_ESTORE_READONLY, LK_CLASS_STORE, "store_readonly"},
	{LK_EBAD_CREDENTIALS, LK_CLASS_AUTH, "invalid_credentials"},
	{LK_ERATE_LIMITED, LK_CLASS_AUTH, "rate_limited"},
	{LK_ESESSION, LK_CLASS_AUTH, "invalid_session"},
	{LK_EFORBIDDEN, LK_CLASS_AUTH, "forbidden"},
	{LK_ECSRF, LK_CLASS_AUTH, "csrf"},
};

const char *lk_err_str(enum lk_err err)
{
	for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++)
		if (errs[i].code == err)
			return errs[i].word;
	return "unknown";
}

enum lk_err_class lk_err_class(enum lk_err err)
{
	for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++)
		if (errs[i].code == err)
			return errs[i].cls;
	return LK_CLASS_SYSTEM;
}

enum lk_err lk_errf(struct lk_errinfo *ei, enum lk_err err, const char *fmt, ...)
{
	if (ei) {
		va_list ap;
		ei->code = err;
		va_start(ap, fmt);
		vsnprintf(ei->detail, sizeof ei->detail, fmt, ap);
		va_end(ap);
	}
	return err;
}
