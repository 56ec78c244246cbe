/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(JUPITER_INSIDE) && !defined(JUPITER_COMPILATION)
#error "Only <jupiter/jupiter.h> can be included directly."
#endif

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "jupiter-circuit-breaker-registry.h"
#include "jupiter-circuit-breaker.h"
#include "jupiter-export.h"
#include "jupiter-job-options.h"
#include "jupiter-job.h"
#include "jupiter-plugin.h"
#include "jupiter-version-macros.h"

G_BEGIN_DECLS

#define JUPITER_TYPE_JOB_MANAGER (jupiter_job_manager_get_type ())

JUPITER_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (JupiterJobManager, jupiter_job_manager, JUPITER, JOB_MANAGER, GObject)

/**
 * JupiterJobStats:
 * @pending: jobs queued now
 * @running: jobs in the %JUPITER_JOB_STATUS_RUNNING state (overdue jobs,
 *   already failed, are counted in @overdue instead)
 * @completed: completed jobs held in the history
 * @failed: failed jobs held in the history
 * @cancelled: cancelled jobs held in the history
 * @overdue: jobs already failed by their timeout whose function has not
 *   returned yet; each still holds its slot
 * @submitted: jobs accepted since the manager was created
 * @rejected: submissions refused (queue full, shutting down, circuit open)
 * @timed_out: jobs failed by their timeout since creation
 * @total_completed: jobs completed since creation
 * @total_failed: jobs failed since creation (timeouts included)
 * @total_cancelled: jobs cancelled since creation
 * @pruned: finished jobs dropped by `history-limit` or clear_history()
 *
 * A consistent snapshot of a manager's counters, from
 * jupiter_job_manager_get_stats().
 */
typedef struct {
  guint   pending;
  guint   running;
  guint   completed;
  guint   failed;
  guint   cancelled;
  guint   overdue;
  guint64 submitted;
  guint64 rejected;
  guint64 timed_out;
  guint64 total_completed;
  guint64 total_failed;
  guint64 total_cancelled;
  guint64 pruned;
  /*< private >*/
  gpointer padding[8];
} JupiterJobStats;

JUPITER_AVAILABLE_IN_ALL
JupiterJobManager *jupiter_job_manager_new                   (void);

JUPITER_AVAILABLE_IN_ALL
char              *jupiter_job_manager_submit                (JupiterJobManager       *self,
                                                              const JupiterJobOptions *options,
                                                              JupiterJobFunc           func,
                                                              gpointer                 user_data,
                                                              GDestroyNotify           user_data_free,
                                                              GError                 **error);
JUPITER_AVAILABLE_IN_ALL
char              *jupiter_job_manager_submit_async_func     (JupiterJobManager       *self,
                                                              const JupiterJobOptions *options,
                                                              JupiterJobAsyncFunc      func,
                                                              gpointer                 user_data,
                                                              GDestroyNotify           user_data_free,
                                                              GError                 **error);
JUPITER_AVAILABLE_IN_ALL
gboolean           jupiter_job_manager_cancel                (JupiterJobManager       *self,
                                                              const char              *job_id,
                                                              GError                 **error);
JUPITER_AVAILABLE_IN_ALL
JupiterJob        *jupiter_job_manager_get                   (JupiterJobManager       *self,
                                                              const char              *job_id,
                                                              GError                 **error);
JUPITER_AVAILABLE_IN_ALL
GPtrArray         *jupiter_job_manager_list                  (JupiterJobManager       *self,
                                                              JupiterJobStatus         status,
                                                              const char              *plugin_id,
                                                              guint                    limit);
JUPITER_AVAILABLE_IN_ALL
guint              jupiter_job_manager_count                 (JupiterJobManager       *self,
                                                              JupiterJobStatus         status,
                                                              const char              *plugin_id);
JUPITER_AVAILABLE_IN_ALL
void               jupiter_job_manager_get_stats             (JupiterJobManager       *self,
                                                              JupiterJobStats         *stats);
JUPITER_AVAILABLE_IN_ALL
guint              jupiter_job_manager_clear_history         (JupiterJobManager       *self,
                                                              JupiterJobStatus         status);
