/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-export: jupiter_job_manager_export_jobs() of N finished jobs to JSON
 * and to YAML, next to a json-glib tree and a bare libyaml emitter writing
 * the same data.
 *
 * The parent re-executes itself for every run of an arm (`--arm=NAME N`).
 * Each child creates a JupiterJobManager (enable-circuit-breaker FALSE,
 * history-limit and max-pending N, max-concurrent 2), submits N synchronous
 * jobs, each named "job-%u", no metadata, returning {"n": i, "ok": true,
 * "label": "item-<i>"}, and waits for them with wait_idle(). Then it calls
 * malloc_trim (0), resets the peak resident set (writing 5 to
 * /proc/self/clear_refs, so that the peak reached while the jobs ran does
 * not hide the arm's), reads VmRSS and VmHWM from /proc/self/status, runs
 * the arm once, timed, writing a file in a g_dir_make_tmp() directory, and
 * reads VmHWM again. The arm's peak is VmHWM after - VmRSS before.
 *
 * Arms:
 *
 *  - json, yaml: jupiter_job_manager_export_jobs (manager, path,
 *    JUPITER_JOB_STATUS_ANY, NULL, format, TRUE, &error): listing, sorting,
 *    writing, fsync of the file and its directory, rename;
 *  - json-glib: jupiter_job_manager_list(), then one JsonObject tree with the
 *    export's header members (exported_at, total_jobs, filters) and a
 *    `jobs` JsonArray holding jupiter_job_to_json (job, TRUE) of every job,
 *    oldest first; written by a JsonGenerator, not pretty (the export's
 *    own JSON is one line per job), with json_generator_to_file() (which
 *    builds the whole text in memory, then g_file_set_contents());
 *  - libyaml: jupiter_job_manager_list(), then a yaml_emitter_t writing, to
 *    a stdio FILE, block style, the same document: a mapping with the same
 *    header keys and a `jobs` sequence of mappings with the job field
 *    table's keys (id, name, status, plugin_id, entry, progress, message,
 *    result, error, metadata, created_at, started_at, completed_at,
 *    duration_ms); strings double-quoted, numbers, booleans and null plain,
 *    the result object as a nested mapping.
 *
 * Both baselines then fsync the file and its directory inside the timed
 * span, as the export does, so every arm pays the same durability; the
 * time of those fsyncs is printed alongside.
 *
 * Every arm runs JUPITER_BENCH_REPS times (default 3), each run in a fresh
 * child, the arms alternating. Figures: seconds (wall clock) and MB/s (file
 * size / seconds) of the fastest run, the median alongside; file size; the
 * highest peak memory added by the arm over the runs; 1 MB = 10^6 bytes.
 * The CPU time of the thread running the arm (getrusage (RUSAGE_THREAD)) is
 * printed too, the rest of the wall time being mostly waits for the disk.
 * The children run with G_SLICE, G_DEBUG and MALLOC_PERTURB_ removed from
 * their environment.
 *
 * Usage: bench-export [N]; N also from JUPITER_BENCH_EXPORT_JOBS (default
 * 100000). With JUPITER_BENCH_EXPORT_KEEP set, the files are kept (their
 * paths go to stderr). The exit status is 0 whatever the timings and sizes
 * are; it is non-zero only when a job or an export fails or a file is empty
 * or wrong: the JSON files are read back with JsonParser (total_jobs and the
 * length of `jobs` must be N); the YAML files must start with "exported_at:"
 * and hold N occurrences of "\n- id:".
 */

#include "config.h"

#include <jupiter/jupiter.h>

#include "bench-common.h"

#include <glib/gstdio.h>

#include <yaml.h>

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_JOBS          100000
#define DEFAULT_REPS          3
#define MB                    1e6

#define TARGET_JSON_SECONDS   0.35
#define TARGET_YAML_SECONDS   0.5
#define TARGET_PEAK_MB        64

typedef enum {
  ARM_JSON,
  ARM_JSON_GLIB,
  ARM_YAML,
  ARM_LIBYAML,
  N_ARMS
} Arm;

static const struct {
  const char *name;
  const char *file;
} arms[N_ARMS] = {
  [ARM_JSON]      = { "json",      "export.json" },
  [ARM_JSON_GLIB] = { "json-glib", "json-glib.json" },
  [ARM_YAML]      = { "yaml",      "export.yaml" },
  [ARM_LIBYAML]   = { "libyaml",   "libyaml.yaml" },
};

