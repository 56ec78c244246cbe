/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * jupiter-host: the command-line front end over JupiterHost.
 *
 *   jupiter-host --config FILE            run until SIGINT or SIGTERM
 *   jupiter-host --config FILE --once     run the startup jobs, wait, export, exit
 *   jupiter-host --config FILE --check    validate the config, load the plugins, report
 *   jupiter-host [--config FILE] --list-plugins
 *   jupiter-host [--config FILE] --run PLUGIN:ENTRY [--args JSON]
 *
 * Exit status (README, "Exit codes"):
 *   0  success (a clean shutdown after a signal included)
 *   1  --check/--list-plugins: the config or a plugin is bad; --run/--once: a
 *      job failed or was cancelled, or a startup job could not be submitted;
 *      any mode: the export on exit failed
 *   2  bad command line (unknown option, bad --args JSON, modes combined)
 *   3  could not start: the config file is invalid, or --run's plugin or
 *      entry is unavailable
 *   4  a job function was still running at exit: the plugins were not shut
 *      down and the process ended with _exit()
 *
 * The library logs with g_log_structured(); this program installs the log
 * writer: one readable line per record, or one JSON object per line with
 * --json-log, on stderr. Reports (--check, --list-plugins, --run's job) go
 * to stdout.
 */

#include "config.h"

#include <jupiter/jupiter.h>

#include <glib-unix.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
  EXIT_OK = 0,
  EXIT_JOB_FAILED = 1,
  EXIT_USAGE = 2,
  EXIT_NOT_STARTED = 3,
  EXIT_FORCED = 4,
};

typedef struct {
  JupiterHost *host;
  GMainLoop   *loop;
  guint        signals_seen;
  gboolean     shutdown_started;
  gboolean     shutdown_done;
  gboolean     plugins_shut_down;
  gboolean     export_failed;
  /* --once / --run */
  GHashTable  *waiting;          /* ids of the jobs not finished yet */
  gboolean     keep_job;         /* --run: keep the job in run_job */
  gboolean     any_job_failed;
  JupiterJob  *run_job;          /* --run: the finished job */
} App;

static gboolean opt_json_log;
static gboolean opt_verbose;

/* ------------------------------------------------------------------------ */
/* The log writer                                                           */

static const char *
level_name (GLogLevelFlags level)
{
  if (level & G_LOG_LEVEL_ERROR)
    return "error";
  if (level & G_LOG_LEVEL_CRITICAL)
    return "critical";
  if (level & G_LOG_LEVEL_WARNING)
    return "warning";
  if (level & G_LOG_LEVEL_MESSAGE)
    return "message";
  if (level & G_LOG_LEVEL_INFO)
    return "info";
  return "debug";
}

static char *
field_text (const GLogField *field)
{
  if (field->length < 0)
    return g_strdup (field->value);
  return g_strndup (field->value, field->length);
}

/* "JUPITER_JOB_ID" -> "job_id" */
static char *
json_key (const char *field_key)
{
  const char *key = g_str_has_prefix (field_key, "JUPITER_") ? field_key + 8 : field_key;

  return g_ascii_strdown (key, -1);
}

/* Appends @text as a JSON string: valid UTF-8, control characters escaped. */
static void
json_append_string (GString    *out,
                    const char *text)
{
  g_autofree char *valid = g_utf8_make_valid (text, -1);

  g_string_append_c (out, '"');
  for (const unsigned char *p = (const unsigned char *) valid; *p; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_printf (out, "\\%c", *p);
      else if (*p == '\n')
        g_string_append (out, "\\n");
      else if (*p == '\t')
        g_string_append (out, "\\t");
      else if (*p < 0x20)
        g_string_append_printf (out, "\\u%04x", *p);
      else
        g_string_append_c (out, (char) *p);
    }
  g_string_append_c (out, '"');
}

/* The shortest text that reads back as @value, as a JSON number (null for
 * what JSON cannot hold). */
static void
json_append_double (GString *out,
                    double   value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (value))
    {
      g_string_append (out, "null");
      return;
    }
  for (int precision = 1; precision <= 17; precision++)
    {
      char format[8];

      g_snprintf (format, sizeof format, "%%.%dg", precision);
      g_ascii_formatd (buf, sizeof buf, format, value);
      if (g_ascii_strtod (buf, NULL) == value)
        break;
    }
  g_string_append (out, buf);
  if (strpbrk (buf, ".eE") == NULL)
    g_string_append (out, ".0");
}

