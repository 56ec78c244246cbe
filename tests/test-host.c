/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* JupiterHost: configuration applied, plugins loaded or failed, startup and
 * interval jobs, the asynchronous shutdown, the structured log records. */

#include "config.h"

#include <jupiter/jupiter.h>

#include "host-test-util.h"
#include <glib/gstdio.h>

#include <sys/stat.h>

typedef struct {
  GMainContext *context;
  char         *dir;       /* a private temporary directory */
  JupiterHost  *host;
  JupiterClock *clock;     /* manual */
} Fixture;

/* Log records of the host, captured by the writer below. */
static GPtrArray *captured;   /* of GHashTable* (field -> value) */

static GLogWriterOutput
capture_writer (GLogLevelFlags   level,
                const GLogField *fields,
                gsize            n_fields,
                gpointer         user_data)
{
  GHashTable *record;
  gboolean event = FALSE;

  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "JUPITER_EVENT"))
      event = TRUE;
  /* The host's event records (a plugin that fails to load is a warning)
   * are what the tests provoke: captured or dropped, never fatal. Anything
   * else goes to the default writer, where warnings abort the test. */
  if (!event)
    return g_log_writer_default (level, fields, n_fields, user_data);
  if (captured == NULL)
    return G_LOG_WRITER_HANDLED;
  record = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (gsize i = 0; i < n_fields; i++)
    g_hash_table_insert (record, g_strdup (fields[i].key),
                         fields[i].length < 0 ? g_strdup (fields[i].value)
                                              : g_strndup (fields[i].value, fields[i].length));
  g_ptr_array_add (captured, record);
  return G_LOG_WRITER_HANDLED;
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->context = g_main_context_new ();
  g_main_context_push_thread_default (f->context);
  f->dir = g_dir_make_tmp ("jupiter-host-XXXXXX", &error);
  g_assert_no_error (error);
  f->clock = jupiter_clock_new_manual (0);
  f->host = g_object_new (JUPITER_TYPE_HOST, "clock", f->clock, NULL);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  JupiterJobManager *manager = jupiter_host_get_job_manager (f->host);

  /* No job may outlive the host: cancel what runs (the blockers wait for
   * it), then shut down. */
  if (!jupiter_job_manager_is_shutting_down (manager))
    {
      g_autoptr(GPtrArray) jobs = jupiter_job_manager_list (manager, JUPITER_JOB_STATUS_ANY, NULL, 0);

      /* Pending ones too: one may start between the list and the cancel. */
      for (guint i = 0; i < jobs->len; i++)
        if (!jupiter_job_is_finished (g_ptr_array_index (jobs, i)))
          jupiter_job_manager_cancel (manager, jupiter_job_get_id (g_ptr_array_index (jobs, i)), NULL);
      g_assert_true (jupiter_job_manager_shutdown (manager, 60 * G_USEC_PER_SEC, NULL));
    }
  g_clear_object (&f->host);
  g_clear_object (&f->clock);
  while (g_main_context_iteration (f->context, FALSE))
    ;
  g_main_context_pop_thread_default (f->context);
  g_main_context_unref (f->context);
  host_test_remove_tree (f->dir);
  g_free (f->dir);
  if (captured)
    g_clear_pointer (&captured, g_ptr_array_unref);
}

