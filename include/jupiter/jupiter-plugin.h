/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * jupiter-plugin.h: the Jupiter SDK header.
 *
 * This header is self-contained: plugin authors include it on its own and link
 * only GLib and json-glib. Every call a running job makes (its id, its args,
 * progress, cancellation, logging, returning a result or an error) is defined
 * here once, as an inline call through a versioned table of host functions
 * that the host hands over. The host library exports no functions of these
 * names, so a plugin has no link-time dependency on the host, and job code in
 * an embedding program uses the very same calls.
 */
#pragma once

#include <stdarg.h>

#include <gio/gio.h>
#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/**
 * JUPITER_SDK_ABI_MAJOR:
 *
 * The major version of the host/plugin ABI. A host refuses a plugin built
 * for another major version.
 */
#define JUPITER_SDK_ABI_MAJOR 1

/**
 * JUPITER_SDK_ABI_MINOR:
 *
 * The minor version of the host/plugin ABI. Minor versions only append
 * members to the host function table; a host refuses a plugin built for a
 * newer minor version than its own.
 */
#define JUPITER_SDK_ABI_MINOR 0

typedef struct _JupiterJobContext JupiterJobContext;
typedef struct _JupiterHostFuncs  JupiterHostFuncs;

/**
 * JupiterHostFuncs:
 * @abi_major: the host's %JUPITER_SDK_ABI_MAJOR
 * @abi_minor: the host's %JUPITER_SDK_ABI_MINOR
 * @struct_size: `sizeof (JupiterHostFuncs)` as the host was built
 *
 * The table of host functions a plugin reaches the host through. Members
 * are only ever appended; use JUPITER_HOST_FUNCS_HAS() before calling a
 * member that is newer than ABI 1.0. The remaining members are private to
 * the inline calls in this header.
 */
struct _JupiterHostFuncs
{
  guint16 abi_major;
  guint16 abi_minor;
  guint32 struct_size;

  /*< private >*/
  const char *(*context_get_job_id) (JupiterJobContext *context);
  const char *(*context_get_plugin_id) (JupiterJobContext *context);
  const char *(*context_get_entry_name) (JupiterJobContext *context);
  JsonNode *(*context_get_args) (JupiterJobContext *context);
  GCancellable *(*context_get_cancellable) (JupiterJobContext *context);
  gboolean (*context_is_cancelled) (JupiterJobContext *context);
  void (*context_set_progress) (JupiterJobContext *context,
                                double             fraction,
                                const char        *message);
  void (*context_log) (JupiterJobContext *context,
                       GLogLevelFlags     level,
                       const char        *message);
  JupiterJobContext *(*context_ref) (JupiterJobContext *context);
  void (*context_unref) (JupiterJobContext *context);
  void (*context_return_result) (JupiterJobContext *context,
                                 JsonNode          *result);
  void (*context_return_error) (JupiterJobContext *context,
                                GError            *error);
};

/**
 * JUPITER_HOST_FUNCS_HAS:
 * @funcs: a #JupiterHostFuncs
 * @member: a member name
 *
 * Whether the host that handed over @funcs has @member.
 */
#define JUPITER_HOST_FUNCS_HAS(funcs, member)                                  \
  ((funcs)->struct_size >= G_STRUCT_OFFSET (JupiterHostFuncs, member) +        \
                             sizeof (((JupiterHostFuncs *) 0)->member))

/**
 * JupiterJobContext:
 *
 * What running job code holds: the job's id and args, a cancellable,
 * progress reporting, a logger that tags the job, and (for asynchronous job
 * functions) the calls that finish the job.
 *
 * The context is owned by the host. A synchronous job function borrows it for
 * the duration of the call, and must not use it (or let another thread use
 * it) after returning. An asynchronous job function that finishes later
 * takes a reference with jupiter_job_context_ref() and calls exactly one of
 * jupiter_job_context_return_result() or jupiter_job_context_return_error(),
 * from any thread, then drops its reference. A context whose last reference
 * is dropped without a return fails the job ("finished without returning").
 *
 * Every call on a context is safe from any thread.
 */
struct _JupiterJobContext
{
  /*< private >*/
  const JupiterHostFuncs *funcs;
};

/**
 * JupiterJobFunc:
 * @context: (transfer none): the running job's context
 * @user_data: the data given at submission
 * @error: return location for the job's error
 *
 * A synchronous job function. It runs in a worker thread; it should check
 * jupiter_job_context_is_cancelled() or the context's #GCancellable now and
 * then. It must not call the return functions of its context.
 *
 * The result's whole tree is handed over: it is sealed and then shared,
 * read-only, by every snapshot of the job, in any thread. Keep no reference
 * to it or to anything inside it (json-glib 1.6 counts references to
 * objects and arrays without atomics; only a node's count is atomic).
 *
 * Returns: (transfer full) (nullable): the job's result; %NULL with @error
 *   set fails the job, %NULL without an error completes it with no result.
 */
