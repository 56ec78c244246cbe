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
 * JupiterJobStatus:
 * @JUPITER_JOB_STATUS_PENDING: queued, not started yet
 * @JUPITER_JOB_STATUS_RUNNING: its function is running
 * @JUPITER_JOB_STATUS_COMPLETED: finished with a result (terminal)
 * @JUPITER_JOB_STATUS_FAILED: finished with an error, timeouts included (terminal)
 * @JUPITER_JOB_STATUS_CANCELLED: cancelled before or while running (terminal)
 *
 * The state of a job. Terminal states never change.
 */
typedef enum {
  JUPITER_JOB_STATUS_PENDING,
  JUPITER_JOB_STATUS_RUNNING,
  JUPITER_JOB_STATUS_COMPLETED,
  JUPITER_JOB_STATUS_FAILED,
  JUPITER_JOB_STATUS_CANCELLED,
} JupiterJobStatus;

/**
 * JUPITER_JOB_STATUS_ANY:
 *
 * A filter value that matches every #JupiterJobStatus.
 */
#define JUPITER_JOB_STATUS_ANY ((JupiterJobStatus) -1)

/**
 * JUPITER_JOB_ERROR:
 *
 * Error domain for job errors. Errors in this domain are from the
 * #JupiterJobError enumeration.
 */
#define JUPITER_JOB_ERROR (jupiter_job_error_quark ())

/**
 * JupiterJobError:
 * @JUPITER_JOB_ERROR_NOT_FOUND: no job with that id is known
 * @JUPITER_JOB_ERROR_CIRCUIT_OPEN: the plugin's circuit breaker is open
 * @JUPITER_JOB_ERROR_TIMED_OUT: the job reached its timeout
 * @JUPITER_JOB_ERROR_CANCELLED: the job was cancelled
 * @JUPITER_JOB_ERROR_FAILED: the job failed (e.g. an asynchronous job whose
 *   context was released without a return)
 * @JUPITER_JOB_ERROR_QUEUE_FULL: `max-pending` jobs are already queued
 * @JUPITER_JOB_ERROR_SHUTTING_DOWN: the manager is shutting down
 * @JUPITER_JOB_ERROR_ALREADY_FINISHED: the job is already in a terminal state
 *
 * Error codes in the %JUPITER_JOB_ERROR domain.
 */
typedef enum {
  JUPITER_JOB_ERROR_NOT_FOUND,
  JUPITER_JOB_ERROR_CIRCUIT_OPEN,
  JUPITER_JOB_ERROR_TIMED_OUT,
  JUPITER_JOB_ERROR_CANCELLED,
  JUPITER_JOB_ERROR_FAILED,
  JUPITER_JOB_ERROR_QUEUE_FULL,
  JUPITER_JOB_ERROR_SHUTTING_DOWN,
  JUPITER_JOB_ERROR_ALREADY_FINISHED,
} JupiterJobError;

JUPITER_AVAILABLE_IN_ALL
GQuark           jupiter_job_error_quark         (void);

JUPITER_AVAILABLE_IN_ALL
const char      *jupiter_job_status_to_string    (JupiterJobStatus  status);
JUPITER_AVAILABLE_IN_ALL
gboolean         jupiter_job_status_from_string  (const char       *str,
                                                  JupiterJobStatus *out_status);
JUPITER_AVAILABLE_IN_ALL
gboolean         jupiter_job_status_is_finished  (JupiterJobStatus  status);

#define JUPITER_TYPE_JOB (jupiter_job_get_type ())

typedef struct _JupiterJob JupiterJob;

JUPITER_AVAILABLE_IN_ALL
GType            jupiter_job_get_type            (void) G_GNUC_CONST;
JUPITER_AVAILABLE_IN_ALL
JupiterJob      *jupiter_job_ref                 (JupiterJob       *job);
JUPITER_AVAILABLE_IN_ALL
void             jupiter_job_unref               (JupiterJob       *job);

JUPITER_AVAILABLE_IN_ALL
const char      *jupiter_job_get_id              (JupiterJob       *job);
JUPITER_AVAILABLE_IN_ALL
const char      *jupiter_job_get_name            (JupiterJob       *job);
JUPITER_AVAILABLE_IN_ALL
JupiterJobStatus jupiter_job_get_status          (JupiterJob       *job);
JUPITER_AVAILABLE_IN_ALL
gboolean         jupiter_job_is_finished         (JupiterJob       *job);
JUPITER_AVAILABLE_IN_ALL
double           jupiter_job_get_progress        (JupiterJob       *job);
JUPITER_AVAILABLE_IN_ALL
const char      *jupiter_job_get_message         (JupiterJob       *job);
JUPITER_AVAILABLE_IN_ALL
JsonNode        *jupiter_job_get_result          (JupiterJob       *job);
JUPITER_AVAILABLE_IN_ALL
const GError    *jupiter_job_get_error           (JupiterJob       *job);
JUPITER_AVAILABLE_IN_ALL
const char      *jupiter_job_get_plugin_id       (JupiterJob       *job);
JUPITER_AVAILABLE_IN_ALL
const char      *jupiter_job_get_entry_name      (JupiterJob       *job);
JUPITER_AVAILABLE_IN_ALL
JsonObject      *jupiter_job_get_metadata        (JupiterJob       *job);
JUPITER_AVAILABLE_IN_ALL
gint64           jupiter_job_get_created_at      (JupiterJob       *job);
JUPITER_AVAILABLE_IN_ALL
gint64           jupiter_job_get_started_at      (JupiterJob       *job);
JUPITER_AVAILABLE_IN_ALL
gint64           jupiter_job_get_completed_at    (JupiterJob       *job);
JUPITER_AVAILABLE_IN_ALL
GTimeSpan        jupiter_job_get_duration        (JupiterJob       *job);

JUPITER_AVAILABLE_IN_ALL
JsonNode        *jupiter_job_to_json             (JupiterJob       *job,
                                                  gboolean          include_result);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (JupiterJob, jupiter_job_unref)

G_END_DECLS