JUPITER_AVAILABLE_IN_ALL
void               jupiter_job_manager_wait_async            (JupiterJobManager       *self,
                                                              const char              *job_id,
                                                              GCancellable            *cancellable,
                                                              GAsyncReadyCallback      callback,
                                                              gpointer                 user_data);
JUPITER_AVAILABLE_IN_ALL
JupiterJob        *jupiter_job_manager_wait_finish           (JupiterJobManager       *self,
                                                              GAsyncResult            *result,
                                                              GError                 **error);
JUPITER_AVAILABLE_IN_ALL
JupiterJob        *jupiter_job_manager_wait                  (JupiterJobManager       *self,
                                                              const char              *job_id,
                                                              GCancellable            *cancellable,
                                                              GError                 **error);
JUPITER_AVAILABLE_IN_ALL
gboolean           jupiter_job_manager_wait_idle             (JupiterJobManager       *self,
                                                              GCancellable            *cancellable,
                                                              GError                 **error);
JUPITER_AVAILABLE_IN_ALL
gboolean           jupiter_job_manager_shutdown              (JupiterJobManager       *self,
                                                              GTimeSpan                grace,
                                                              GError                 **error);
JUPITER_AVAILABLE_IN_ALL
void               jupiter_job_manager_shutdown_async        (JupiterJobManager       *self,
                                                              GTimeSpan                grace,
                                                              GCancellable            *cancellable,
                                                              GAsyncReadyCallback      callback,
                                                              gpointer                 user_data);
JUPITER_AVAILABLE_IN_ALL
gboolean           jupiter_job_manager_shutdown_finish       (JupiterJobManager       *self,
                                                              GAsyncResult            *result,
                                                              GError                 **error);
JUPITER_AVAILABLE_IN_ALL
gboolean           jupiter_job_manager_is_shutting_down      (JupiterJobManager       *self);
JUPITER_AVAILABLE_IN_ALL
guint              jupiter_job_manager_get_n_running_functions (JupiterJobManager     *self);

JUPITER_AVAILABLE_IN_ALL
void               jupiter_job_manager_set_plugin_max_concurrent (JupiterJobManager   *self,
                                                              const char              *plugin_id,
                                                              guint                    max_concurrent);
JUPITER_AVAILABLE_IN_ALL
GMainContext      *jupiter_job_manager_get_context           (JupiterJobManager       *self);
JUPITER_AVAILABLE_IN_ALL
guint              jupiter_job_manager_get_max_concurrent    (JupiterJobManager       *self);
JUPITER_AVAILABLE_IN_ALL
void               jupiter_job_manager_set_max_concurrent    (JupiterJobManager       *self,
                                                              guint                    max_concurrent);
JUPITER_AVAILABLE_IN_ALL
guint              jupiter_job_manager_get_max_concurrent_per_plugin (JupiterJobManager *self);
JUPITER_AVAILABLE_IN_ALL
void               jupiter_job_manager_set_max_concurrent_per_plugin (JupiterJobManager *self,
                                                              guint                    max_concurrent);
JUPITER_AVAILABLE_IN_ALL
guint              jupiter_job_manager_get_max_pending       (JupiterJobManager       *self);
JUPITER_AVAILABLE_IN_ALL
void               jupiter_job_manager_set_max_pending       (JupiterJobManager       *self,
                                                              guint                    max_pending);
JUPITER_AVAILABLE_IN_ALL
guint              jupiter_job_manager_get_history_limit     (JupiterJobManager       *self);
JUPITER_AVAILABLE_IN_ALL
void               jupiter_job_manager_set_history_limit     (JupiterJobManager       *self,
                                                              guint                    history_limit);
JUPITER_AVAILABLE_IN_ALL
GTimeSpan          jupiter_job_manager_get_default_timeout   (JupiterJobManager       *self);
JUPITER_AVAILABLE_IN_ALL
void               jupiter_job_manager_set_default_timeout   (JupiterJobManager       *self,
                                                              GTimeSpan                timeout);

/* Export */

JUPITER_AVAILABLE_IN_ALL
JsonNode          *jupiter_job_manager_export_job            (JupiterJobManager       *self,
                                                              const char              *job_id,
                                                              GError                 **error);