typedef JsonNode *(*JupiterJobFunc) (JupiterJobContext *context,
                                     gpointer           user_data,
                                     GError           **error);

/**
 * JupiterJobAsyncFunc:
 * @context: (transfer none): the job's context
 * @user_data: the data given at submission
 *
 * An asynchronous job function. It is started on the job manager's main
 * context, must not block, and finishes the job by calling
 * jupiter_job_context_return_result() or jupiter_job_context_return_error()
 * (now, or later from any thread after taking a reference on @context).
 */
typedef void (*JupiterJobAsyncFunc) (JupiterJobContext *context,
                                     gpointer           user_data);

/**
 * jupiter_job_context_get_id:
 * @context: a #JupiterJobContext
 *
 * Returns: (transfer none): the job's id, a UUID string
 */
static inline const char *
jupiter_job_context_get_id (JupiterJobContext *context)
{
  g_return_val_if_fail (context != NULL, NULL);
  return context->funcs->context_get_job_id (context);
}

/**
 * jupiter_job_context_get_plugin_id:
 * @context: a #JupiterJobContext
 *
 * Returns: (transfer none) (nullable): the plugin id the job was submitted for
 */
static inline const char *
jupiter_job_context_get_plugin_id (JupiterJobContext *context)
{
  g_return_val_if_fail (context != NULL, NULL);
  return context->funcs->context_get_plugin_id (context);
}

/**
 * jupiter_job_context_get_entry_name:
 * @context: a #JupiterJobContext
 *
 * Returns: (transfer none) (nullable): the entry point the job runs
 */
static inline const char *
jupiter_job_context_get_entry_name (JupiterJobContext *context)
{
  g_return_val_if_fail (context != NULL, NULL);
  return context->funcs->context_get_entry_name (context);
}

/**
 * jupiter_job_context_get_args:
 * @context: a #JupiterJobContext
 *
 * The job's arguments. The node is sealed (immutable), lives as long as the
 * context and may be read by other jobs at the same time: read it with
 * json_node_get_object() and friends, never json_node_dup_object() or
 * json_object_ref(), whose reference counts are not atomic in json-glib 1.6.
 *
 * Returns: (transfer none) (nullable): the arguments, or %NULL if none
 */
static inline JsonNode *
jupiter_job_context_get_args (JupiterJobContext *context)
{
  g_return_val_if_fail (context != NULL, NULL);
  return context->funcs->context_get_args (context);
}

/**
 * jupiter_job_context_get_cancellable:
 * @context: a #JupiterJobContext
 *
 * The job's cancellable, created on first use. It is triggered when the job
 * is cancelled or reaches its timeout. Handlers connected to it run in the
 * thread that cancels the job.
 *
 * Returns: (transfer none): the cancellable, valid as long as the context
 */
static inline GCancellable *
jupiter_job_context_get_cancellable (JupiterJobContext *context)
{
  g_return_val_if_fail (context != NULL, NULL);
  return context->funcs->context_get_cancellable (context);
}

/**
 * jupiter_job_context_is_cancelled:
 * @context: a #JupiterJobContext
 *
 * Whether the job was cancelled or timed out. Cheaper than creating the
 * cancellable when all the job does is poll.
 *
 * Returns: %TRUE if the job should stop
 */
static inline gboolean
jupiter_job_context_is_cancelled (JupiterJobContext *context)
{
  g_return_val_if_fail (context != NULL, FALSE);
  return context->funcs->context_is_cancelled (context);
}

/**
 * jupiter_job_context_set_progress:
 * @context: a #JupiterJobContext
 * @fraction: progress from 0.0 to 1.0 (clamped; NaN is ignored)
 * @message: (nullable): a short description of the current step
 *
 * Records the job's progress at once. The `job-progress` signal follows on
 * the manager's main context; updates that arrive faster than that context
 * runs are merged, the latest winning.
 */
static inline void
jupiter_job_context_set_progress (JupiterJobContext *context,
                                  double             fraction,
                                  const char        *message)
{
  g_return_if_fail (context != NULL);
  context->funcs->context_set_progress (context, fraction, message);
}

/**
 * jupiter_job_context_log:
 * @context: a #JupiterJobContext
 * @level: a log level, e.g. %G_LOG_LEVEL_INFO
 * @format: printf()-style format
 * @...: arguments for @format
 *
 * Logs a message tagged with the job id, plugin id and entry name, through
 * g_log_structured() in the host's `Jupiter` domain.
 */
static inline void jupiter_job_context_log (JupiterJobContext *context,
                                            GLogLevelFlags     level,
                                            const char        *format,
                                            ...) G_GNUC_PRINTF (3, 4);