/* ------------------------------------------------------------------------ */
/* Child: memory                                                             */

/* A "Name:   123 kB" line of /proc/self/status, in bytes. */


/* Resets VmHWM to the current VmRSS (Linux 4.0 and later). */
static gboolean
reset_peak (void)
{
  int fd = open ("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  gboolean ok;

  if (fd < 0)
    return FALSE;
  ok = write (fd, "5", 1) == 1;
  close (fd);
  return ok;
}

/* CPU time, user and system, of the calling thread (the arm runs on it). */
static gint64
thread_cpu_usec (void)
{
  struct rusage usage;

  if (getrusage (RUSAGE_THREAD, &usage) != 0)
    return -1;
  return (gint64) (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * G_USEC_PER_SEC +
         usage.ru_utime.tv_usec + usage.ru_stime.tv_usec;
}

/* ------------------------------------------------------------------------ */
/* Child: jobs                                                               */

static JsonNode *
small_result_job (JupiterJobContext *context,
                  gpointer           user_data,
                  GError           **error)
{
  guint i = GPOINTER_TO_UINT (user_data);
  JsonObject *object = json_object_new ();
  JsonNode *node;
  char label[32];

  g_snprintf (label, sizeof label, "item-%u", i);
  json_object_set_int_member (object, "n", i);
  json_object_set_boolean_member (object, "ok", TRUE);
  json_object_set_string_member (object, "label", label);
  node = json_node_init_object (json_node_alloc (), object);
  json_object_unref (object);
  return node;
}

static gboolean
run_jobs (JupiterJobManager *manager,
          guint              n_jobs)
{
  JupiterJobStats stats;

  if (!bench_submit_named_jobs (manager, n_jobs, small_result_job))
    return FALSE;

  jupiter_job_manager_get_stats (manager, &stats);
  if (stats.completed != n_jobs || stats.failed != 0 || stats.cancelled != 0 ||
      stats.pruned != 0)
    {
      g_printerr ("stats wrong: completed %u (want %u), failed %u, cancelled %u, "
                  "pruned %" G_GUINT64_FORMAT "\n",
                  stats.completed, n_jobs, stats.failed, stats.cancelled, stats.pruned);
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Child: helpers shared by the baselines                                    */

static void
format_iso8601 (gint64 unix_usec,
                char   out[32])
{
  time_t secs = (time_t) (unix_usec / G_USEC_PER_SEC);
  gint64 usec = unix_usec % G_USEC_PER_SEC;
  struct tm tm;

  if (usec < 0)
    {
      usec += G_USEC_PER_SEC;
      secs -= 1;
    }
  gmtime_r (&secs, &tm);
  g_snprintf (out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
              tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
              tm.tm_hour, tm.tm_min, tm.tm_sec, (int) usec);
}

/* As the export writes finite doubles: the shortest of %.15g, %.16g and
 * %.17g that reads back to @value, with a "." in the mantissa. */
static void
format_double (double value,
               char   buf[G_ASCII_DTOSTR_BUF_SIZE])
{
  gsize len, at;
  char *e;

  for (int precision = 15; precision <= 17; precision++)
    {
      char fmt[8];

      g_snprintf (fmt, sizeof fmt, "%%.%dg", precision);
      g_ascii_formatd (buf, G_ASCII_DTOSTR_BUF_SIZE - 4, fmt, value);
      if (g_ascii_strtod (buf, NULL) == value)
        break;
    }

  len = strlen (buf);
  e = strpbrk (buf, "eE");
  at = e ? (gsize) (e - buf) : len;
  if (memchr (buf, '.', at) == NULL)
    {
      memmove (buf + at + 2, buf + at, len - at + 1);
      buf[at] = '.';
      buf[at + 1] = '0';
    }
}

static gboolean
fsync_path (const char *path,
            int         flags)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC | flags);
  gboolean ok;

  if (fd < 0)
    return FALSE;
  ok = fsync (fd) == 0;
  close (fd);
  return ok;
}

/* The file and its directory, as jupiter_job_manager_export_jobs() does. */
static gboolean
sync_file_and_dir (const char *path,
                   gint64     *usec)
{
  g_autofree char *dir = g_path_get_dirname (path);
  gint64 start = g_get_monotonic_time ();
  gboolean ok = fsync_path (path, 0) && fsync_path (dir, O_DIRECTORY);

  *usec = g_get_monotonic_time () - start;
  return ok;
}

/* ------------------------------------------------------------------------ */
/* Child: json-glib baseline                                                 */

static gboolean
write_json_glib (JupiterJobManager *manager,
                 const char        *path,
                 gint64            *fsync_usec,
                 GError           **error)
{
  g_autoptr(GPtrArray) jobs = jupiter_job_manager_list (manager, JUPITER_JOB_STATUS_ANY, NULL, 0);
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  JsonObject *object = json_object_new ();
  JsonObject *filters = json_object_new ();
  JsonArray *array = json_array_sized_new (jobs->len);
  char now[32];

  format_iso8601 (g_get_real_time (), now);
  json_object_set_string_member (object, "exported_at", now);
  json_object_set_int_member (object, "total_jobs", jobs->len);
  json_object_set_null_member (filters, "status");
  json_object_set_null_member (filters, "plugin_id");
  json_object_set_boolean_member (filters, "include_results", TRUE);
  json_object_set_object_member (object, "filters", filters);

  /* The list is newest first; the export writes oldest first. */
  for (guint i = jobs->len; i > 0; i--)
    json_array_add_element (array, jupiter_job_to_json (jobs->pdata[i - 1], TRUE));
  json_object_set_array_member (object, "jobs", array);

  root = json_node_init_object (json_node_alloc (), object);
  json_object_unref (object);

  json_generator_set_pretty (generator, FALSE);
  json_generator_set_root (generator, root);
  if (!json_generator_to_file (generator, path, error))
    return FALSE;

  if (!sync_file_and_dir (path, fsync_usec))
    {
      int errsv = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errsv),
                   "Cannot sync %s: %s", path, g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Child: libyaml baseline                                                   */

typedef struct {
  yaml_emitter_t emitter;
  gboolean       failed;
} YamlOut;

static void
yo_emit (YamlOut      *yo,
         yaml_event_t *event,
         int           initialized)
{
  if (yo->failed)
    {
      if (initialized)
        yaml_event_delete (event);
      return;
    }
  /* yaml_emitter_emit() takes the event, failing or not. */
  if (!initialized || !yaml_emitter_emit (&yo->emitter, event))
    yo->failed = TRUE;
}

static void
yo_scalar (YamlOut            *yo,
           const char         *value,
           yaml_scalar_style_t style)
{
  yaml_event_t event;
  int ok = yaml_scalar_event_initialize (&event, NULL, NULL, (yaml_char_t *) value,
                                         (int) strlen (value), 1, 1, style);

  yo_emit (yo, &event, ok);
}

static void
yo_key (YamlOut    *yo,
        const char *key)
{
  yo_scalar (yo, key, YAML_PLAIN_SCALAR_STYLE);
}

static void
yo_string (YamlOut    *yo,
           const char *value)
{
  if (value)
    yo_scalar (yo, value, YAML_DOUBLE_QUOTED_SCALAR_STYLE);
  else
    yo_scalar (yo, "null", YAML_PLAIN_SCALAR_STYLE);
}

static void
yo_int (YamlOut *yo,
        gint64   value)
{
  char buf[24];

  g_snprintf (buf, sizeof buf, "%" G_GINT64_FORMAT, value);
  yo_scalar (yo, buf, YAML_PLAIN_SCALAR_STYLE);
}

static void
yo_double (YamlOut *yo,
           double   value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  format_double (value, buf);
  yo_scalar (yo, buf, YAML_PLAIN_SCALAR_STYLE);
}

static void
yo_time (YamlOut *yo,
         gint64   unix_usec)
{
  char buf[32];

  if (unix_usec == 0)
    {
      yo_string (yo, NULL);
      return;
    }
  format_iso8601 (unix_usec, buf);
  yo_string (yo, buf);
}

static void
yo_mapping_start (YamlOut *yo)
{
  yaml_event_t event;
  int ok = yaml_mapping_start_event_initialize (&event, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);

  yo_emit (yo, &event, ok);
}

static void
yo_mapping_end (YamlOut *yo)
{
  yaml_event_t event;
  int ok = yaml_mapping_end_event_initialize (&event);

  yo_emit (yo, &event, ok);
}

static void
yo_sequence_start (YamlOut *yo)
{
  yaml_event_t event;
  int ok = yaml_sequence_start_event_initialize (&event, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);

  yo_emit (yo, &event, ok);
}

static void
yo_sequence_end (YamlOut *yo)
{
  yaml_event_t event;
  int ok = yaml_sequence_end_event_initialize (&event);

  yo_emit (yo, &event, ok);
}

static void yo_node (YamlOut *yo, JsonNode *node);

/* Keys from the job's data are double-quoted, as the export writes them. */
static void
yo_object (YamlOut    *yo,
           JsonObject *object)
{
  JsonObjectIter iter;
  const char *name;
  JsonNode *member;

  yo_mapping_start (yo);
  json_object_iter_init_ordered (&iter, object);
  while (json_object_iter_next_ordered (&iter, &name, &member))
    {
      yo_string (yo, name);
      yo_node (yo, member);
    }
  yo_mapping_end (yo);
}

static void
yo_node (YamlOut  *yo,
         JsonNode *node)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      yo_object (yo, json_node_get_object (node));
      break;
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        guint n = json_array_get_length (array);

        yo_sequence_start (yo);
        for (guint i = 0; i < n; i++)
          yo_node (yo, json_array_get_element (array, i));
        yo_sequence_end (yo);
        break;
      }
    case JSON_NODE_VALUE:
      switch (json_node_get_value_type (node))
        {
        case G_TYPE_INT64:
          yo_int (yo, json_node_get_int (node));
          break;
        case G_TYPE_DOUBLE:
          yo_double (yo, json_node_get_double (node));
          break;
        case G_TYPE_BOOLEAN:
          yo_scalar (yo, json_node_get_boolean (node) ? "true" : "false",
                     YAML_PLAIN_SCALAR_STYLE);
          break;
        case G_TYPE_STRING:
          yo_string (yo, json_node_get_string (node));
          break;
        default:
          yo_string (yo, NULL);
          break;
        }
      break;
    case JSON_NODE_NULL:
    default:
      yo_string (yo, NULL);
      break;
    }
}