/* A JSON value, indented by @indent levels when @pretty. */
static void
json_append_node (GString  *out,
                  JsonNode *node,
                  gboolean  pretty,
                  guint     indent)
{
  const char *nl = pretty ? "\n" : "";

  switch (node ? json_node_get_node_type (node) : JSON_NODE_NULL)
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *obj = json_node_get_object (node);
        g_autoptr(GList) members = json_object_get_members (obj);

        if (members == NULL)
          {
            g_string_append (out, "{}");
            break;
          }
        g_string_append_printf (out, "{%s", nl);
        for (GList *l = members; l; l = l->next)
          {
            if (pretty)
              g_string_append_printf (out, "%*s", (indent + 1) * 2, "");
            json_append_string (out, l->data);
            g_string_append (out, pretty ? ": " : ":");
            json_append_node (out, json_object_get_member (obj, l->data), pretty, indent + 1);
            g_string_append_printf (out, "%s%s", l->next ? "," : "", nl);
          }
        if (pretty)
          g_string_append_printf (out, "%*s", indent * 2, "");
        g_string_append_c (out, '}');
      }
      break;
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        guint n = json_array_get_length (array);

        if (n == 0)
          {
            g_string_append (out, "[]");
            break;
          }
        g_string_append_printf (out, "[%s", nl);
        for (guint i = 0; i < n; i++)
          {
            if (pretty)
              g_string_append_printf (out, "%*s", (indent + 1) * 2, "");
            json_append_node (out, json_array_get_element (array, i), pretty, indent + 1);
            g_string_append_printf (out, "%s%s", i + 1 < n ? "," : "", nl);
          }
        if (pretty)
          g_string_append_printf (out, "%*s", indent * 2, "");
        g_string_append_c (out, ']');
      }
      break;
    case JSON_NODE_VALUE:
      switch (json_node_get_value_type (node))
        {
        case G_TYPE_INT64:
          g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
          break;
        case G_TYPE_DOUBLE:
          json_append_double (out, json_node_get_double (node));
          break;
        case G_TYPE_BOOLEAN:
          g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
          break;
        default:
          json_append_string (out, json_node_get_string (node));
          break;
        }
      break;
    case JSON_NODE_NULL:
    default:
      g_string_append (out, "null");
      break;
    }
}

/* Fields whose values are numbers in the JSON log. */
static gboolean
numeric_key (const char *key)
{
  static const char * const keys[] = {
    "duration_ms", "progress", "consecutive_failures", "retry_in_s", "jobs",
    "pending", "running", "running_functions", "skipped", NULL
  };

  return g_strv_contains (keys, key);
}