static inline void
jupiter_job_context_log (JupiterJobContext *context,
                         GLogLevelFlags     level,
                         const char        *format,
                         ...)
{
  char *message;
  va_list args;

  g_return_if_fail (context != NULL);
  g_return_if_fail (format != NULL);

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  context->funcs->context_log (context, level, message);
  g_free (message);
}

/**
 * jupiter_job_context_ref:
 * @context: a #JupiterJobContext
 *
 * Takes a reference, for an asynchronous job that returns later.
 *
 * Returns: (transfer full): @context
 */
static inline JupiterJobContext *
jupiter_job_context_ref (JupiterJobContext *context)
{
  g_return_val_if_fail (context != NULL, NULL);
  return context->funcs->context_ref (context);
}

/**
 * jupiter_job_context_unref:
 * @context: (transfer full): a #JupiterJobContext
 *
 * Drops a reference. Dropping the last reference of an asynchronous job's
 * context that has not returned fails the job.
 */
static inline void
jupiter_job_context_unref (JupiterJobContext *context)
{
  g_return_if_fail (context != NULL);
  context->funcs->context_unref (context);
}

/**
 * jupiter_job_context_return_result:
 * @context: the context of an asynchronous job
 * @result: (transfer full) (nullable): the result; it is sealed
 *
 * Completes an asynchronous job, from any thread. Returning twice, or from
 * a synchronous job, is a programmer error. A result that arrives after the
 * job was cancelled or timed out is discarded.
 */
static inline void
jupiter_job_context_return_result (JupiterJobContext *context,
                                   JsonNode          *result)
{
  g_return_if_fail (context != NULL);
  context->funcs->context_return_result (context, result);
}

/**
 * jupiter_job_context_return_error:
 * @context: the context of an asynchronous job
 * @error: (transfer full): the error
 *
 * Fails an asynchronous job with @error, from any thread. The same rules as
 * for jupiter_job_context_return_result() apply.
 */
static inline void
jupiter_job_context_return_error (JupiterJobContext *context,
                                  GError            *error)
{
  g_return_if_fail (context != NULL);
  g_return_if_fail (error != NULL);
  context->funcs->context_return_error (context, error);
}

/**
 * jupiter_job_context_return_new_error:
 * @context: the context of an asynchronous job
 * @domain: error domain
 * @code: error code
 * @format: printf()-style message
 * @...: arguments for @format
 *
 * Like jupiter_job_context_return_error(), building the error in place.
 */
static inline void jupiter_job_context_return_new_error (JupiterJobContext *context,
                                                         GQuark             domain,
                                                         int                code,
                                                         const char        *format,
                                                         ...) G_GNUC_PRINTF (4, 5);
static inline void
jupiter_job_context_return_new_error (JupiterJobContext *context,
                                      GQuark             domain,
                                      int                code,
                                      const char        *format,
                                      ...)
{
  GError *error;
  va_list args;

  g_return_if_fail (context != NULL);
  g_return_if_fail (format != NULL);

  va_start (args, format);
  error = g_error_new_valist (domain, code, format, args);
  va_end (args);
  context->funcs->context_return_error (context, error);
}

/* ------------------------------------------------------------------------ */
/* Plugin descriptor                                                         */

/**
 * JupiterPluginEntry:
 * @struct_size: `sizeof (JupiterPluginEntry)` as the plugin was built; set
 *   by JUPITER_PLUGIN_ENTRY() and the other entry macros
 * @name: the entry point's name, unique within the plugin
 * @description: (nullable): one line for people
 * @func: (nullable): a synchronous job function, run in a worker thread
 * @async_func: (nullable): an asynchronous job function, started on the
 *   host's main context; exactly one of @func and @async_func is set
 * @timeout: microseconds from start to the job's deadline; 0 takes the
 *   plugin's #JupiterPluginDescriptor.timeout
 *
 * One entry point of a plugin. An entry runs as a job: it receives the
 * job's #JupiterJobContext, whose args are the JSON given at submission.
 */
typedef struct {
  guint32             struct_size;
  const char         *name;
  const char         *description;
  JupiterJobFunc      func;
  JupiterJobAsyncFunc async_func;
  gint64              timeout;
} JupiterPluginEntry;