/* The job field table of jupiter_job_to_json(), through public getters. */
static void
yo_job (YamlOut    *yo,
        JupiterJob *job)
{
  JupiterJobStatus status = jupiter_job_get_status (job);
  JsonNode *result = jupiter_job_get_result (job);
  const GError *job_error = jupiter_job_get_error (job);
  JsonObject *metadata = jupiter_job_get_metadata (job);

  yo_mapping_start (yo);
  yo_key (yo, "id");
  yo_string (yo, jupiter_job_get_id (job));
  yo_key (yo, "name");
  yo_string (yo, jupiter_job_get_name (job));
  yo_key (yo, "status");
  yo_string (yo, jupiter_job_status_to_string (status));
  yo_key (yo, "plugin_id");
  yo_string (yo, jupiter_job_get_plugin_id (job));
  yo_key (yo, "entry");
  yo_string (yo, jupiter_job_get_entry_name (job));
  yo_key (yo, "progress");
  yo_double (yo, jupiter_job_get_progress (job));
  yo_key (yo, "message");
  yo_string (yo, jupiter_job_get_message (job));

  yo_key (yo, "result");
  if (result)
    yo_node (yo, result);
  else
    yo_string (yo, NULL);

  yo_key (yo, "error");
  if (job_error)
    {
      yo_mapping_start (yo);
      yo_key (yo, "domain");
      yo_string (yo, g_quark_to_string (job_error->domain));
      yo_key (yo, "code");
      yo_int (yo, job_error->code);
      yo_key (yo, "message");
      yo_string (yo, job_error->message);
      yo_mapping_end (yo);
    }
  else
    yo_string (yo, NULL);

  yo_key (yo, "metadata");
  if (metadata)
    yo_object (yo, metadata);
  else
    yo_string (yo, NULL);

  yo_key (yo, "created_at");
  yo_time (yo, jupiter_job_get_created_at (job));
  yo_key (yo, "started_at");
  yo_time (yo, jupiter_job_get_started_at (job));
  yo_key (yo, "completed_at");
  yo_time (yo, jupiter_job_get_completed_at (job));

  yo_key (yo, "duration_ms");
  if (jupiter_job_status_is_finished (status) && jupiter_job_get_started_at (job) != 0)
    yo_double (yo, (double) jupiter_job_get_duration (job) / 1000.0);
  else
    yo_string (yo, NULL);
  yo_mapping_end (yo);
}

