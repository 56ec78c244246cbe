/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "jupiter-job-manager-private.h"

#include <stdarg.h>

/*
 * The process-wide default manager, mirroring the seed's module-level API.
 * A manager that is replaced while jobs still run is kept alive, shut down,
 * until its last job function returns; see jupiter_job_manager_retire().
 */

static GMutex default_lock;
static JupiterJobManager *default_manager;   /* guarded by default_lock */

/* The default manager with a reference, so a concurrent
 * jupiter_init_job_manager() cannot finalize it under the caller. */
static JupiterJobManager *
default_ref (void)
{
  JupiterJobManager *manager;

  g_mutex_lock (&default_lock);
  if (default_manager == NULL)
    default_manager = jupiter_job_manager_new ();
  manager = g_object_ref (default_manager);
  g_mutex_unlock (&default_lock);
  return manager;
}

/**
 * jupiter_init_job_manager:
 * @first_property_name: (nullable): the first #JupiterJobManager property
 * @...: its value, then more name/value pairs, ending with %NULL
 *
 * Creates the process-wide default manager with the given properties,
 * owned by the calling thread's thread-default main context. If a default
 * manager exists it is shut down (pending jobs cancelled, running ones
 * cancelled and left to finish) and replaced.
 *
 * |[<!-- language="C" -->
 * jupiter_init_job_manager ("max-concurrent", 8, "history-limit", 500, NULL);
 * ]|
 *
 * Returns: (transfer none): the new default manager
 */
JupiterJobManager *
jupiter_init_job_manager (const char *first_property_name,
                          ...)
{
  JupiterJobManager *manager, *old;
  va_list args;

  va_start (args, first_property_name);
  manager = JUPITER_JOB_MANAGER (g_object_new_valist (JUPITER_TYPE_JOB_MANAGER,
                                                      first_property_name, args));
  va_end (args);

  g_mutex_lock (&default_lock);
  old = g_steal_pointer (&default_manager);
  default_manager = manager;
  g_mutex_unlock (&default_lock);

  /* The old default lets itself go once its last job is over. */
  if (old)
    jupiter_job_manager_retire (old);
  return manager;
}

/**
 * jupiter_get_job_manager:
 *
 * The process-wide default manager, created with default settings (owned
 * by the calling thread's thread-default main context) on first use.
 *
 * The pointer stays valid until jupiter_init_job_manager() replaces the
 * default; take a reference to keep it longer.
 *
 * Returns: (transfer none): the default manager
 */
JupiterJobManager *
jupiter_get_job_manager (void)
{
  JupiterJobManager *manager = default_ref ();

  g_object_unref (manager);   /* the default keeps its own reference */
  return manager;
}

/**
 * jupiter_submit_job:
 * @options: the job's options
 * @func: (scope notified): the job function
 * @user_data: (closure func): data for @func
 * @user_data_free: (nullable) (destroy user_data): frees @user_data
 * @error: return location for a #GError
 *
 * jupiter_job_manager_submit() on the default manager.
 *
 * Returns: (transfer full): the job id, or %NULL with @error set
 */
char *
jupiter_submit_job (const JupiterJobOptions *options,
                    JupiterJobFunc           func,
                    gpointer                 user_data,
                    GDestroyNotify           user_data_free,
                    GError                 **error)
{
  g_autoptr(JupiterJobManager) manager = default_ref ();

  return jupiter_job_manager_submit (manager, options, func, user_data, user_data_free, error);
}

/**
 * jupiter_submit_async_job:
 * @options: the job's options
 * @func: (scope notified): the asynchronous job function
 * @user_data: (closure func): data for @func
 * @user_data_free: (nullable) (destroy user_data): frees @user_data
 * @error: return location for a #GError
 *
 * jupiter_job_manager_submit_async_func() on the default manager.
 *
 * Returns: (transfer full): the job id, or %NULL with @error set
 */
char *
jupiter_submit_async_job (const JupiterJobOptions *options,
                          JupiterJobAsyncFunc      func,
                          gpointer                 user_data,
                          GDestroyNotify           user_data_free,
                          GError                 **error)
{
  g_autoptr(JupiterJobManager) manager = default_ref ();

  return jupiter_job_manager_submit_async_func (manager, options, func, user_data,
                                                user_data_free, error);
}

/**
 * jupiter_cancel_job:
 * @job_id: a job id
 * @error: return location for a #GError
 *
 * jupiter_job_manager_cancel() on the default manager.
 *
 * Returns: %TRUE if the job is or will be cancelled
 */
gboolean
jupiter_cancel_job (const char *job_id,
                    GError    **error)
{
  g_autoptr(JupiterJobManager) manager = default_ref ();

  return jupiter_job_manager_cancel (manager, job_id, error);
}

/**
 * jupiter_get_job:
 * @job_id: a job id
 * @error: return location for a #GError
 *
 * jupiter_job_manager_get() on the default manager.
 *
 * Returns: (transfer full): the job, or %NULL with @error set
 */
JupiterJob *
jupiter_get_job (const char *job_id,
                 GError    **error)
{
  g_autoptr(JupiterJobManager) manager = default_ref ();

  return jupiter_job_manager_get (manager, job_id, error);
}

/**
 * jupiter_list_jobs:
 * @status: a status, or %JUPITER_JOB_STATUS_ANY
 * @plugin_id: (nullable): a plugin id, or %NULL
 * @limit: the most jobs to return, 0 for all
 *
 * jupiter_job_manager_list() on the default manager.
 *
 * Returns: (transfer full) (element-type JupiterJob): the jobs, newest first
 */
GPtrArray *
jupiter_list_jobs (JupiterJobStatus status,
                   const char      *plugin_id,
                   guint            limit)
{
  g_autoptr(JupiterJobManager) manager = default_ref ();

  return jupiter_job_manager_list (manager, status, plugin_id, limit);
}

/**
 * jupiter_export_job:
 * @job_id: a job id
 * @error: return location for a #GError
 *
 * jupiter_job_manager_export_job() on the default manager.
 *
 * Returns: (transfer full): the job's data, or %NULL with
 *   %JUPITER_JOB_ERROR_NOT_FOUND
 */
JsonNode *
jupiter_export_job (const char *job_id,
                    GError    **error)
{
  g_autoptr(JupiterJobManager) manager = default_ref ();

  return jupiter_job_manager_export_job (manager, job_id, error);
}

/**
 * jupiter_export_jobs:
 * @path: (type filename): the file to write
 * @status: a status, or %JUPITER_JOB_STATUS_ANY
 * @plugin_id: (nullable): a plugin id, or %NULL
 * @format: the format, or %JUPITER_EXPORT_FORMAT_AUTO
 * @include_results: whether jobs carry their results
 * @error: return location for a #GError
 *
 * jupiter_job_manager_export_jobs() on the default manager.
 *
 * Returns: %TRUE on success
 */
gboolean
jupiter_export_jobs (const char          *path,
                     JupiterJobStatus     status,
                     const char          *plugin_id,
                     JupiterExportFormat  format,
                     gboolean             include_results,
                     GError             **error)
{
  g_autoptr(JupiterJobManager) manager = default_ref ();

  return jupiter_job_manager_export_jobs (manager, path, status, plugin_id, format,
                                          include_results, error);
}
