/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(JUPITER_INSIDE) && !defined(JUPITER_COMPILATION)
#error "Only <jupiter/jupiter.h> can be included directly."
#endif

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "jupiter-version-macros.h"

G_BEGIN_DECLS

/**
 * JupiterJobFlags:
 * @JUPITER_JOB_FLAGS_NONE: no flags
 * @JUPITER_JOB_FLAGS_BYPASS_CIRCUIT_BREAKER: skip the plugin's circuit
 *   breaker check and permit; the outcome only updates its statistics
 *
 * Flags for a job submission.
 */
typedef enum /*< flags >*/ {
  JUPITER_JOB_FLAGS_NONE = 0,
  JUPITER_JOB_FLAGS_BYPASS_CIRCUIT_BREAKER = 1 << 0,
} JupiterJobFlags;

#define JUPITER_TYPE_JOB_OPTIONS (jupiter_job_options_get_type ())

typedef struct _JupiterJobOptions JupiterJobOptions;

JUPITER_AVAILABLE_IN_ALL
GType              jupiter_job_options_get_type        (void) G_GNUC_CONST;
JUPITER_AVAILABLE_IN_ALL
JupiterJobOptions *jupiter_job_options_new             (const char        *name);
JUPITER_AVAILABLE_IN_ALL
JupiterJobOptions *jupiter_job_options_ref             (JupiterJobOptions *options);
JUPITER_AVAILABLE_IN_ALL
void               jupiter_job_options_unref           (JupiterJobOptions *options);

JUPITER_AVAILABLE_IN_ALL
void               jupiter_job_options_set_name        (JupiterJobOptions *options,
                                                        const char        *name);
JUPITER_AVAILABLE_IN_ALL
const char        *jupiter_job_options_get_name        (const JupiterJobOptions *options);
JUPITER_AVAILABLE_IN_ALL
void               jupiter_job_options_set_plugin_id   (JupiterJobOptions *options,
                                                        const char        *plugin_id);
JUPITER_AVAILABLE_IN_ALL
const char        *jupiter_job_options_get_plugin_id   (const JupiterJobOptions *options);
JUPITER_AVAILABLE_IN_ALL
void               jupiter_job_options_set_entry_name  (JupiterJobOptions *options,
                                                        const char        *entry_name);
JUPITER_AVAILABLE_IN_ALL
const char        *jupiter_job_options_get_entry_name  (const JupiterJobOptions *options);
JUPITER_AVAILABLE_IN_ALL
void               jupiter_job_options_set_args        (JupiterJobOptions *options,
                                                        JsonNode          *args);
JUPITER_AVAILABLE_IN_ALL
JsonNode          *jupiter_job_options_get_args        (const JupiterJobOptions *options);
JUPITER_AVAILABLE_IN_ALL
void               jupiter_job_options_set_metadata    (JupiterJobOptions *options,
                                                        JsonObject        *metadata);
JUPITER_AVAILABLE_IN_ALL
JsonObject        *jupiter_job_options_get_metadata    (const JupiterJobOptions *options);
JUPITER_AVAILABLE_IN_ALL
void               jupiter_job_options_set_timeout     (JupiterJobOptions *options,
                                                        GTimeSpan          timeout);
JUPITER_AVAILABLE_IN_ALL
GTimeSpan          jupiter_job_options_get_timeout     (const JupiterJobOptions *options);
JUPITER_AVAILABLE_IN_ALL
void               jupiter_job_options_set_flags       (JupiterJobOptions *options,
                                                        JupiterJobFlags    flags);
JUPITER_AVAILABLE_IN_ALL
JupiterJobFlags    jupiter_job_options_get_flags       (const JupiterJobOptions *options);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (JupiterJobOptions, jupiter_job_options_unref)

G_END_DECLS