static gboolean
write_libyaml (JupiterJobManager *manager,
               const char        *path,
               gint64            *fsync_usec,
               GError           **error)
{
  g_autoptr(GPtrArray) jobs = jupiter_job_manager_list (manager, JUPITER_JOB_STATUS_ANY, NULL, 0);
  YamlOut yo = { 0 };
  yaml_event_t event;
  char now[32];
  FILE *file;
  int ok;

  file = fopen (path, "wbe");
  if (file == NULL)
    {
      int errsv = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errsv),
                   "Cannot create %s: %s", path, g_strerror (errsv));
      return FALSE;
    }
  if (!yaml_emitter_initialize (&yo.emitter))
    {
      fclose (file);
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOMEM, "Cannot initialize libyaml");
      return FALSE;
    }
  yaml_emitter_set_output_file (&yo.emitter, file);
  yaml_emitter_set_unicode (&yo.emitter, 1);
  yaml_emitter_set_width (&yo.emitter, -1);   /* never fold long lines */

  ok = yaml_stream_start_event_initialize (&event, YAML_UTF8_ENCODING);
  yo_emit (&yo, &event, ok);
  ok = yaml_document_start_event_initialize (&event, NULL, NULL, NULL, 1);
  yo_emit (&yo, &event, ok);

  format_iso8601 (g_get_real_time (), now);
  yo_mapping_start (&yo);
  yo_key (&yo, "exported_at");
  yo_string (&yo, now);
  yo_key (&yo, "total_jobs");
  yo_int (&yo, jobs->len);
  yo_key (&yo, "filters");
  yo_mapping_start (&yo);
  yo_key (&yo, "status");
  yo_string (&yo, NULL);
  yo_key (&yo, "plugin_id");
  yo_string (&yo, NULL);
  yo_key (&yo, "include_results");
  yo_scalar (&yo, "true", YAML_PLAIN_SCALAR_STYLE);
  yo_mapping_end (&yo);
  yo_key (&yo, "jobs");
  yo_sequence_start (&yo);
  /* The list is newest first; the export writes oldest first. */
  for (guint i = jobs->len; i > 0 && !yo.failed; i--)
    yo_job (&yo, jobs->pdata[i - 1]);
  yo_sequence_end (&yo);
  yo_mapping_end (&yo);

  ok = yaml_document_end_event_initialize (&event, 1);
  yo_emit (&yo, &event, ok);
  ok = yaml_stream_end_event_initialize (&event);
  yo_emit (&yo, &event, ok);

  if (yo.failed || !yaml_emitter_flush (&yo.emitter))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "libyaml failed on %s: %s",
                   path, yo.emitter.problem ? yo.emitter.problem : "unknown error");
      yaml_emitter_delete (&yo.emitter);
      fclose (file);
      return FALSE;
    }
  yaml_emitter_delete (&yo.emitter);
  if (fclose (file) != 0 || !sync_file_and_dir (path, fsync_usec))
    {
      int errsv = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errsv),
                   "Cannot write %s: %s", path, g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Child: checks of the files                                                */