static GLogWriterOutput
writer (GLogLevelFlags   level,
        const GLogField *fields,
        gsize            n_fields,
        gpointer         user_data)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *stamp = g_date_time_format (now, "%Y-%m-%dT%H:%M:%S.%fZ");
  g_autoptr(GString) line = g_string_new (NULL);
  const char *domain = NULL;
  g_autofree char *message = NULL;
  gboolean event = FALSE;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, "GLIB_DOMAIN"))
        domain = fields[i].value;
      else if (g_str_equal (fields[i].key, "MESSAGE"))
        message = field_text (&fields[i]);
      else if (g_str_equal (fields[i].key, "JUPITER_EVENT"))
        event = TRUE;
    }

  /* Debug records only with --verbose or G_MESSAGES_DEBUG. */
  if ((level & G_LOG_LEVEL_DEBUG) && !opt_verbose &&
      g_log_writer_default_would_drop (level, domain))
    return G_LOG_WRITER_HANDLED;

  if (opt_json_log)
    {
      g_string_append (line, "{\"time\":");
      json_append_string (line, stamp);
      g_string_append (line, ",\"level\":");
      json_append_string (line, level_name (level));
      g_string_append (line, ",\"domain\":");
      json_append_string (line, domain ? domain : "");
      g_string_append (line, ",\"message\":");
      json_append_string (line, message ? message : "");
      for (gsize i = 0; i < n_fields; i++)
        {
          g_autofree char *key = NULL;
          g_autofree char *value = NULL;
          char *end = NULL;

          if (!g_str_has_prefix (fields[i].key, "JUPITER_"))
            continue;
          key = json_key (fields[i].key);
          value = field_text (&fields[i]);
          g_string_append_c (line, ',');
          json_append_string (line, key);
          g_string_append_c (line, ':');
          /* Numbers stay numbers, as the library formatted them. */
          if (numeric_key (key) && *value && (g_ascii_strtod (value, &end), *end == '\0'))
            g_string_append (line, value);
          else
            json_append_string (line, value);
        }
      g_string_append_c (line, '}');
    }
  else
    {
      const char *shown = domain && !g_str_equal (domain, "Jupiter") ? domain : NULL;

      g_string_append_printf (line, "%s %-7s ", stamp, level_name (level));
      if (shown)
        g_string_append_printf (line, "%s: ", shown);
      /* A record a job logged (jupiter_job_context_log()): say which job. */
      if (!event)
        for (gsize i = 0; i < n_fields; i++)
          if (g_str_equal (fields[i].key, "JUPITER_JOB_ID"))
            {
              g_autofree char *id = field_text (&fields[i]);

              g_string_append_printf (line, "job id=%s: ", id);
            }
      g_string_append (line, message ? message : "");
    }

  /* One write per record, so lines from threads never interleave. */
  g_string_append_c (line, '\n');
  {
    const char *p = line->str;
    gsize len = line->len;

    while (len > 0)
      {
        ssize_t n = write (STDERR_FILENO, p, len);

        if (n < 0)
          break;
        p += n;
        len -= (gsize) n;
      }
  }
  return G_LOG_WRITER_HANDLED;
}

/* A problem found after the command line was read: a plain line on stderr,
 * or with --json-log a record like every other (so that stderr stays JSON
 * lines). */
static void G_GNUC_PRINTF (1, 2)
report (const char *format,
        ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  if (opt_json_log)
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "MESSAGE", "%s", text);
  else
    g_printerr ("jupiter-host: %s\n", text);
}

/* ------------------------------------------------------------------------ */
/* Reports                                                                  */

static void
print_plugin (JupiterPlugin *plugin)
{
  JupiterPluginState state = jupiter_plugin_get_state (plugin);

  if (state == JUPITER_PLUGIN_STATE_LOADED)
    {
      g_auto(GStrv) entries = jupiter_plugin_dup_entry_names (plugin);

      printf ("ok      %-12s %-8s %s\n", jupiter_plugin_get_id (plugin),
              jupiter_plugin_get_version (plugin), jupiter_plugin_get_path (plugin));
      for (guint i = 0; entries[i]; i++)
        {
          const char *description = jupiter_plugin_get_entry_description (plugin, entries[i]);

          printf ("          %s:%s%s%s\n", jupiter_plugin_get_id (plugin), entries[i],
                  description ? " — " : "", description ? description : "");
        }
    }
}

typedef struct {
  guint loaded;
  guint failed;
  guint disabled;
} PluginCounts;

static void
on_plugin_loaded (JupiterHost *host, JupiterPlugin *plugin, gpointer data)
{
  PluginCounts *counts = data;

  counts->loaded++;
  print_plugin (plugin);
}

static void
on_plugin_failed (JupiterHost *host, const char *plugin_id, const GError *error, gpointer data)
{
  PluginCounts *counts = data;

  counts->failed++;
  printf ("FAILED  %-12s %s\n", plugin_id, error->message);
}

/* ------------------------------------------------------------------------ */
/* Shutdown and signals                                                     */

static void
shutdown_done_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  App *app = data;
  g_autoptr(GError) error = NULL;

  app->shutdown_done = TRUE;
  app->plugins_shut_down = TRUE;
  if (!jupiter_host_shutdown_finish (app->host, result, &error))
    {
      if (g_error_matches (error, JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_TIMED_OUT))
        app->plugins_shut_down = FALSE;
      else
        app->export_failed = TRUE;
    }
  g_main_loop_quit (app->loop);
}

static void
begin_shutdown (App *app)
{
  if (app->shutdown_started)
    return;
  app->shutdown_started = TRUE;
  jupiter_host_shutdown_async (app->host, NULL, shutdown_done_cb, app);
}