static void
on_done (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static GAsyncResult *
iterate_for_result (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (g_main_context_get_thread_default (), TRUE);
  return *slot;
}

static JupiterJob *
wait_job (Fixture    *f,
          const char *id)
{
  g_autoptr(GError) error = NULL;
  JupiterJob *job = jupiter_job_manager_wait (jupiter_host_get_job_manager (f->host), id, NULL, &error);

  g_assert_no_error (error);
  return job;
}

/* ------------------------------------------------------------------------ */

static void
test_config_applied (Fixture       *f,
                     gconstpointer  data)
{
  g_autofree char *config = host_test_write_file (f->dir, "host.yaml",
    "host:\n"
    "  max_concurrent: 3\n"
    "  max_pending: 17\n"
    "  history_limit: 42\n"
    "  shutdown_grace: 1500ms\n"
    "  export_on_exit:\n"
    "    path: out/jobs.yaml\n"
    "circuit_breaker:\n"
    "  failure_threshold: 7\n"
    "  cooldown: 2m\n");
  g_autofree char *export = g_build_filename (f->dir, "out", "jobs.yaml", NULL);
  g_autoptr(GError) error = NULL;
  JupiterJobManager *manager = jupiter_host_get_job_manager (f->host);
  JupiterCircuitBreakerRegistry *registry = jupiter_host_get_circuit_breaker_registry (f->host);
  guint threshold;
  gint64 cooldown;

  g_assert_true (jupiter_host_load_config (f->host, config, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (jupiter_host_get_config_path (f->host), ==, config);
  g_assert_cmpuint (jupiter_job_manager_get_max_concurrent (manager), ==, 3);
  g_assert_cmpuint (jupiter_job_manager_get_max_pending (manager), ==, 17);
  g_assert_cmpuint (jupiter_job_manager_get_history_limit (manager), ==, 42);
  g_assert_cmpint (jupiter_host_get_shutdown_grace (f->host), ==, 1500 * 1000);
  g_assert_cmpstr (jupiter_host_get_export_path (f->host), ==, export);
  g_object_get (registry, "failure-threshold", &threshold, "cooldown", &cooldown, NULL);
  g_assert_cmpuint (threshold, ==, 7);
  g_assert_cmpint (cooldown, ==, 120 * G_USEC_PER_SEC);
}

static void
test_config_error_applies_nothing (Fixture       *f,
                                   gconstpointer  data)
{
  g_autofree char *config = host_test_write_file (f->dir, "bad.yaml",
    "host:\n"
    "  max_concurrent: 3\n"
    "  history_limit: -1\n");
  g_autofree char *prefix = g_strdup_printf ("%s:3:18: host.history_limit:", config);
  g_autoptr(GError) error = NULL;

  g_assert_false (jupiter_host_load_config (f->host, config, &error));
  g_assert_error (error, JUPITER_CONFIG_ERROR, JUPITER_CONFIG_ERROR_VALUE);
  g_assert_true (g_str_has_prefix (error->message, prefix));
  g_assert_cmpuint (jupiter_job_manager_get_max_concurrent (jupiter_host_get_job_manager (f->host)), !=, 3);
  g_assert_null (jupiter_host_get_config_path (f->host));
}

typedef struct {
  GPtrArray *loaded;   /* of char* */
  GPtrArray *failed;   /* of char* messages */
} PluginEvents;

static void
on_loaded (JupiterHost *host, JupiterPlugin *plugin, gpointer data)
{
  g_ptr_array_add (((PluginEvents *) data)->loaded, g_strdup (jupiter_plugin_get_id (plugin)));
}

static void
on_failed (JupiterHost *host, const char *id, const GError *error, gpointer data)
{
  g_ptr_array_add (((PluginEvents *) data)->failed, g_strdup_printf ("%s|%s", id, error->message));
}

static void
test_plugins_loaded_and_failed (Fixture       *f,
                                gconstpointer  data)
{
  g_autofree char *slow = host_test_copy_built (f->dir, "plugins-host", "slow.so", "slow.so");
  g_autofree char *broken = host_test_copy_built (f->dir, "plugins-zoo", "zoo-abi-major-new.so", "broken.so");
  g_autofree char *text = g_strdup_printf (
    "plugins:\n"
    "  - id: slow\n"
    "    path: %s\n"
    "  - id: broken\n"
    "    path: %s\n"
    "  - id: off\n"
    "    enabled: false\n"
    "jobs:\n"
    "  - plugin: off\n"
    "    entry: anything\n", slow, broken);
  g_autofree char *config = host_test_write_file (f->dir, "host.yaml", text);
  g_autofree char *expected = g_strdup_printf ("broken|%s:4:5: plugins[1] (broken): ", config);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) loaded = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) failed = g_ptr_array_new_with_free_func (g_free);
  PluginEvents events = { loaded, failed };
  g_autofree char *id = NULL;

  g_assert_true (jupiter_host_load_config (f->host, config, &error));
  g_signal_connect (f->host, "plugin-loaded", G_CALLBACK (on_loaded), &events);
  g_signal_connect (f->host, "plugin-failed::broken", G_CALLBACK (on_failed), &events);

  g_assert_cmpuint (jupiter_host_load_plugins (f->host), ==, 1);
  g_assert_cmpuint (loaded->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (loaded, 0), ==, "slow");
  g_assert_cmpuint (failed->len, ==, 1);
  g_assert_true (g_str_has_prefix (g_ptr_array_index (failed, 0), expected));
  g_assert_nonnull (strstr (g_ptr_array_index (failed, 0), "broken.so"));

  /* The disabled plugin's job is skipped, not an error; submitting to the
   * plugin by hand says why it cannot run. */
  g_assert_true (jupiter_host_submit_startup_jobs (f->host, &error));
  g_assert_no_error (error);
  {
    g_auto(GStrv) ids = jupiter_host_dup_startup_job_ids (f->host);

    g_assert_cmpuint (g_strv_length (ids), ==, 0);
  }
  id = jupiter_host_submit (f->host, "off", "anything", NULL, &error);
  g_assert_null (id);
  g_assert_error (error, JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_NOT_LOADED);
  g_assert_nonnull (strstr (error->message, "disabled"));
  g_clear_error (&error);

  id = jupiter_host_submit (f->host, "broken", "hello", NULL, &error);
  g_assert_null (id);
  g_assert_error (error, JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_NOT_LOADED);
  g_clear_error (&error);
  id = jupiter_host_submit (f->host, "nobody", "hello", NULL, &error);
  g_assert_null (id);
  g_assert_error (error, JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_NOT_FOUND);
}

static void
test_startup_jobs_and_timeout (Fixture       *f,
                               gconstpointer  data)
{
  g_autofree char *slow = host_test_copy_built (f->dir, "plugins-host", "slow.so", "slow.so");
  g_autofree char *good = host_test_copy_built (f->dir, "plugins-zoo", "zoo-good.so", "good.so");
  /* The timeout is slow's alone: the job that must complete is good's, so
   * that no machine is too slow for it. */
  g_autofree char *text = g_strdup_printf (
    "plugins:\n"
    "  - id: slow\n"
    "    path: %s\n"
    "    timeout: 50ms\n"
    "  - id: good\n"
    "    path: %s\n"
    "jobs:\n"
    "  - plugin: good\n"
    "    entry: hello\n"
    "    args: {name: startup}\n"
    "  - plugin: slow\n"
    "    entry: block\n"
    "  - plugin: slow\n"
    "    entry: work\n"
    "    every: 1h\n", slow, good);
  g_autofree char *config = host_test_write_file (f->dir, "host.yaml", text);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) ids = NULL;
  g_autoptr(JupiterJob) work = NULL;
  g_autoptr(JupiterJob) block = NULL;
  JsonNode *result;

  g_assert_true (jupiter_host_load_config (f->host, config, &error));
  g_assert_cmpuint (jupiter_host_load_plugins (f->host), ==, 0);
  g_assert_true (jupiter_host_submit_startup_jobs (f->host, &error));
  g_assert_no_error (error);
  ids = jupiter_host_dup_startup_job_ids (f->host);
  g_assert_cmpuint (g_strv_length (ids), ==, 2);   /* the interval job is not a startup job */

  work = wait_job (f, ids[0]);
  g_assert_cmpint (jupiter_job_get_status (work), ==, JUPITER_JOB_STATUS_COMPLETED);
  result = jupiter_job_get_result (work);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (result), "hello"), ==, "startup");

  /* The configured timeout, not the plugin's (none), ends the blocker. */
  block = wait_job (f, ids[1]);
  g_assert_cmpint (jupiter_job_get_status (block), ==, JUPITER_JOB_STATUS_FAILED);
  g_assert_error ((GError *) jupiter_job_get_error (block), JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_TIMED_OUT);
}

