/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(JUPITER_INSIDE) && !defined(JUPITER_COMPILATION)
#error "Only <jupiter/jupiter.h> can be included directly."
#endif

#include <glib-object.h>

#include "jupiter-version-macros.h"

G_BEGIN_DECLS

#define JUPITER_TYPE_CLOCK (jupiter_clock_get_type ())

JUPITER_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (JupiterClock, jupiter_clock, JUPITER, CLOCK, GObject)

JUPITER_AVAILABLE_IN_ALL
JupiterClock *jupiter_clock_get_system           (void);
JUPITER_AVAILABLE_IN_ALL
JupiterClock *jupiter_clock_new_manual           (gint64        start_time);
JUPITER_AVAILABLE_IN_ALL
gboolean      jupiter_clock_is_manual            (JupiterClock *self);
JUPITER_AVAILABLE_IN_ALL
gint64        jupiter_clock_get_time             (JupiterClock *self);
JUPITER_AVAILABLE_IN_ALL
void          jupiter_clock_advance              (JupiterClock *self,
                                                  GTimeSpan     delta);
JUPITER_AVAILABLE_IN_ALL
GSource      *jupiter_clock_timeout_source_new   (JupiterClock *self,
                                                  gint64        deadline);

G_END_DECLS
