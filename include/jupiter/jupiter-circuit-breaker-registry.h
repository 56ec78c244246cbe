/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(JUPITER_INSIDE) && !defined(JUPITER_COMPILATION)
#error "Only <jupiter/jupiter.h> can be included directly."
#endif

#include <glib-object.h>

#include "jupiter-circuit-breaker.h"
#include "jupiter-clock.h"
#include "jupiter-version-macros.h"

G_BEGIN_DECLS

/**
 * JupiterCircuitBreakerConfig:
 * @failure_threshold: consecutive failures that open the breaker; 0 for the
 *   registry's default
 * @cooldown: microseconds the breaker stays open; 0 for the default
 * @half_open_max_calls: trial calls at once while half-open; 0 for the default
 * @success_threshold: successful trials that close it; 0 for the default
 *
 * Per-plugin thresholds for jupiter_circuit_breaker_registry_get_or_create().
 */
typedef struct {
  guint     failure_threshold;
  GTimeSpan cooldown;
  guint     half_open_max_calls;
  guint     success_threshold;
  /*< private >*/
  gpointer  padding[4];
} JupiterCircuitBreakerConfig;

/**
 * JupiterCircuitBreakerStats:
 * @breakers: how many breakers the registry holds
 * @closed: how many are closed
 * @open: how many are open
 * @half_open: how many are half-open
 * @total_calls: calls over all breakers
 * @total_failures: failures over all breakers
 * @total_rejected: rejections over all breakers
 * @times_opened: openings over all breakers
 *
 * A registry's counters, from jupiter_circuit_breaker_registry_get_stats().
 */
typedef struct {
  guint   breakers;
  guint   closed;
  guint   open;
  guint   half_open;
  guint64 total_calls;
  guint64 total_failures;
  guint64 total_rejected;
  guint64 times_opened;
  /*< private >*/
  gpointer padding[4];
} JupiterCircuitBreakerStats;

#define JUPITER_TYPE_CIRCUIT_BREAKER_REGISTRY (jupiter_circuit_breaker_registry_get_type ())

JUPITER_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (JupiterCircuitBreakerRegistry, jupiter_circuit_breaker_registry,
                      JUPITER, CIRCUIT_BREAKER_REGISTRY, GObject)

JUPITER_AVAILABLE_IN_ALL
JupiterCircuitBreakerRegistry *jupiter_circuit_breaker_registry_new          (JupiterClock *clock);
JUPITER_AVAILABLE_IN_ALL
JupiterCircuitBreaker *jupiter_circuit_breaker_registry_get_or_create (JupiterCircuitBreakerRegistry     *self,
                                                                       const char                        *plugin_id,
                                                                       const JupiterCircuitBreakerConfig *config);
JUPITER_AVAILABLE_IN_ALL
JupiterCircuitBreaker *jupiter_circuit_breaker_registry_get           (JupiterCircuitBreakerRegistry *self,
                                                                       const char                    *plugin_id);
JUPITER_AVAILABLE_IN_ALL
GPtrArray             *jupiter_circuit_breaker_registry_list          (JupiterCircuitBreakerRegistry *self);
JUPITER_AVAILABLE_IN_ALL
GPtrArray             *jupiter_circuit_breaker_registry_list_open     (JupiterCircuitBreakerRegistry *self);
JUPITER_AVAILABLE_IN_ALL
void                   jupiter_circuit_breaker_registry_reset_all     (JupiterCircuitBreakerRegistry *self);
JUPITER_AVAILABLE_IN_ALL
void                   jupiter_circuit_breaker_registry_get_stats     (JupiterCircuitBreakerRegistry *self,
                                                                       JupiterCircuitBreakerStats    *stats);
JUPITER_AVAILABLE_IN_ALL
JupiterClock          *jupiter_circuit_breaker_registry_get_clock     (JupiterCircuitBreakerRegistry *self);

G_END_DECLS
