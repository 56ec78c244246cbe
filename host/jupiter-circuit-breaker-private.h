/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <jupiter/jupiter.h>

#include <string.h>

G_BEGIN_DECLS

/* Called on the owner context after a breaker changed state or freed a trial
 * slot by itself (a timer), so the job manager can dispatch waiting jobs.
 * Its data is reference counted (a JupiterBreakerLink): a breaker holds a
 * reference while it calls, so the data cannot go away under the call. */
typedef void (*JupiterBreakerWatch) (JupiterCircuitBreaker *breaker,
                                     gpointer               data);

typedef struct {
  gatomicrefcount ref_count;
  GWeakRef        target;
} JupiterBreakerLink;

static inline JupiterBreakerLink *
jupiter_breaker_link_new (gpointer target)
{
  JupiterBreakerLink *link = g_new0 (JupiterBreakerLink, 1);

  g_atomic_ref_count_init (&link->ref_count);
  g_weak_ref_init (&link->target, target);
  return link;
}

static inline JupiterBreakerLink *
jupiter_breaker_link_ref (JupiterBreakerLink *link)
{
  g_atomic_ref_count_inc (&link->ref_count);
  return link;
}

static inline void
jupiter_breaker_link_unref (JupiterBreakerLink *link)
{
  if (g_atomic_ref_count_dec (&link->ref_count))
    {
      g_weak_ref_clear (&link->target);
      g_free (link);
    }
}

typedef struct {
  GSource  source;
  GWeakRef self;
} BreakerSource;

void     jupiter_circuit_breaker_set_context (JupiterCircuitBreaker      *self,
                                              GMainContext               *context);
void     jupiter_circuit_breaker_registry_set_watch (JupiterCircuitBreakerRegistry *self,
                                                     JupiterBreakerWatch            watch,
                                                     JupiterBreakerLink            *link);
void     jupiter_circuit_breaker_set_watch   (JupiterCircuitBreaker      *self,
                                              JupiterBreakerWatch         watch,
                                              JupiterBreakerLink         *link);
void     jupiter_circuit_breaker_acquire_bypass (JupiterCircuitBreaker *self,
                                                 JupiterCircuitPermit  *permit);
gboolean jupiter_circuit_permit_is_held      (const JupiterCircuitPermit *permit);

static inline GWeakRef *
breaker_weak_ref_new (gpointer object)
{
  GWeakRef *ref = g_new0 (GWeakRef, 1);

  g_weak_ref_init (ref, object);
  return ref;
}

static inline void
breaker_weak_ref_free (GWeakRef *ref)
{
  g_weak_ref_clear (ref);
  g_free (ref);
}

G_END_DECLS