static void
test_plugin_cap_from_config (Fixture       *f,
                             gconstpointer  data)
{
  g_autofree char *slow = host_test_copy_built (f->dir, "plugins-host", "slow.so", "slow.so");
  g_autofree char *text = g_strdup_printf (
    "host: {max_concurrent: 4}\n"
    "plugins: [{id: slow, path: '%s', max_concurrent: 1}]\n", slow);
  g_autofree char *config = host_test_write_file (f->dir, "host.yaml", text);
  JupiterJobManager *manager = jupiter_host_get_job_manager (f->host);
  g_autoptr(GError) error = NULL;
  g_autofree char *first = NULL, *second = NULL;
  g_autoptr(JupiterJob) job = NULL;

  g_assert_true (jupiter_host_load_config (f->host, config, &error));
  g_assert_cmpuint (jupiter_host_load_plugins (f->host), ==, 0);
  first = jupiter_host_submit (f->host, "slow", "block", NULL, &error);
  second = jupiter_host_submit (f->host, "slow", "block", NULL, &error);
  g_assert_no_error (error);

  /* Until the first one runs, then: the second waits for the cap. */
  while (jupiter_job_manager_count (manager, JUPITER_JOB_STATUS_RUNNING, "slow") == 0)
    g_main_context_iteration (g_main_context_get_thread_default (), TRUE);
  g_assert_cmpuint (jupiter_job_manager_count (manager, JUPITER_JOB_STATUS_RUNNING, "slow"), ==, 1);
  job = jupiter_job_manager_get (manager, second, &error);
  g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_PENDING);
  g_assert_true (jupiter_job_manager_cancel (manager, first, &error));
  g_assert_true (jupiter_job_manager_cancel (manager, second, &error));
}

