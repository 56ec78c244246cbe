/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(JUPITER_INSIDE) && !defined(JUPITER_COMPILATION)
#error "Only <jupiter/jupiter.h> can be included directly."
#endif

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "jupiter-circuit-breaker-registry.h"
#include "jupiter-clock.h"
#include "jupiter-config.h"
#include "jupiter-job-manager.h"
#include "jupiter-plugin-loader.h"
#include "jupiter-version-macros.h"

G_BEGIN_DECLS

#define JUPITER_TYPE_HOST (jupiter_host_get_type ())

JUPITER_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (JupiterHost, jupiter_host, JUPITER, HOST, GObject)

JUPITER_AVAILABLE_IN_ALL
JupiterHost         *jupiter_host_new                       (void);
JUPITER_AVAILABLE_IN_ALL
gboolean             jupiter_host_load_config               (JupiterHost         *self,
                                                             const char          *path,
                                                             GError             **error);
JUPITER_AVAILABLE_IN_ALL
const char          *jupiter_host_get_config_path           (JupiterHost         *self);
JUPITER_AVAILABLE_IN_ALL
void                 jupiter_host_add_plugin_dir            (JupiterHost         *self,
                                                             const char          *dir);
JUPITER_AVAILABLE_IN_ALL
guint                jupiter_host_load_plugins              (JupiterHost         *self);
JUPITER_AVAILABLE_IN_ALL
gboolean             jupiter_host_submit_startup_jobs       (JupiterHost         *self,
                                                             GError             **error);
JUPITER_AVAILABLE_IN_ALL
GStrv                jupiter_host_dup_startup_job_ids       (JupiterHost         *self);
JUPITER_AVAILABLE_IN_ALL
GPtrArray           *jupiter_host_check_jobs                (JupiterHost         *self);
JUPITER_AVAILABLE_IN_ALL
GStrv                jupiter_host_dup_disabled_plugins      (JupiterHost         *self);
JUPITER_AVAILABLE_IN_ALL
void                 jupiter_host_start_interval_jobs       (JupiterHost         *self);
JUPITER_AVAILABLE_IN_ALL
char                *jupiter_host_submit                    (JupiterHost         *self,
                                                             const char          *plugin_id,
                                                             const char          *entry_name,
                                                             JsonNode            *args,
                                                             GError             **error);
JUPITER_AVAILABLE_IN_ALL
void                 jupiter_host_shutdown_async            (JupiterHost         *self,
                                                             GCancellable        *cancellable,
                                                             GAsyncReadyCallback  callback,
                                                             gpointer             user_data);
JUPITER_AVAILABLE_IN_ALL
gboolean             jupiter_host_shutdown_finish           (JupiterHost         *self,
                                                             GAsyncResult        *result,
                                                             GError             **error);
JUPITER_AVAILABLE_IN_ALL
void                 jupiter_host_shutdown_now              (JupiterHost         *self);
JUPITER_AVAILABLE_IN_ALL
gboolean             jupiter_host_is_shutting_down          (JupiterHost         *self);

JUPITER_AVAILABLE_IN_ALL
JupiterJobManager   *jupiter_host_get_job_manager           (JupiterHost         *self);
JUPITER_AVAILABLE_IN_ALL
JupiterPluginLoader *jupiter_host_get_plugin_loader         (JupiterHost         *self);
JUPITER_AVAILABLE_IN_ALL
JupiterCircuitBreakerRegistry *jupiter_host_get_circuit_breaker_registry (JupiterHost *self);
JUPITER_AVAILABLE_IN_ALL
JupiterClock        *jupiter_host_get_clock                 (JupiterHost         *self);
JUPITER_AVAILABLE_IN_ALL
GTimeSpan            jupiter_host_get_shutdown_grace        (JupiterHost         *self);
JUPITER_AVAILABLE_IN_ALL
void                 jupiter_host_set_shutdown_grace        (JupiterHost         *self,
                                                             GTimeSpan            grace);
JUPITER_AVAILABLE_IN_ALL
const char          *jupiter_host_get_export_path           (JupiterHost         *self);
JUPITER_AVAILABLE_IN_ALL
void                 jupiter_host_set_export_path           (JupiterHost         *self,
                                                             const char          *path);
JUPITER_AVAILABLE_IN_ALL
guint64              jupiter_host_get_skipped_ticks         (JupiterHost         *self);

G_END_DECLS