static void
begin_shutdown_idle (gpointer data)
{
  begin_shutdown (data);
}

static gboolean
on_signal (gpointer data)
{
  App *app = data;

  app->signals_seen++;
  if (app->signals_seen == 1)
    begin_shutdown (app);
  else
    jupiter_host_shutdown_now (app->host);
  return G_SOURCE_CONTINUE;
}

/* Runs the loop until the shutdown is over, then ends the process. */
static int
run_until_shut_down (App *app,
                     int  status)
{
  if (!app->shutdown_done)
    g_main_loop_run (app->loop);
  if (!app->plugins_shut_down)
    {
      /* A plugin thread is still running: no destructors under it. */
      fflush (stdout);
      fflush (stderr);
      _exit (EXIT_FORCED);
    }
  if (app->export_failed && status == EXIT_OK)
    status = EXIT_JOB_FAILED;
  return status;
}

/* The terminal signal of a job we wait for (--run, --once). Signals, not
 * wait_async(): the manager delivers every terminal signal before its
 * shutdown finishes, whatever the timing, and a job pruned from the
 * history still has its signal. */
static void
on_job_finished (JupiterJobManager *manager,
                 JupiterJob        *job,
                 gpointer           data)
{
  App *app = data;

  if (!g_hash_table_remove (app->waiting, jupiter_job_get_id (job)))
    return;
  if (jupiter_job_get_status (job) != JUPITER_JOB_STATUS_COMPLETED)
    app->any_job_failed = TRUE;
  if (app->keep_job && app->run_job == NULL)
    app->run_job = jupiter_job_ref (job);
  /* This runs inside the manager's delivery of signals: start the shutdown
   * from an idle callback, after the signals still queued went out. */
  if (g_hash_table_size (app->waiting) == 0)
    g_idle_add_once (begin_shutdown_idle, app);
}

static void
wait_for_jobs (App               *app,
               JupiterJobManager *manager)
{
  g_signal_connect (manager, "job-completed", G_CALLBACK (on_job_finished), app);
  g_signal_connect (manager, "job-failed", G_CALLBACK (on_job_finished), app);
  g_signal_connect (manager, "job-cancelled", G_CALLBACK (on_job_finished), app);
  if (g_hash_table_size (app->waiting) == 0)
    begin_shutdown (app);
  g_main_loop_run (app->loop);
}

/* ------------------------------------------------------------------------ */