static void
test_breaker_from_config (Fixture       *f,
                          gconstpointer  data)
{
  g_autofree char *slow = host_test_copy_built (f->dir, "plugins-host", "slow.so", "slow.so");
  g_autofree char *text = g_strdup_printf (
    "circuit_breaker: {failure_threshold: 10, cooldown: 1h}\n"
    "plugins:\n"
    "  - id: slow\n"
    "    path: %s\n"
    "    circuit_breaker: {failure_threshold: 2}\n", slow);
  g_autofree char *config = host_test_write_file (f->dir, "host.yaml", text);
  g_autoptr(GError) error = NULL;
  JupiterCircuitBreaker *breaker;

  g_assert_true (jupiter_host_load_config (f->host, config, &error));
  g_assert_cmpuint (jupiter_host_load_plugins (f->host), ==, 0);
  breaker = jupiter_circuit_breaker_registry_get (jupiter_host_get_circuit_breaker_registry (f->host), "slow");
  g_assert_nonnull (breaker);
  g_assert_cmpuint (jupiter_circuit_breaker_get_failure_threshold (breaker), ==, 2);
  g_assert_cmpint (jupiter_circuit_breaker_get_cooldown (breaker), ==, (gint64) G_USEC_PER_SEC * 3600);

  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *id = jupiter_host_submit (f->host, "slow", "fail", NULL, &error);
      g_autoptr(JupiterJob) job = NULL;

      g_assert_no_error (error);
      job = wait_job (f, id);
      g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_FAILED);
    }
  g_assert_cmpint (jupiter_circuit_breaker_get_state (breaker), ==, JUPITER_CIRCUIT_STATE_OPEN);
  g_assert_null (jupiter_host_submit (f->host, "slow", "work", NULL, &error));
  g_assert_error (error, JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_CIRCUIT_OPEN);
}

static void
on_tick_skipped (JupiterHost *host, const char *plugin, const char *entry, const char *previous,
                 gpointer data)
{
  g_assert_cmpstr (plugin, ==, "slow");
  g_assert_cmpstr (entry, ==, "block");
  (*(guint *) data)++;
}

static guint
count_jobs (Fixture *f)
{
  return jupiter_job_manager_count (jupiter_host_get_job_manager (f->host), JUPITER_JOB_STATUS_ANY, NULL);
}

