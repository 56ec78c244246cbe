/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(JUPITER_INSIDE) && !defined(JUPITER_COMPILATION)
#error "Only <jupiter/jupiter.h> can be included directly."
#endif

#include <glib-object.h>

#include "jupiter-clock.h"
#include "jupiter-version-macros.h"

G_BEGIN_DECLS

/**
 * JupiterCircuitState:
 * @JUPITER_CIRCUIT_STATE_CLOSED: calls are let through; failures are counted
 * @JUPITER_CIRCUIT_STATE_OPEN: calls are refused until the cooldown has passed
 * @JUPITER_CIRCUIT_STATE_HALF_OPEN: a limited number of trial calls decide
 *   whether to close again or reopen
 *
 * The state of a #JupiterCircuitBreaker.
 */
typedef enum {
  JUPITER_CIRCUIT_STATE_CLOSED,
  JUPITER_CIRCUIT_STATE_OPEN,
  JUPITER_CIRCUIT_STATE_HALF_OPEN,
} JupiterCircuitState;

/**
 * JupiterCircuitOutcome:
 * @JUPITER_CIRCUIT_OUTCOME_SUCCESS: the call succeeded
 * @JUPITER_CIRCUIT_OUTCOME_FAILURE: the call failed (timeouts included)
 * @JUPITER_CIRCUIT_OUTCOME_NEUTRAL: neither, e.g. the call was cancelled;
 *   a trial slot is given back without deciding anything
 *
 * How a permitted call ended, for jupiter_circuit_breaker_complete().
 */
typedef enum {
  JUPITER_CIRCUIT_OUTCOME_SUCCESS,
  JUPITER_CIRCUIT_OUTCOME_FAILURE,
  JUPITER_CIRCUIT_OUTCOME_NEUTRAL,
} JupiterCircuitOutcome;

/**
 * JupiterCircuitPermit:
 *
 * The right to make one call, from jupiter_circuit_breaker_acquire(), to be
 * handed back exactly once with jupiter_circuit_breaker_complete(). It
 * carries the generation of the breaker's state it was granted under: an
 * outcome from an older generation updates statistics only.
 *
 * A plain struct the caller allocates (usually on the stack or inside its
 * own record); its fields are private.
 */
typedef struct {
  /*< private >*/
  guint32 generation;
  guint32 flags;
  guint64 trial;
  gint64  started;
  gpointer padding[2];
} JupiterCircuitPermit;

#define JUPITER_TYPE_CIRCUIT_BREAKER (jupiter_circuit_breaker_get_type ())

JUPITER_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (JupiterCircuitBreaker, jupiter_circuit_breaker, JUPITER, CIRCUIT_BREAKER, GObject)

JUPITER_AVAILABLE_IN_ALL
const char           *jupiter_circuit_state_to_string              (JupiterCircuitState    state);

JUPITER_AVAILABLE_IN_ALL
JupiterCircuitBreaker *jupiter_circuit_breaker_new                 (const char            *plugin_id,
                                                                    JupiterClock          *clock);
JUPITER_AVAILABLE_IN_ALL
const char           *jupiter_circuit_breaker_get_plugin_id        (JupiterCircuitBreaker *self);
JUPITER_AVAILABLE_IN_ALL
JupiterCircuitState   jupiter_circuit_breaker_get_state            (JupiterCircuitBreaker *self);
JUPITER_AVAILABLE_IN_ALL
guint                 jupiter_circuit_breaker_get_generation       (JupiterCircuitBreaker *self);
JUPITER_AVAILABLE_IN_ALL
gboolean              jupiter_circuit_breaker_can_execute          (JupiterCircuitBreaker *self);
JUPITER_AVAILABLE_IN_ALL
gboolean              jupiter_circuit_breaker_acquire              (JupiterCircuitBreaker *self,
                                                                    JupiterCircuitPermit  *permit);
JUPITER_AVAILABLE_IN_ALL
void                  jupiter_circuit_breaker_complete             (JupiterCircuitBreaker *self,
                                                                    JupiterCircuitPermit  *permit,
                                                                    JupiterCircuitOutcome  outcome);
JUPITER_AVAILABLE_IN_ALL
void                  jupiter_circuit_breaker_record_success       (JupiterCircuitBreaker *self);
JUPITER_AVAILABLE_IN_ALL
void                  jupiter_circuit_breaker_record_failure       (JupiterCircuitBreaker *self);
JUPITER_AVAILABLE_IN_ALL
void                  jupiter_circuit_breaker_record_rejected      (JupiterCircuitBreaker *self);
JUPITER_AVAILABLE_IN_ALL
void                  jupiter_circuit_breaker_reset                (JupiterCircuitBreaker *self);
JUPITER_AVAILABLE_IN_ALL
GTimeSpan             jupiter_circuit_breaker_get_retry_in         (JupiterCircuitBreaker *self);

JUPITER_AVAILABLE_IN_ALL
guint                 jupiter_circuit_breaker_get_failure_threshold   (JupiterCircuitBreaker *self);
JUPITER_AVAILABLE_IN_ALL
void                  jupiter_circuit_breaker_set_failure_threshold   (JupiterCircuitBreaker *self,
                                                                       guint                  threshold);
JUPITER_AVAILABLE_IN_ALL
GTimeSpan             jupiter_circuit_breaker_get_cooldown            (JupiterCircuitBreaker *self);
JUPITER_AVAILABLE_IN_ALL
void                  jupiter_circuit_breaker_set_cooldown            (JupiterCircuitBreaker *self,
                                                                       GTimeSpan              cooldown);
JUPITER_AVAILABLE_IN_ALL
guint                 jupiter_circuit_breaker_get_half_open_max_calls (JupiterCircuitBreaker *self);
JUPITER_AVAILABLE_IN_ALL
void                  jupiter_circuit_breaker_set_half_open_max_calls (JupiterCircuitBreaker *self,
                                                                       guint                  max_calls);
JUPITER_AVAILABLE_IN_ALL
guint                 jupiter_circuit_breaker_get_success_threshold   (JupiterCircuitBreaker *self);
JUPITER_AVAILABLE_IN_ALL
void                  jupiter_circuit_breaker_set_success_threshold   (JupiterCircuitBreaker *self,
                                                                       guint                  threshold);
JUPITER_AVAILABLE_IN_ALL
guint                 jupiter_circuit_breaker_get_consecutive_failures (JupiterCircuitBreaker *self);
JUPITER_AVAILABLE_IN_ALL
guint64               jupiter_circuit_breaker_get_total_calls         (JupiterCircuitBreaker *self);
JUPITER_AVAILABLE_IN_ALL
guint64               jupiter_circuit_breaker_get_total_failures      (JupiterCircuitBreaker *self);
JUPITER_AVAILABLE_IN_ALL
guint64               jupiter_circuit_breaker_get_total_rejected      (JupiterCircuitBreaker *self);
JUPITER_AVAILABLE_IN_ALL
guint64               jupiter_circuit_breaker_get_times_opened        (JupiterCircuitBreaker *self);

G_END_DECLS