/**
 * JupiterPluginDescriptor:
 * @abi_major: %JUPITER_SDK_ABI_MAJOR as the plugin was built
 * @abi_minor: %JUPITER_SDK_ABI_MINOR as the plugin was built
 * @struct_size: `sizeof (JupiterPluginDescriptor)` as the plugin was built
 * @id: the plugin id: lower-case letters, digits, `-` and `_`; unique in a host
 * @name: a name for people
 * @version: the plugin's own version
 * @description: (nullable): one line for people
 * @license: (nullable): an SPDX license expression
 * @init: (nullable): called once after loading, in the host's main thread,
 *   with the plugin's `config` from the host's configuration (a JSON object,
 *   or %NULL); returning %FALSE with @error set makes the plugin fail to load
 * @shutdown: (nullable): called once when the host shuts down, when no job
 *   of the plugin runs any more
 * @entries: the entry points
 * @n_entries: how many entries @entries holds
 * @timeout: the default timeout of the plugin's entries, in microseconds;
 *   0 for none
 * @max_concurrent: how many jobs of the plugin may run at once; 0 for the
 *   host's default
 *
 * What a plugin tells the host about itself: returned, constant, by the
 * function JUPITER_PLUGIN_DEFINE() writes. Members are only ever appended;
 * the host reads no further than @struct_size.
 */
typedef struct {
  guint16                    abi_major;
  guint16                    abi_minor;
  guint32                    struct_size;
  const char                *id;
  const char                *name;
  const char                *version;
  const char                *description;
  const char                *license;
  gboolean                 (*init) (JsonNode *config, GError **error);
  void                     (*shutdown) (void);
  const JupiterPluginEntry  *entries;
  guint                      n_entries;
  gint64                     timeout;
  guint                      max_concurrent;
} JupiterPluginDescriptor;

/**
 * JUPITER_PLUGIN_EXPORT:
 *
 * Marks the describe function as exported, also when the plugin is built
 * with hidden visibility.
 */
#define JUPITER_PLUGIN_EXPORT __attribute__ ((visibility ("default")))

/**
 * JUPITER_PLUGIN_SYMBOL:
 *
 * The one symbol a plugin exports: a #JupiterPluginDescribeFunc.
 */
#define JUPITER_PLUGIN_SYMBOL "jupiter_plugin_describe"

/**
 * JupiterPluginDescribeFunc:
 * @host: the host's function table, valid for the life of the process
 *
 * Returns: (transfer none): the plugin's constant descriptor
 */
typedef const JupiterPluginDescriptor *(*JupiterPluginDescribeFunc) (const JupiterHostFuncs *host);

/**
 * JUPITER_PLUGIN_ENTRY:
 * @entry_name: the entry's name
 * @entry_description: one line for people
 * @function: a #JupiterJobFunc
 *
 * A #JupiterPluginEntry for a synchronous function.
 */
#define JUPITER_PLUGIN_ENTRY(entry_name, entry_description, function)          \
  { sizeof (JupiterPluginEntry), (entry_name), (entry_description), (function), NULL, 0 }

/**
 * JUPITER_PLUGIN_ASYNC_ENTRY:
 * @entry_name: the entry's name
 * @entry_description: one line for people
 * @function: a #JupiterJobAsyncFunc
 *
 * A #JupiterPluginEntry for an asynchronous function.
 */
#define JUPITER_PLUGIN_ASYNC_ENTRY(entry_name, entry_description, function)    \
  { sizeof (JupiterPluginEntry), (entry_name), (entry_description), NULL, (function), 0 }

/**
 * JUPITER_PLUGIN_DEFINE:
 * @descriptor: a `static const JupiterPluginDescriptor` variable
 *
 * Writes the plugin's exported describe function, which returns
 * @descriptor and keeps the host's table in `jupiter_plugin_host` (a
 * static variable of the plugin, for code that runs outside any job).
 * Initialise @descriptor's first members with
 * JUPITER_PLUGIN_DESCRIPTOR_HEADER.
 */
#define JUPITER_PLUGIN_DEFINE(descriptor)                                      \
  static const JupiterHostFuncs *jupiter_plugin_host G_GNUC_UNUSED;             \
  JUPITER_PLUGIN_EXPORT const JupiterPluginDescriptor *                         \
  jupiter_plugin_describe (const JupiterHostFuncs *host);                       \
  JUPITER_PLUGIN_EXPORT const JupiterPluginDescriptor *                         \
  jupiter_plugin_describe (const JupiterHostFuncs *host)                        \
  {                                                                             \
    jupiter_plugin_host = host;                                                 \
    return &(descriptor);                                                       \
  }

/**
 * JUPITER_PLUGIN_DESCRIPTOR_HEADER:
 *
 * The ABI version and size members of a #JupiterPluginDescriptor, as the
 * plugin is built: `.abi_major`, `.abi_minor` and `.struct_size`.
 */
#define JUPITER_PLUGIN_DESCRIPTOR_HEADER                                       \
  .abi_major = JUPITER_SDK_ABI_MAJOR,                                          \
  .abi_minor = JUPITER_SDK_ABI_MINOR,                                          \
  .struct_size = sizeof (JupiterPluginDescriptor)

G_END_DECLS