static gboolean
check_json (const char *path,
            guint       n_jobs)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonNode *root;
  JsonObject *object;
  JsonNode *jobs;

  if (!json_parser_load_from_file (parser, path, &error))
    {
      g_printerr ("%s does not parse: %s\n", path, error->message);
      return FALSE;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_printerr ("%s: the root is not an object\n", path);
      return FALSE;
    }
  object = json_node_get_object (root);
  if (json_object_get_int_member_with_default (object, "total_jobs", -1) != n_jobs)
    {
      g_printerr ("%s: total_jobs is %" G_GINT64_FORMAT ", want %u\n", path,
                  json_object_get_int_member_with_default (object, "total_jobs", -1), n_jobs);
      return FALSE;
    }
  jobs = json_object_get_member (object, "jobs");
  if (jobs == NULL || !JSON_NODE_HOLDS_ARRAY (jobs) ||
      json_array_get_length (json_node_get_array (jobs)) != n_jobs)
    {
      g_printerr ("%s: jobs is not an array of %u elements\n", path, n_jobs);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_yaml (const char *path,
            guint       n_jobs)
{
  static const char item[] = "\n- id:";
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  gsize length;
  const char *p, *end;
  guint count = 0;

  if (!g_file_get_contents (path, &contents, &length, &error))
    {
      g_printerr ("Cannot read %s: %s\n", path, error->message);
      return FALSE;
    }
  if (!g_str_has_prefix (contents, "exported_at:"))
    {
      g_printerr ("%s does not start with \"exported_at:\"\n", path);
      return FALSE;
    }
  end = contents + length;
  for (p = contents; (p = memmem (p, (gsize) (end - p), item, sizeof item - 1)) != NULL;
       p += sizeof item - 1)
    count++;
  if (count != n_jobs)
    {
      g_printerr ("%s holds %u \"\\n- id:\" items, want %u\n", path, count, n_jobs);
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Child                                                                     */

static int
run_child (Arm   arm,
           guint n_jobs)
{
  g_autoptr(JupiterJobManager) manager = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  guint64 rss_before, hwm_before, rss_after, hwm_after;
  gint64 start, end, cpu_start, cpu_end, fsync_usec = -1;
  gboolean peak_reset, ok;
  struct stat st;

  manager = g_object_new (JUPITER_TYPE_JOB_MANAGER,
                          "enable-circuit-breaker", FALSE,
                          "history-limit", n_jobs,
                          "max-pending", n_jobs,
                          "max-concurrent", 2,
                          NULL);
  if (!run_jobs (manager, n_jobs))
    return EXIT_FAILURE;

  dir = g_dir_make_tmp ("bench-export-XXXXXX", &error);
  if (dir == NULL)
    {
      g_printerr ("Cannot make a temporary directory: %s\n", error->message);
      return EXIT_FAILURE;
    }
  path = g_build_filename (dir, arms[arm].file, NULL);

  malloc_trim (0);
  peak_reset = reset_peak ();
  if (!bench_read_memory (&rss_before, &hwm_before))
    return EXIT_FAILURE;

  cpu_start = thread_cpu_usec ();
  start = g_get_monotonic_time ();
  switch (arm)
    {
    case ARM_JSON:
      ok = jupiter_job_manager_export_jobs (manager, path, JUPITER_JOB_STATUS_ANY, NULL,
                                            JUPITER_EXPORT_FORMAT_JSON, TRUE, &error);
      break;
    case ARM_YAML:
      ok = jupiter_job_manager_export_jobs (manager, path, JUPITER_JOB_STATUS_ANY, NULL,
                                            JUPITER_EXPORT_FORMAT_YAML, TRUE, &error);
      break;
    case ARM_JSON_GLIB:
      ok = write_json_glib (manager, path, &fsync_usec, &error);
      break;
    case ARM_LIBYAML:
      ok = write_libyaml (manager, path, &fsync_usec, &error);
      break;
    case N_ARMS:
    default:
      g_assert_not_reached ();
    }
  end = g_get_monotonic_time ();
  cpu_end = thread_cpu_usec ();

  if (!bench_read_memory (&rss_after, &hwm_after))
    return EXIT_FAILURE;
  if (!ok)
    {
      g_printerr ("The %s arm failed: %s\n", arms[arm].name, error->message);
      return EXIT_FAILURE;
    }
  if (stat (path, &st) != 0 || st.st_size == 0)
    {
      g_printerr ("%s is missing or empty\n", path);
      return EXIT_FAILURE;
    }

  if (arm == ARM_JSON || arm == ARM_JSON_GLIB)
    ok = check_json (path, n_jobs);
  else
    ok = check_yaml (path, n_jobs);

  /* The line the parent parses. */
  g_print ("usec=%" G_GINT64_FORMAT " bytes=%" G_GINT64_FORMAT " rss_before=%" G_GUINT64_FORMAT
           " hwm_before=%" G_GUINT64_FORMAT " hwm_after=%" G_GUINT64_FORMAT
           " peak_reset=%d fsync_usec=%" G_GINT64_FORMAT " cpu_usec=%" G_GINT64_FORMAT "\n",
           end - start, (gint64) st.st_size, rss_before, hwm_before, hwm_after,
           peak_reset, fsync_usec,
           cpu_start >= 0 && cpu_end >= 0 ? cpu_end - cpu_start : -1);

  if (g_getenv ("JUPITER_BENCH_EXPORT_KEEP") != NULL)
    g_printerr ("Kept %s\n", path);
  else
    {
      g_unlink (path);
      g_rmdir (dir);
    }

  if (!jupiter_job_manager_shutdown (manager, 5 * G_USEC_PER_SEC, &error))
    {
      g_printerr ("shutdown failed: %s\n", error->message);
      ok = FALSE;
    }
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ------------------------------------------------------------------------ */
/* Parent                                                                    */

typedef struct {
  gint64  usec;
  gint64  bytes;
  guint64 rss_before;
  guint64 hwm_before;
  guint64 hwm_after;
  int     peak_reset;
  gint64  fsync_usec;
  gint64  cpu_usec;
} ArmResult;

static gboolean
run_arm (const char *self_exe,
         Arm         arm,
         guint       n_jobs,
         ArmResult  *result)
{
  g_autofree char *arm_arg = g_strdup_printf ("--arm=%s", arms[arm].name);
  g_autofree char *n_arg = g_strdup_printf ("%u", n_jobs);
  const char *child_argv[] = { self_exe, arm_arg, n_arg, NULL };
  g_autofree char *out = bench_run_arm (child_argv, arms[arm].name);
  const char *line;

  if (out == NULL)
    return FALSE;

  line = out ? strstr (out, "usec=") : NULL;
  if (line == NULL ||
      sscanf (line, "usec=%" G_GINT64_FORMAT " bytes=%" G_GINT64_FORMAT
              " rss_before=%" G_GUINT64_FORMAT " hwm_before=%" G_GUINT64_FORMAT
              " hwm_after=%" G_GUINT64_FORMAT " peak_reset=%d fsync_usec=%" G_GINT64_FORMAT
              " cpu_usec=%" G_GINT64_FORMAT,
              &result->usec, &result->bytes, &result->rss_before, &result->hwm_before,
              &result->hwm_after, &result->peak_reset, &result->fsync_usec,
              &result->cpu_usec) != 8)
    {
      g_printerr ("The %s arm printed no figures: \"%s\"\n", arms[arm].name, out ? out : "");
      return FALSE;
    }
  return TRUE;
}

/* An arm over its runs: the fastest run, the median time, the highest
 * peak. */
typedef struct {
  ArmResult best;
  gint64    median_usec;
  double    peak_mb;
} Summary;

static int
by_usec (gconstpointer a,
         gconstpointer b)
{
  const ArmResult *ra = a;
  const ArmResult *rb = b;

  return ra->usec < rb->usec ? -1 : (ra->usec > rb->usec ? 1 : 0);
}

static void
summarize (ArmResult *runs,
           guint      n_reps,
           Summary   *summary)
{
  summary->peak_mb = -G_MAXDOUBLE;
  for (guint i = 0; i < n_reps; i++)
    summary->peak_mb = MAX (summary->peak_mb,
                            ((double) runs[i].hwm_after - (double) runs[i].rss_before) / MB);
  qsort (runs, n_reps, sizeof *runs, by_usec);
  summary->best = runs[0];
  summary->median_usec = runs[n_reps / 2].usec;
}

static double
seconds_of (gint64 usec)
{
  return (double) usec / G_USEC_PER_SEC;
}

static double
mb_per_second (const ArmResult *r)
{
  return r->usec > 0 ? (double) r->bytes / MB / seconds_of (r->usec) : 0.0;
}

/* The details below each figure line. */
static void
print_details (const Summary *s,
               guint          n_reps)
{
  const ArmResult *r = &s->best;

  g_print ("    best of %u runs, median %.2f s, highest peak shown; file %.1f MB; "
           "fastest run: CPU %.2f s", n_reps, seconds_of (s->median_usec),
           (double) r->bytes / MB, seconds_of (r->cpu_usec));
  if (r->fsync_usec >= 0)
    g_print (", fsync %.3f s of the time", seconds_of (r->fsync_usec));
  g_print (", RSS before %.1f MB, peak after %.1f MB%s\n",
           (double) r->rss_before / MB, (double) r->hwm_after / MB,
           r->peak_reset ? "" : " (peak not reset: it may predate the arm)");
}

static void
print_export (const char    *label,
              const Summary *s,
              guint          n_reps,
              double         target_seconds)
{
  g_print ("%s: %.2f s, %.0f MB/s, %+.1f MB peak (target <= %.2g s, <= %d MB)\n",
           label, seconds_of (s->best.usec), mb_per_second (&s->best), s->peak_mb,
           target_seconds, TARGET_PEAK_MB);
  print_details (s, n_reps);
}

static void
print_baseline (const char    *label,
                const Summary *s,
                guint          n_reps,
                const Summary *export)
{
  g_print ("%s: %.2f s, %.0f MB/s, %+.1f MB peak (the export takes %.2fx its time, "
           "writes %.2fx its bytes)\n",
           label, seconds_of (s->best.usec), mb_per_second (&s->best), s->peak_mb,
           s->best.usec > 0 ? (double) export->best.usec / (double) s->best.usec : 0.0,
           s->best.bytes > 0 ? (double) export->best.bytes / (double) s->best.bytes : 0.0);
  print_details (s, n_reps);
}


static guint
parse_count (const char *str,
             const char *what,
             guint       fallback)
{
  return (guint) bench_parse_count (str, what, fallback, G_MAXINT);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *self_exe = NULL;
  g_autofree ArmResult *runs = NULL;   /* [arm * n_reps + rep] */
  Summary summaries[N_ARMS];
  guint n_jobs, n_reps;

  setlocale (LC_ALL, "");

  n_jobs = parse_count (g_getenv ("JUPITER_BENCH_EXPORT_JOBS"),
                        "JUPITER_BENCH_EXPORT_JOBS", DEFAULT_JOBS);

  if (argc > 1 && g_str_has_prefix (argv[1], "--arm="))
    {
      const char *name = argv[1] + strlen ("--arm=");

      if (argc > 2)
        n_jobs = parse_count (argv[2], "job count", n_jobs);
      for (Arm arm = 0; arm < N_ARMS; arm++)
        if (g_str_equal (name, arms[arm].name))
          return run_child (arm, n_jobs);
      g_printerr ("Unknown arm \"%s\"\n", name);
      return 2;
    }

  if (argc > 1)
    n_jobs = parse_count (argv[1], "job count", n_jobs);

  self_exe = g_file_read_link ("/proc/self/exe", NULL);
  if (self_exe == NULL)
    self_exe = g_strdup (argv[0]);

  n_reps = parse_count (g_getenv ("JUPITER_BENCH_REPS"), "JUPITER_BENCH_REPS", DEFAULT_REPS);

  g_print ("bench-export: %u finished jobs with small results, no metadata, "
           "each run of an arm in its own process (1 MB = 10^6 bytes)\n", n_jobs);

  /* The arms alternate, so that a slow spell of the machine spreads over
   * all of them. */
  runs = g_new0 (ArmResult, N_ARMS * n_reps);
  for (guint rep = 0; rep < n_reps; rep++)
    for (Arm arm = 0; arm < N_ARMS; arm++)
      if (!run_arm (self_exe, arm, n_jobs, &runs[arm * n_reps + rep]))
        {
          g_printerr ("FAIL\n");
          return EXIT_FAILURE;
        }
  for (Arm arm = 0; arm < N_ARMS; arm++)
    summarize (&runs[arm * n_reps], n_reps, &summaries[arm]);

  print_export ("JSON export", &summaries[ARM_JSON], n_reps, TARGET_JSON_SECONDS);
  print_baseline ("  json-glib baseline (jupiter_job_to_json() per job in one JsonArray, "
                  "JsonGenerator not pretty, json_generator_to_file, fsynced)",
                  &summaries[ARM_JSON_GLIB], n_reps, &summaries[ARM_JSON]);
  print_export ("YAML export", &summaries[ARM_YAML], n_reps, TARGET_YAML_SECONDS);
  print_baseline ("  libyaml baseline (yaml_emitter_t to a stdio FILE, block style, "
                  "same keys and scalars, fsynced)",
                  &summaries[ARM_LIBYAML], n_reps, &summaries[ARM_YAML]);

  return EXIT_SUCCESS;
}
