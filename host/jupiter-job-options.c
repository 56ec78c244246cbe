/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "jupiter-job-options-private.h"
#include "jupiter-job-private.h"

/**
 * JupiterJobOptions:
 *
 * What a job submission carries besides its function: a name, the plugin id
 * and entry name it runs for, its arguments and metadata, a timeout and
 * #JupiterJobFlags. New capabilities add fields here rather than new
 * submission signatures.
 *
 * Options are reference counted. They are read once, at submission, so one
 * instance can be reused for many submissions; it must not be changed by one
 * thread while another submits with it.
 *
 * Since: 0.1
 */

G_DEFINE_BOXED_TYPE (JupiterJobOptions, jupiter_job_options,
                     jupiter_job_options_ref, jupiter_job_options_unref)

/**
 * jupiter_job_options_new:
 * @name: (nullable): the job's name; invalid UTF-8 is repaired at submission
 *
 * Returns: (transfer full): new options with no plugin, no args, no
 *   metadata, the manager's default timeout and no flags
 */
JupiterJobOptions *
jupiter_job_options_new (const char *name)
{
  JupiterJobOptions *options = g_new0 (JupiterJobOptions, 1);

  g_atomic_ref_count_init (&options->ref_count);
  options->name = g_strdup (name);
  return options;
}

/**
 * jupiter_job_options_ref:
 * @options: a #JupiterJobOptions
 *
 * Returns: (transfer full): @options
 */
JupiterJobOptions *
jupiter_job_options_ref (JupiterJobOptions *options)
{
  g_return_val_if_fail (options != NULL, NULL);

  g_atomic_ref_count_inc (&options->ref_count);
  return options;
}

/**
 * jupiter_job_options_unref:
 * @options: (transfer full): a #JupiterJobOptions
 */
void
jupiter_job_options_unref (JupiterJobOptions *options)
{
  g_return_if_fail (options != NULL);

  if (!g_atomic_ref_count_dec (&options->ref_count))
    return;

  g_free (options->name);
  g_clear_pointer (&options->args, json_node_unref);
  g_clear_pointer (&options->metadata, json_node_unref);
  g_free (options);
}

/**
 * jupiter_job_options_set_name:
 * @options: a #JupiterJobOptions
 * @name: (nullable): the job's name
 */
void
jupiter_job_options_set_name (JupiterJobOptions *options,
                              const char        *name)
{
  g_return_if_fail (options != NULL);

  g_free (options->name);
  options->name = g_strdup (name);
}

/**
 * jupiter_job_options_get_name:
 * @options: a #JupiterJobOptions
 *
 * Returns: (transfer none) (nullable): the name
 */
const char *
jupiter_job_options_get_name (const JupiterJobOptions *options)
{
  g_return_val_if_fail (options != NULL, NULL);
  return options->name;
}

/* Plugin ids and entry names are interned for the life of the process, as
 * signal details are (the manager's signals are detailed by plugin id): a
 * bounded set of names, and no reference counting on a shared string for
 * every job. */
static void
set_interned (const char **slot,
              const char  *value)
{
  *slot = (value != NULL && *value != '\0') ? g_intern_string (value) : NULL;
}

/**
 * jupiter_job_options_set_plugin_id:
 * @options: a #JupiterJobOptions
 * @plugin_id: (nullable): the plugin the job runs for; jobs of one plugin
 *   share its concurrency cap, and signals are detailed by it
 */
void
jupiter_job_options_set_plugin_id (JupiterJobOptions *options,
                                   const char        *plugin_id)
{
  g_return_if_fail (options != NULL);
  g_return_if_fail (plugin_id == NULL || g_utf8_validate (plugin_id, -1, NULL));

  set_interned (&options->plugin_id, plugin_id);
}

/**
 * jupiter_job_options_get_plugin_id:
 * @options: a #JupiterJobOptions
 *
 * Returns: (transfer none) (nullable): the plugin id
 */
const char *
jupiter_job_options_get_plugin_id (const JupiterJobOptions *options)
{
  g_return_val_if_fail (options != NULL, NULL);
  return options->plugin_id;
}

/**
 * jupiter_job_options_set_entry_name:
 * @options: a #JupiterJobOptions
 * @entry_name: (nullable): the plugin entry point the job runs
 */
void
jupiter_job_options_set_entry_name (JupiterJobOptions *options,
                                    const char        *entry_name)
{
  g_return_if_fail (options != NULL);
  g_return_if_fail (entry_name == NULL || g_utf8_validate (entry_name, -1, NULL));

  set_interned (&options->entry_name, entry_name);
}