static void
test_interval_skips_while_running (Fixture       *f,
                                   gconstpointer  data)
{
  g_autofree char *slow = host_test_copy_built (f->dir, "plugins-host", "slow.so", "slow.so");
  g_autofree char *text = g_strdup_printf (
    "plugins: [{id: slow, path: '%s'}]\n"
    "jobs:\n"
    "  - {plugin: slow, entry: block, every: 10s}\n", slow);
  g_autofree char *config = host_test_write_file (f->dir, "host.yaml", text);
  JupiterJobManager *manager = jupiter_host_get_job_manager (f->host);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) jobs = NULL;
  g_autoptr(JupiterJob) done = NULL;
  guint skipped = 0;

  g_assert_true (jupiter_host_load_config (f->host, config, &error));
  g_assert_cmpuint (jupiter_host_load_plugins (f->host), ==, 0);
  g_signal_connect (f->host, "tick-skipped", G_CALLBACK (on_tick_skipped), &skipped);
  jupiter_host_start_interval_jobs (f->host);

  /* Nothing before the first interval. */
  jupiter_clock_advance (f->clock, 9 * G_USEC_PER_SEC);
  while (g_main_context_iteration (g_main_context_get_thread_default (), FALSE))
    ;
  g_assert_cmpuint (count_jobs (f), ==, 0);

  /* The first tick submits a run, which blocks. */
  jupiter_clock_advance (f->clock, G_USEC_PER_SEC);
  while (count_jobs (f) == 0)
    g_main_context_iteration (g_main_context_get_thread_default (), TRUE);

  /* The next two ticks find it still going: skipped and counted. */
  jupiter_clock_advance (f->clock, 10 * G_USEC_PER_SEC);
  while (skipped < 1)
    g_main_context_iteration (g_main_context_get_thread_default (), TRUE);
  jupiter_clock_advance (f->clock, 10 * G_USEC_PER_SEC);
  while (skipped < 2)
    g_main_context_iteration (g_main_context_get_thread_default (), TRUE);
  g_assert_cmpuint (count_jobs (f), ==, 1);
  g_assert_cmpuint (jupiter_host_get_skipped_ticks (f->host), ==, 2);

  /* Once it has finished, the next tick runs it again. */
  jobs = jupiter_job_manager_list (manager, JUPITER_JOB_STATUS_ANY, NULL, 0);
  g_assert_true (jupiter_job_manager_cancel (manager, jupiter_job_get_id (g_ptr_array_index (jobs, 0)), &error));
  done = wait_job (f, jupiter_job_get_id (g_ptr_array_index (jobs, 0)));
  g_assert_cmpint (jupiter_job_get_status (done), ==, JUPITER_JOB_STATUS_CANCELLED);
  jupiter_clock_advance (f->clock, 10 * G_USEC_PER_SEC);
  while (count_jobs (f) < 2)
    g_main_context_iteration (g_main_context_get_thread_default (), TRUE);
  g_assert_cmpuint (skipped, ==, 2);
}

static void
test_shutdown_cancels_and_exports (Fixture       *f,
                                   gconstpointer  data)
{
  g_autofree char *slow = host_test_copy_built (f->dir, "plugins-host", "slow.so", "slow.so");
  g_autofree char *marker = g_build_filename (f->dir, "marker", NULL);
  g_autofree char *export = g_build_filename (f->dir, "jobs.json", NULL);
  g_autofree char *text = g_strdup_printf (
    "host: {shutdown_grace: 0s, export_on_exit: {path: jobs.json}}\n"
    "plugins:\n"
    "  - id: slow\n"
    "    path: %s\n"
    "    max_concurrent: 1\n"
    "    config: {shutdown_marker: '%s'}\n"
    "jobs:\n"
    "  - {plugin: slow, entry: block}\n"
    "  - {plugin: slow, entry: block}\n", slow, marker);
  g_autofree char *config = host_test_write_file (f->dir, "host.yaml", text);
  JupiterJobManager *manager = jupiter_host_get_job_manager (f->host);
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *contents = NULL;
  JsonArray *jobs;

  g_assert_true (jupiter_host_load_config (f->host, config, &error));
  g_assert_cmpuint (jupiter_host_load_plugins (f->host), ==, 0);
  g_assert_true (jupiter_host_submit_startup_jobs (f->host, &error));
  while (jupiter_job_manager_count (manager, JUPITER_JOB_STATUS_RUNNING, NULL) == 0)
    g_main_context_iteration (g_main_context_get_thread_default (), TRUE);

  jupiter_host_shutdown_async (f->host, NULL, on_done, &result);
  g_assert_true (jupiter_host_is_shutting_down (f->host));
  iterate_for_result (&result);
  g_assert_true (jupiter_host_shutdown_finish (f->host, result, &error));
  g_assert_no_error (error);

  g_assert_cmpuint (jupiter_job_manager_count (manager, JUPITER_JOB_STATUS_CANCELLED, NULL), ==, 2);
  g_assert_cmpuint (jupiter_job_manager_get_n_running_functions (manager), ==, 0);
  contents = host_test_read_file (marker);
  g_assert_cmpstr (contents, ==, "slow\n");

  g_assert_true (json_parser_load_from_file (parser, export, &error));
  jobs = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)), "jobs");
  g_assert_cmpuint (json_array_get_length (jobs), ==, 2);
  for (guint i = 0; i < 2; i++)
    g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (jobs, i), "status"),
                     ==, "cancelled");
}

