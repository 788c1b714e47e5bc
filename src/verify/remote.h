/* SPDX-License-Identifier: MIT */
/*
 * remote.c's side of the verifier beyond the three functions of verifier_int.h: the state
 * of the feed, which lk_verifier_stats copies out, so a caller can say why a subscribed
 * verifier is stale.
 */
#ifndef LK_VERIFY_REMOTE_H
#define LK_VERIFY_REMOTE_H

#include <stdint.h>
#include "verify/verifier_int.h"

struct lk_remote_status {
	uint64_t auth_failures;   /* 401/403 from /revocations or its stream: bad credentials */
	uint64_t feed_errors;     /* other failed connections or snapshots */
	uint64_t bad_events;      /* events skipped: malformed JSON, oversize, refused */
	uint64_t jwks_errors;     /* failed discoveries or JWKS fetches */
	char last_error[120];     /* the latest failure ("" when none); never a secret */
};

/* All zero when v has no remote state. Thread-safe. */
void lk_remote_status(struct lk_verifier *v, struct lk_remote_status *out);

#endif
