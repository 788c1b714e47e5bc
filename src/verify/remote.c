/* SPDX-License-Identifier: MIT */
/* Placeholder until the network side lands (branch lib): network sources are refused. */
#include "util/err.h"
#include "verify/verifier_int.h"

enum lk_err lk_remote_start(struct lk_verifier *v, struct lk_errinfo *ei)
{
	return lk_errf(ei, LK_EUNSUPPORTED, "network key sources are not built in yet");
}
void lk_remote_stop(struct lk_verifier *v) {}
void lk_remote_want_keys(struct lk_verifier *v) {}