static void
test_shutdown_now (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *slow = host_test_copy_built (f->dir, "plugins-host", "slow.so", "slow.so");
  g_autofree char *marker = g_build_filename (f->dir, "marker", NULL);
  g_autofree char *release = g_build_filename (f->dir, "release", NULL);
  g_autofree char *export = g_build_filename (f->dir, "jobs.yaml", NULL);
  g_autofree char *text = g_strdup_printf (
    "host: {shutdown_grace: 1h, export_on_exit: {path: '%s'}}\n"
    "plugins: [{id: slow, path: '%s', config: {shutdown_marker: '%s'}}]\n",
    export, slow, marker);
  g_autofree char *config = host_test_write_file (f->dir, "host.yaml", text);
  JupiterJobManager *manager = jupiter_host_get_job_manager (f->host);
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonNode) args = json_from_string ("{}", NULL);
  g_autofree char *id = NULL;
  g_autofree char *contents = NULL;

  json_object_set_string_member (json_node_get_object (args), "release", release);
  g_assert_true (jupiter_host_load_config (f->host, config, &error));
  g_assert_cmpuint (jupiter_host_load_plugins (f->host), ==, 0);
  id = jupiter_host_submit (f->host, "slow", "stubborn", args, &error);
  g_assert_no_error (error);
  while (jupiter_job_manager_count (manager, JUPITER_JOB_STATUS_RUNNING, NULL) == 0)
    g_main_context_iteration (g_main_context_get_thread_default (), TRUE);

  jupiter_host_shutdown_async (f->host, NULL, on_done, &result);
  /* The grace period is an hour: only the cut ends it. */
  while (g_main_context_iteration (g_main_context_get_thread_default (), FALSE))
    ;
  g_assert_null (result);
  jupiter_host_shutdown_now (f->host);
  iterate_for_result (&result);
  g_assert_false (jupiter_host_shutdown_finish (f->host, result, &error));
  g_assert_error (error, JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_TIMED_OUT);
  g_clear_error (&error);

  /* Exported regardless; the plugin was not shut down under its thread. */
  contents = host_test_read_file (export);
  g_assert_nonnull (strstr (contents, id));
  g_assert_false (g_file_test (marker, G_FILE_TEST_EXISTS));

  /* Let the stubborn job go so that the fixture can end. */
  g_file_set_contents (release, "", 0, &error);
  g_assert_no_error (error);
  while (jupiter_job_manager_get_n_running_functions (manager) > 0)
    g_main_context_iteration (g_main_context_get_thread_default (), TRUE);
}

static const char *
record_get (GHashTable *record,
            const char *key)
{
  return g_hash_table_lookup (record, key);
}