/**
 * jupiter_job_options_get_entry_name:
 * @options: a #JupiterJobOptions
 *
 * Returns: (transfer none) (nullable): the entry name
 */
const char *
jupiter_job_options_get_entry_name (const JupiterJobOptions *options)
{
  g_return_val_if_fail (options != NULL, NULL);
  return options->entry_name;
}

/* A sealed private copy: jobs on other threads share it by its root node
 * only (see jupiter_json_deep_copy()). */
static JsonNode *
private_copy (JsonNode *node)
{
  JsonNode *copy = jupiter_json_make_valid (jupiter_json_deep_copy (node));

  json_node_seal (copy);
  return copy;
}

/**
 * jupiter_job_options_set_args:
 * @options: a #JupiterJobOptions
 * @args: (nullable) (transfer none): the job's arguments
 *
 * Sets the arguments the job reads with jupiter_job_context_get_args().
 * The options keep a private, sealed copy, shared by every job submitted
 * with them; @args itself is left alone.
 */
void
jupiter_job_options_set_args (JupiterJobOptions *options,
                              JsonNode          *args)
{
  g_return_if_fail (options != NULL);

  g_clear_pointer (&options->args, json_node_unref);
  if (args)
    options->args = private_copy (args);
}

/**
 * jupiter_job_options_get_args:
 * @options: a #JupiterJobOptions
 *
 * Returns: (transfer none) (nullable): the sealed copy of the arguments
 */
JsonNode *
jupiter_job_options_get_args (const JupiterJobOptions *options)
{
  g_return_val_if_fail (options != NULL, NULL);
  return options->args;
}

/**
 * jupiter_job_options_set_metadata:
 * @options: a #JupiterJobOptions
 * @metadata: (nullable) (transfer none): free-form metadata kept with the job
 *
 * The options keep a private, sealed copy of @metadata, which every job
 * submitted with them carries. An empty object is stored as %NULL.
 */
void
jupiter_job_options_set_metadata (JupiterJobOptions *options,
                                  JsonObject        *metadata)
{
  g_return_if_fail (options != NULL);

  g_clear_pointer (&options->metadata, json_node_unref);
  if (metadata && json_object_get_size (metadata) > 0)
    {
      g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), metadata);
      options->metadata = private_copy (node);
    }
}

/**
 * jupiter_job_options_get_metadata:
 * @options: a #JupiterJobOptions
 *
 * Returns: (transfer none) (nullable): the sealed copy of the metadata
 */
JsonObject *
jupiter_job_options_get_metadata (const JupiterJobOptions *options)
{
  g_return_val_if_fail (options != NULL, NULL);
  return options->metadata ? json_node_get_object (options->metadata) : NULL;
}

/**
 * jupiter_job_options_set_timeout:
 * @options: a #JupiterJobOptions
 * @timeout: microseconds from the job's start to its deadline; 0 uses the
 *   manager's #JupiterJobManager:default-timeout, a negative value means no
 *   timeout at all
 *
 * At the deadline the job fails with %JUPITER_JOB_ERROR_TIMED_OUT and its
 * cancellable is triggered; a result that arrives later is discarded.
 */
void
jupiter_job_options_set_timeout (JupiterJobOptions *options,
                                 GTimeSpan          timeout)
{
  g_return_if_fail (options != NULL);
  options->timeout = timeout;
}

/**
 * jupiter_job_options_get_timeout:
 * @options: a #JupiterJobOptions
 *
 * Returns: the timeout, see jupiter_job_options_set_timeout()
 */
GTimeSpan
jupiter_job_options_get_timeout (const JupiterJobOptions *options)
{
  g_return_val_if_fail (options != NULL, 0);
  return options->timeout;
}

/**
 * jupiter_job_options_set_flags:
 * @options: a #JupiterJobOptions
 * @flags: #JupiterJobFlags
 */
void
jupiter_job_options_set_flags (JupiterJobOptions *options,
                               JupiterJobFlags    flags)
{
  g_return_if_fail (options != NULL);
  options->flags = flags;
}

/**
 * jupiter_job_options_get_flags:
 * @options: a #JupiterJobOptions
 *
 * Returns: the flags
 */
JupiterJobFlags
jupiter_job_options_get_flags (const JupiterJobOptions *options)
{
  g_return_val_if_fail (options != NULL, JUPITER_JOB_FLAGS_NONE);
  return options->flags;
}