static JsonNode *
parse_args (const char *text,
            GError    **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();

  if (!json_parser_load_from_data (parser, text, -1, error))
    return NULL;
  if (json_parser_get_root (parser) == NULL)
    {
      g_set_error_literal (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE, "empty");
      return NULL;
    }
  return json_node_copy (json_parser_get_root (parser));
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JupiterHost) host = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GHashTable) waiting = NULL;
  g_autoptr(JsonNode) args = NULL;
  g_autofree char *opt_config = NULL;
  g_autofree char *opt_run = NULL;
  g_autofree char *opt_args = NULL;
  g_auto(GStrv) opt_plugin_dirs = NULL;
  gboolean opt_check = FALSE, opt_list = FALSE, opt_once = FALSE, opt_version = FALSE;
  PluginCounts counts = { 0 };
  App app = { 0 };
  guint modes, failed;
  int status = EXIT_OK;
  const GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &opt_config,
      "The configuration file (.yaml, .yml or .json)", "FILE" },
    { "check", 0, 0, G_OPTION_ARG_NONE, &opt_check,
      "Validate the configuration, load its plugins, print what was found and exit (0: good, 1: not)", NULL },
    { "list-plugins", 'l', 0, G_OPTION_ARG_NONE, &opt_list,
      "List the plugins (the configured ones, or those on the search path) and their entries", NULL },
    { "run", 'r', 0, G_OPTION_ARG_STRING, &opt_run,
      "Run one entry point as a job, print the job as JSON, exit with its outcome", "PLUGIN:ENTRY" },
    { "args", 'a', 0, G_OPTION_ARG_STRING, &opt_args,
      "The job's arguments for --run, as JSON", "JSON" },
    { "once", 0, 0, G_OPTION_ARG_NONE, &opt_once,
      "Run the startup jobs, wait for them, export if configured, and exit", NULL },
    { "plugin-dir", 'p', 0, G_OPTION_ARG_FILENAME_ARRAY, &opt_plugin_dirs,
      "Search DIR for plugins first (repeatable)", "DIR" },
    { "json-log", 0, 0, G_OPTION_ARG_NONE, &opt_json_log,
      "Write log records as JSON lines", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &opt_verbose,
      "Also log debug records", NULL },
    { "version", 'V', 0, G_OPTION_ARG_NONE, &opt_version,
      "Print the version and exit", NULL },
    { NULL }
  };

  setlocale (LC_ALL, "");
  g_log_set_writer_func (writer, NULL, NULL);

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context,
    "Runs Jupiter plugins' entry points as jobs, as a configuration file says.");
  g_option_context_set_description (context,
    "Exit status: 0 success; 1 a job failed or was cancelled, --check or --list-plugins found a\n"
    "problem, or the export on exit failed; 2 bad command line; 3 could not start (invalid\n"
    "configuration, or --run's plugin or entry unavailable); 4 a job function was still running\n"
    "at exit (the plugins were not shut down).\n"
    "SIGINT or SIGTERM starts a graceful shutdown; a second one ends the grace period at once.\n"
    "--plugin-dir names a directory that holds ID.so files itself (not searched recursively).\n");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("jupiter-host: %s\n", error->message);
      return EXIT_USAGE;
    }
  if (opt_version)
    {
      printf ("jupiter-host %s (SDK ABI %d.%d)\n", PACKAGE_VERSION, JUPITER_SDK_ABI_MAJOR,
              JUPITER_SDK_ABI_MINOR);
      return EXIT_OK;
    }
  if (argc > 1)
    {
      g_printerr ("jupiter-host: unexpected argument “%s”; see --help\n", argv[1]);
      return EXIT_USAGE;
    }
  modes = (opt_check ? 1 : 0) + (opt_list ? 1 : 0) + (opt_run ? 1 : 0) + (opt_once ? 1 : 0);
  if (modes > 1)
    {
      g_printerr ("jupiter-host: --check, --list-plugins, --run and --once exclude each other\n");
      return EXIT_USAGE;
    }
  if (opt_args && !opt_run)
    {
      g_printerr ("jupiter-host: --args goes with --run\n");
      return EXIT_USAGE;
    }
  if (opt_config == NULL && (modes == 0 || opt_check || opt_once))
    {
      g_printerr ("jupiter-host: --config FILE is needed; see --help\n");
      return EXIT_USAGE;
    }
  if (opt_run && (strchr (opt_run, ':') == NULL || opt_run[0] == ':' ||
                  opt_run[strlen (opt_run) - 1] == ':'))
    {
      g_printerr ("jupiter-host: --run wants PLUGIN:ENTRY, got “%s”\n", opt_run);
      return EXIT_USAGE;
    }
  if (opt_args && (args = parse_args (opt_args, &error)) == NULL)
    {
      g_printerr ("jupiter-host: --args: not valid JSON: %s\n", error->message);
      return EXIT_USAGE;
    }

  host = jupiter_host_new ();
  loop = g_main_loop_new (NULL, FALSE);
  app.host = host;
  app.loop = loop;
  waiting = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  app.waiting = waiting;
  for (guint i = 0; opt_plugin_dirs && opt_plugin_dirs[i]; i++)
    {
      if (!g_file_test (opt_plugin_dirs[i], G_FILE_TEST_IS_DIR))
        {
          g_printerr ("jupiter-host: --plugin-dir %s: not a directory\n", opt_plugin_dirs[i]);
          return EXIT_USAGE;
        }
      jupiter_host_add_plugin_dir (host, opt_plugin_dirs[i]);
    }

  if (opt_config && !jupiter_host_load_config (host, opt_config, &error))
    {
      report ("%s", error->message);
      return opt_check || opt_list ? EXIT_JOB_FAILED : EXIT_NOT_STARTED;
    }
  /* Only a run of the configured jobs (the service, --once) exports: a
   * check, a listing or a single --run must not replace the last export. */
  if (opt_check || opt_list || opt_run)
    jupiter_host_set_export_path (host, NULL);

  /* Signals from here on: a shutdown runs on the loop below. */
  g_unix_signal_add (SIGINT, on_signal, &app);
  g_unix_signal_add (SIGTERM, on_signal, &app);

  if (opt_check || opt_list)
    {
      g_signal_connect (host, "plugin-loaded", G_CALLBACK (on_plugin_loaded), &counts);
      g_signal_connect (host, "plugin-failed", G_CALLBACK (on_plugin_failed), &counts);
    }
  if (opt_run == NULL || opt_config != NULL)
    failed = jupiter_host_load_plugins (host);
  else
    failed = 0;

  if (opt_check || opt_list)
    {
      g_auto(GStrv) disabled = jupiter_host_dup_disabled_plugins (host);
      g_autoptr(GPtrArray) problems = jupiter_host_check_jobs (host);

      for (guint i = 0; disabled[i]; i++)
        printf ("disabled %s\n", disabled[i]);
      if (opt_check)
        {
          for (guint i = 0; i < problems->len; i++)
            printf ("JOB     %s\n", ((GError *) g_ptr_array_index (problems, i))->message);
          printf ("%s: configuration valid; plugins: %u loaded, %u failed, %u disabled; "
                  "jobs: %u that cannot run\n", opt_config, counts.loaded, counts.failed,
                  g_strv_length (disabled), problems->len);
          failed += problems->len;
        }
      else if (counts.loaded + counts.failed + g_strv_length (disabled) == 0)
        {
          g_auto(GStrv) dirs = jupiter_plugin_loader_get_search_path (jupiter_host_get_plugin_loader (host));
          g_autofree char *path = g_strjoinv (", ", dirs);

          report ("no plugins found (searched, without descending: %s)", path);
        }
      fflush (stdout);
      begin_shutdown (&app);
      return run_until_shut_down (&app, failed > 0 ? EXIT_JOB_FAILED : EXIT_OK);
    }

  if (opt_run)
    {
      g_autofree char *plugin_id = g_strndup (opt_run, strchr (opt_run, ':') - opt_run);
      const char *entry = strchr (opt_run, ':') + 1;
      g_autofree char *job_id = jupiter_host_submit (host, plugin_id, entry, args, &error);

      if (job_id == NULL)
        {
          report ("--run %s: %s", opt_run, error->message);
          begin_shutdown (&app);
          return run_until_shut_down (&app, EXIT_NOT_STARTED);
        }
      g_hash_table_add (app.waiting, g_strdup (job_id));
      app.keep_job = TRUE;
      wait_for_jobs (&app, jupiter_host_get_job_manager (host));
      if (app.run_job)
        {
          g_autoptr(JsonNode) json = jupiter_job_to_json (app.run_job, TRUE);
          g_autoptr(GString) text = g_string_new (NULL);

          json_append_node (text, json, TRUE, 0);
          printf ("%s\n", text->str);
          fflush (stdout);
        }
      /* No job: a signal ended the wait (and cancelled the job). */
      status = app.any_job_failed || app.run_job == NULL ? EXIT_JOB_FAILED : EXIT_OK;
      g_clear_pointer (&app.run_job, jupiter_job_unref);
      return run_until_shut_down (&app, status);
    }

  /* A job that cannot be submitted is logged (submit-failed) by the host. */
  if (!jupiter_host_submit_startup_jobs (host, &error))
    {
      g_clear_error (&error);
      if (opt_once)
        status = EXIT_JOB_FAILED;
    }

  if (opt_once)
    {
      g_auto(GStrv) ids = jupiter_host_dup_startup_job_ids (host);

      for (guint i = 0; ids[i]; i++)
        g_hash_table_add (app.waiting, g_strdup (ids[i]));
      wait_for_jobs (&app, jupiter_host_get_job_manager (host));
      /* Jobs still waited for: a signal cut the run short. */
      if (app.any_job_failed || g_hash_table_size (app.waiting) > 0)
        status = EXIT_JOB_FAILED;
      return run_until_shut_down (&app, status);
    }

  /* The service: runs until a signal. */
  jupiter_host_start_interval_jobs (host);
  g_main_loop_run (loop);
  return run_until_shut_down (&app, EXIT_OK);
}