JUPITER_AVAILABLE_IN_ALL
gboolean           jupiter_job_manager_export_job_to_file    (JupiterJobManager       *self,
                                                              const char              *job_id,
                                                              const char              *path,
                                                              JupiterExportFormat      format,
                                                              GError                 **error);
JUPITER_AVAILABLE_IN_ALL
gboolean           jupiter_job_manager_export_jobs           (JupiterJobManager       *self,
                                                              const char              *path,
                                                              JupiterJobStatus         status,
                                                              const char              *plugin_id,
                                                              JupiterExportFormat      format,
                                                              gboolean                 include_results,
                                                              GError                 **error);

/* Circuit breakers */

JUPITER_AVAILABLE_IN_ALL
JupiterCircuitBreakerRegistry *jupiter_job_manager_get_circuit_breaker_registry (JupiterJobManager *self);
JUPITER_AVAILABLE_IN_ALL
JupiterCircuitBreaker *jupiter_job_manager_get_circuit_breaker        (JupiterJobManager          *self,
                                                                       const char                 *plugin_id);
JUPITER_AVAILABLE_IN_ALL
JupiterCircuitState    jupiter_job_manager_get_circuit_breaker_state  (JupiterJobManager          *self,
                                                                       const char                 *plugin_id);
JUPITER_AVAILABLE_IN_ALL
gboolean               jupiter_job_manager_is_circuit_open            (JupiterJobManager          *self,
                                                                       const char                 *plugin_id);
JUPITER_AVAILABLE_IN_ALL
gboolean               jupiter_job_manager_reset_circuit_breaker      (JupiterJobManager          *self,
                                                                       const char                 *plugin_id);
JUPITER_AVAILABLE_IN_ALL
void                   jupiter_job_manager_reset_all_circuit_breakers (JupiterJobManager          *self);
JUPITER_AVAILABLE_IN_ALL
GStrv                  jupiter_job_manager_list_open_circuits         (JupiterJobManager          *self);
JUPITER_AVAILABLE_IN_ALL
void                   jupiter_job_manager_get_circuit_breaker_stats  (JupiterJobManager          *self,
                                                                       JupiterCircuitBreakerStats *stats);
JUPITER_AVAILABLE_IN_ALL
GPtrArray             *jupiter_job_manager_get_all_circuit_breakers   (JupiterJobManager          *self);

/* The process-wide default manager */

JUPITER_AVAILABLE_IN_ALL
JupiterJobManager *jupiter_init_job_manager                  (const char              *first_property_name,
                                                              ...) G_GNUC_NULL_TERMINATED;
JUPITER_AVAILABLE_IN_ALL
JupiterJobManager *jupiter_get_job_manager                   (void);
JUPITER_AVAILABLE_IN_ALL
char              *jupiter_submit_job                        (const JupiterJobOptions *options,
                                                              JupiterJobFunc           func,
                                                              gpointer                 user_data,
                                                              GDestroyNotify           user_data_free,
                                                              GError                 **error);
JUPITER_AVAILABLE_IN_ALL
char              *jupiter_submit_async_job                  (const JupiterJobOptions *options,
                                                              JupiterJobAsyncFunc      func,
                                                              gpointer                 user_data,
                                                              GDestroyNotify           user_data_free,
                                                              GError                 **error);
JUPITER_AVAILABLE_IN_ALL
gboolean           jupiter_cancel_job                        (const char              *job_id,
                                                              GError                 **error);
JUPITER_AVAILABLE_IN_ALL
JupiterJob        *jupiter_get_job                           (const char              *job_id,
                                                              GError                 **error);
JUPITER_AVAILABLE_IN_ALL
JsonNode          *jupiter_export_job                        (const char              *job_id,
                                                              GError                 **error);
JUPITER_AVAILABLE_IN_ALL
gboolean           jupiter_export_jobs                       (const char              *path,
                                                              JupiterJobStatus         status,
                                                              const char              *plugin_id,
                                                              JupiterExportFormat      format,
                                                              gboolean                 include_results,
                                                              GError                 **error);
JUPITER_AVAILABLE_IN_ALL
GPtrArray         *jupiter_list_jobs                         (JupiterJobStatus         status,
                                                              const char              *plugin_id,
                                                              guint                    limit);

G_END_DECLS
