/* SPDX-License-Identifier: MIT */
/*
 * Epoch-based reclamation for the verifier's read-mostly state (keys, denylist tables,
 * cached verifications): readers never lock; a writer publishes a new version with an
 * atomic pointer store and retires the old one, which is freed once no reader that could
 * have loaded it is still inside a read section.
 *
 * Each thread that reads gets a slot of its own (a cache line, taken on its first read and
 * given back at thread exit). lk_ebr_enter stores the global epoch in it, lk_ebr_exit
 * clears it. An object retired at epoch R is freed when every slot is clear or at R or
 * later: a reader that loaded the old pointer entered before it was unpublished, so its
 * slot holds an epoch below R until it leaves.
 *
 * Rules: the pointer must be unpublished before lk_ebr_retire; read sections nest; a
 * thread must not block for long inside one (verification does not).
 */
#ifndef LK_VERIFY_EBR_H
#define LK_VERIFY_EBR_H

void lk_ebr_enter(void);
void lk_ebr_exit(void);
/* Free p with fn(p) once no reader can hold it. Never blocks on readers. */
void lk_ebr_retire(void *p, void (*fn)(void *));
/* Free whatever retired objects are safe to free now (also done by lk_ebr_retire). */
void lk_ebr_reclaim(void);
/* Wait until every object retired so far is freed (readers leave their sections). Must
 * not be called inside a read section. */
void lk_ebr_barrier(void);

#endif