static void
test_log_records (Fixture       *f,
                  gconstpointer  data)
{
  g_autofree char *slow = host_test_copy_built (f->dir, "plugins-host", "slow.so", "slow.so");
  g_autofree char *text = g_strdup_printf (
    "plugins: [{id: slow, path: '%s', circuit_breaker: {failure_threshold: 1}}]\n"
    "jobs: [{plugin: slow, entry: fail}]\n", slow);
  g_autofree char *config = host_test_write_file (f->dir, "host.yaml", text);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) ids = NULL;
  g_autoptr(JupiterJob) job = NULL;
  gboolean saw_started = FALSE, saw_failed = FALSE, saw_breaker = FALSE, saw_loaded = FALSE;

  captured = g_ptr_array_new_with_free_func ((GDestroyNotify) g_hash_table_unref);
  g_assert_true (jupiter_host_load_config (f->host, config, &error));
  g_assert_cmpuint (jupiter_host_load_plugins (f->host), ==, 0);
  g_assert_true (jupiter_host_submit_startup_jobs (f->host, &error));
  ids = jupiter_host_dup_startup_job_ids (f->host);
  job = wait_job (f, ids[0]);
  /* The breaker's change is announced on the context too. */
  while (g_main_context_iteration (g_main_context_get_thread_default (), FALSE))
    ;

  for (guint i = 0; i < captured->len; i++)
    {
      GHashTable *r = g_ptr_array_index (captured, i);
      const char *event = record_get (r, "JUPITER_EVENT");

      if (event == NULL)
        continue;
      g_assert_cmpstr (record_get (r, "GLIB_DOMAIN"), ==, "Jupiter");
      g_assert_nonnull (record_get (r, "MESSAGE"));
      g_assert_true (g_str_has_prefix (record_get (r, "MESSAGE"), event));
      if (g_str_equal (event, "plugin-loaded"))
        saw_loaded = TRUE;
      else if (g_str_equal (event, "job-started"))
        {
          g_assert_cmpstr (record_get (r, "JUPITER_JOB_ID"), ==, ids[0]);
          g_assert_cmpstr (record_get (r, "JUPITER_STATUS"), ==, "running");
          saw_started = TRUE;
        }
      else if (g_str_equal (event, "job-failed"))
        {
          g_assert_cmpstr (record_get (r, "JUPITER_JOB_ID"), ==, ids[0]);
          g_assert_cmpstr (record_get (r, "JUPITER_PLUGIN_ID"), ==, "slow");
          g_assert_cmpstr (record_get (r, "JUPITER_ENTRY"), ==, "fail");
          g_assert_cmpstr (record_get (r, "JUPITER_STATUS"), ==, "failed");
          g_assert_cmpstr (record_get (r, "JUPITER_ERROR"), ==, "slow failure on purpose");
          g_assert_nonnull (record_get (r, "JUPITER_DURATION_MS"));
          g_assert_nonnull (strstr (record_get (r, "MESSAGE"), "error=\"slow failure on purpose\""));
          saw_failed = TRUE;
        }
      else if (g_str_equal (event, "breaker-state-changed"))
        {
          g_assert_cmpstr (record_get (r, "JUPITER_PLUGIN_ID"), ==, "slow");
          g_assert_cmpstr (record_get (r, "JUPITER_BREAKER_TO"), ==, "open");
          saw_breaker = TRUE;
        }
    }
  g_assert_true (saw_loaded);
  g_assert_true (saw_started);
  g_assert_true (saw_failed);
  g_assert_true (saw_breaker);
}

int
main (int   argc,
      char *argv[])
{
  g_log_set_writer_func (capture_writer, NULL, NULL);
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/host/config-applied", test_config_applied);
  ADD ("/host/config-error-applies-nothing", test_config_error_applies_nothing);
  ADD ("/host/plugins-loaded-and-failed", test_plugins_loaded_and_failed);
  ADD ("/host/startup-jobs-and-timeout", test_startup_jobs_and_timeout);
  ADD ("/host/plugin-cap-from-config", test_plugin_cap_from_config);
  ADD ("/host/breaker-from-config", test_breaker_from_config);
  ADD ("/host/interval-skips-while-running", test_interval_skips_while_running);
  ADD ("/host/shutdown-cancels-and-exports", test_shutdown_cancels_and_exports);
  ADD ("/host/shutdown-now", test_shutdown_now);
  ADD ("/host/log-records", test_log_records);
#undef ADD

  return g_test_run ();
}
