/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include <jupiter/jupiter.h>
#include <glib/gstdio.h>
#include <yaml.h>

#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jupiter-export-private.h"

/* ------------------------------------------------------------------------ */
/* A YAML reader for the checks: libyaml events into a JsonNode tree, plain  */
/* scalars typed by the YAML 1.2 core schema, quoted ones strings.           */

static JsonNode *
yaml_scalar_node (const yaml_event_t *event)
{
  const char *v = (const char *) event->data.scalar.value;
  g_autoptr(GRegex) int_re = NULL;
  g_autoptr(GRegex) float_re = NULL;

  if (event->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
    return json_node_init_string (json_node_alloc (), v);
  if (g_str_equal (v, "null") || g_str_equal (v, "~") || *v == '\0' || g_str_equal (v, "Null"))
    return json_node_init_null (json_node_alloc ());
  if (g_str_equal (v, "true") || g_str_equal (v, "false"))
    return json_node_init_boolean (json_node_alloc (), g_str_equal (v, "true"));
  int_re = g_regex_new ("^[-+]?[0-9]+$", 0, 0, NULL);
  if (g_regex_match (int_re, v, 0, NULL))
    return json_node_init_int (json_node_alloc (), g_ascii_strtoll (v, NULL, 10));
  float_re = g_regex_new ("^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$", 0, 0, NULL);
  if (g_regex_match (float_re, v, 0, NULL))
    return json_node_init_double (json_node_alloc (), g_ascii_strtod (v, NULL));
  return json_node_init_string (json_node_alloc (), v);
}

static JsonNode *
yaml_load_node (yaml_parser_t *parser,
                yaml_event_t  *first)
{
  yaml_event_t event;

  switch (first->type)
    {
    case YAML_SCALAR_EVENT:
      return yaml_scalar_node (first);
    case YAML_MAPPING_START_EVENT:
      {
        JsonObject *obj = json_object_new ();
        JsonNode *node;

        for (;;)
          {
            g_autofree char *key = NULL;

            g_assert_true (yaml_parser_parse (parser, &event));
            if (event.type == YAML_MAPPING_END_EVENT)
              {
                yaml_event_delete (&event);
                break;
              }
            g_assert_cmpint (event.type, ==, YAML_SCALAR_EVENT);
            key = g_strdup ((const char *) event.data.scalar.value);
            yaml_event_delete (&event);
            g_assert_true (yaml_parser_parse (parser, &event));
            json_object_set_member (obj, key, yaml_load_node (parser, &event));
            yaml_event_delete (&event);
          }
        node = json_node_init_object (json_node_alloc (), obj);
        json_object_unref (obj);
        return node;
      }
    case YAML_SEQUENCE_START_EVENT:
      {
        JsonArray *array = json_array_new ();
        JsonNode *node;

        for (;;)
          {
            g_assert_true (yaml_parser_parse (parser, &event));
            if (event.type == YAML_SEQUENCE_END_EVENT)
              {
                yaml_event_delete (&event);
                break;
              }
            json_array_add_element (array, yaml_load_node (parser, &event));
            yaml_event_delete (&event);
          }
        node = json_node_init_array (json_node_alloc (), array);
        json_array_unref (array);
        return node;
      }
    default:
      g_error ("unexpected YAML event %d", first->type);
    }
}

static JsonNode *
load_yaml (const char *path)
{
  yaml_parser_t parser;
  yaml_event_t event;
  JsonNode *root = NULL;
  FILE *fp = fopen (path, "rb");

  g_assert_nonnull (fp);
  g_assert_true (yaml_parser_initialize (&parser));
  yaml_parser_set_input_file (&parser, fp);
  for (;;)
    {
      if (!yaml_parser_parse (&parser, &event))
        g_error ("%s:%zu: %s", path, parser.problem_mark.line + 1, parser.problem);
      if (event.type == YAML_STREAM_END_EVENT)
        {
          yaml_event_delete (&event);
          break;
        }
      if (event.type == YAML_MAPPING_START_EVENT || event.type == YAML_SEQUENCE_START_EVENT ||
          event.type == YAML_SCALAR_EVENT)
        {
          g_assert_null (root);
          root = yaml_load_node (&parser, &event);
        }
      yaml_event_delete (&event);
    }
  yaml_parser_delete (&parser);
  fclose (fp);
  g_assert_nonnull (root);
  return root;
}

static JsonNode *
load_json (const char *path)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  return json_node_ref (json_parser_get_root (parser));
}

static JsonNode *
load_any (const char *path)
{
  return g_str_has_suffix (path, ".json") ? load_json (path) : load_yaml (path);
}

/* Compares a value read back from a file with the job's own data: numbers
 * by value (the sign of zero included; NaN reads back as null), strings
 * exactly, containers member by member. */
static void
assert_same (JsonNode   *got,
             JsonNode   *want,
             const char *where)
{
  if (JSON_NODE_HOLDS_VALUE (want) && json_node_get_value_type (want) == G_TYPE_DOUBLE)
    {
      double w = json_node_get_double (want);

      if (!isfinite (w))
        {
          if (!JSON_NODE_HOLDS_NULL (got))
            g_error ("%s: expected null for %g", where, w);
          return;
        }
      if (!JSON_NODE_HOLDS_VALUE (got) || json_node_get_value_type (got) != G_TYPE_DOUBLE)
        g_error ("%s: expected the double %.17g", where, w);
      if (json_node_get_double (got) != w || signbit (json_node_get_double (got)) != signbit (w))
        g_error ("%s: %.17g != %.17g", where, json_node_get_double (got), w);
      return;
    }
  if (json_node_get_node_type (got) != json_node_get_node_type (want))
    g_error ("%s: node types differ", where);

  switch (json_node_get_node_type (want))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *g = json_node_get_object (got), *w = json_node_get_object (want);
        JsonObjectIter iter;
        const char *name;
        JsonNode *member;

        if (json_object_get_size (g) != json_object_get_size (w))
          g_error ("%s: %u members, expected %u", where, json_object_get_size (g), json_object_get_size (w));
        json_object_iter_init (&iter, w);
        while (json_object_iter_next (&iter, &name, &member))
          {
            g_autofree char *sub = g_strdup_printf ("%s.%s", where, name);

            if (!json_object_has_member (g, name))
              g_error ("%s: missing", sub);
            assert_same (json_object_get_member (g, name), member, sub);
          }
        break;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *g = json_node_get_array (got), *w = json_node_get_array (want);

        if (json_array_get_length (g) != json_array_get_length (w))
          g_error ("%s: lengths differ", where);
        for (guint i = 0; i < json_array_get_length (w); i++)
          {
            g_autofree char *sub = g_strdup_printf ("%s[%u]", where, i);
            assert_same (json_array_get_element (g, i), json_array_get_element (w, i), sub);
          }
        break;
      }
    case JSON_NODE_VALUE:
      if (json_node_get_value_type (got) != json_node_get_value_type (want))
        g_error ("%s: value types differ (%s, %s)", where,
                 g_type_name (json_node_get_value_type (got)), g_type_name (json_node_get_value_type (want)));
      switch (json_node_get_value_type (want))
        {
        case G_TYPE_INT64:
          g_assert_cmpint (json_node_get_int (got), ==, json_node_get_int (want));
          break;
        case G_TYPE_BOOLEAN:
          g_assert_cmpint (json_node_get_boolean (got), ==, json_node_get_boolean (want));
          break;
        case G_TYPE_STRING:
          if (g_strcmp0 (json_node_get_string (got), json_node_get_string (want)) != 0)
            g_error ("%s: “%s” != “%s”", where, json_node_get_string (got), json_node_get_string (want));
          break;
        default:
          g_assert_not_reached ();
        }
      break;
    case JSON_NODE_NULL:
    default:
      break;
    }
}

/* ------------------------------------------------------------------------ */
/* Jobs with tricky values                                                   */

static const char *const tricky_strings[] = {
  "yes", "no", "on", "off", "y", "n", "true", "False", "null", "Null", "~", "", "1e3", "0x10",
  "0o7", "07", ".inf", "-.inf", ".nan", "2026-12-04", "2026-12-04T20:04:54.123456Z",
  "2026-12-04 20:04:54", "12:30:00", " leading space", "trailing space ", "key: value",
  "a #comment", "- dash", "? question", "* star", "& amp", "! bang", "% percent",
  "@ at", "` backquote", "multi\nline\ntext", "tab\there", "quote \" and \\ backslash",
  "{flow}", "[flow]", "|literal", ">folded", "'single'", "\"double\"", "#hash", "=",
  "ünïcödé ✓ 🚀", "nel\xc2\x85 ls\xe2\x80\xa8 ps\xe2\x80\xa9 del\x7f c1\xc2\x9b bell\x07",
  "1_000", "+1", "0b101", "1:20", ".5", "5.", "1e-300",
};

static JsonNode *
tricky_result (void)
{
  JsonObject *obj = json_object_new ();
  JsonArray *strings = json_array_new ();
  JsonObject *nested = json_object_new ();
  JsonNode *node;

  json_object_set_double_member (obj, "big", 1e20);
  json_object_set_double_member (obj, "tiny", 1e-300);
  json_object_set_double_member (obj, "negative_zero", -0.0);
  json_object_set_double_member (obj, "tenth", 0.1);
  json_object_set_double_member (obj, "third", 1.0 / 3.0);
  json_object_set_double_member (obj, "max", G_MAXDOUBLE);
  json_object_set_double_member (obj, "whole", 3.0);
  json_object_set_int_member (obj, "two_53_plus_1", 9007199254740993LL);
  json_object_set_int_member (obj, "min_int", G_MININT64);
  json_object_set_double_member (obj, "nan", NAN);
  json_object_set_double_member (obj, "inf", INFINITY);
  json_object_set_boolean_member (obj, "flag", TRUE);
  json_object_set_null_member (obj, "nothing");
  for (guint i = 0; i < G_N_ELEMENTS (tricky_strings); i++)
    json_array_add_string_element (strings, tricky_strings[i]);
  json_object_set_array_member (obj, "strings", strings);
  json_object_set_object_member (nested, "yes", json_object_new ());
  json_object_set_array_member (nested, "2026-12-04", json_array_new ());
  json_object_set_object_member (obj, "keys that look typed", nested);
  {
    /* Keys past YAML's 1024-character limit for implicit keys. */
    g_autofree char *long_key = g_strnfill (1100, 'k');
    g_autofree char *medium_key = g_strnfill (170, '\x01');

    json_object_set_int_member (obj, long_key, 1);
    json_object_set_array_member (obj, medium_key, json_array_new ());
  }
  /* A string node holding NULL (json-glib allows it) is null. */
  json_object_set_member (obj, "null string", json_node_init_string (json_node_alloc (), NULL));
  node = json_node_init_object (json_node_alloc (), obj);
  json_object_unref (obj);
  return node;
}

static JsonNode *
job_tricky (JupiterJobContext *context,
            gpointer           user_data,
            GError           **error)
{
  switch (GPOINTER_TO_INT (user_data))
    {
    case 0:
      return tricky_result ();
    case 1:
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "invalid \xff\xfe bytes and a \"quote\"\nsecond line");
      return NULL;
    default:
      return json_node_init_int (json_node_alloc (), GPOINTER_TO_INT (user_data));
    }
}

static JsonNode *
job_bad_utf8_result (JupiterJobContext *context,
                     gpointer           user_data,
                     GError           **error)
{
  JsonObject *obj = json_object_new ();
  JsonNode *node;

  json_object_set_string_member (obj, "text", "ok \xc3\x28 broken");
  json_object_set_string_member (obj, "k\xff", "key broken");
  node = json_node_init_object (json_node_alloc (), obj);
  json_object_unref (obj);
  return node;
}

typedef struct {
  GMainContext      *context;
  JupiterJobManager *manager;
  char              *dir;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->context = g_main_context_new ();
  g_main_context_push_thread_default (f->context);
  f->manager = g_object_new (JUPITER_TYPE_JOB_MANAGER,
                             "enable-circuit-breaker", FALSE,
                             "history-limit", 1000000,
                             "max-pending", 1000000,
                             NULL);
  f->dir = g_dir_make_tmp ("jupiter-export-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
remove_tree (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir == NULL)
    {
      g_unlink (path);
      return;
    }
  while ((name = g_dir_read_name (dir)))
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      struct stat st;

      if (lstat (child, &st) == 0 && S_ISDIR (st.st_mode))
        {
          g_chmod (child, 0755);
          remove_tree (child);
        }
      else
        g_unlink (child);
    }
  g_dir_close (dir);
  g_rmdir (path);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_assert_true (jupiter_job_manager_shutdown (f->manager, 30 * G_TIME_SPAN_SECOND, NULL));
  g_clear_object (&f->manager);
  remove_tree (f->dir);
  g_free (f->dir);
  g_main_context_pop_thread_default (f->context);
  g_main_context_unref (f->context);
}

static char *
run_job (Fixture        *f,
         const char     *plugin_id,
         JupiterJobFunc  func,
         int             kind)
{
  g_autoptr(JupiterJobOptions) options = jupiter_job_options_new ("tricky: yes #1");
  g_autoptr(JsonObject) meta = json_object_new ();
  char *id;

  json_object_set_string_member (meta, "on", "off");
  json_object_set_double_member (meta, "ratio", 0.25);
  jupiter_job_options_set_metadata (options, meta);
  jupiter_job_options_set_plugin_id (options, plugin_id);
  jupiter_job_options_set_entry_name (options, "run");
  id = jupiter_job_manager_submit (f->manager, options, func, GINT_TO_POINTER (kind), NULL, NULL);
  g_assert_nonnull (id);
  jupiter_job_unref (jupiter_job_manager_wait (f->manager, id, NULL, NULL));
  return id;
}

static char *
path_in (Fixture    *f,
         const char *name)
{
  return g_build_filename (f->dir, name, NULL);
}

/* Every exported job equals the job's own field table. */
static void
assert_document (Fixture          *f,
                 JsonNode         *doc,
                 JupiterJobStatus  status,
                 const char       *plugin_id,
                 gboolean          include_results,
                 guint             expected)
{
  JsonObject *root = json_node_get_object (doc);
  JsonObject *filters = json_object_get_object_member (root, "filters");
  JsonArray *jobs = json_object_get_array_member (root, "jobs");
  g_autoptr(GDateTime) at = NULL;

  g_assert_cmpint (json_object_get_int_member (root, "total_jobs"), ==, expected);
  g_assert_cmpuint (json_array_get_length (jobs), ==, expected);
  at = g_date_time_new_from_iso8601 (json_object_get_string_member (root, "exported_at"), NULL);
  g_assert_nonnull (at);
  g_assert_cmpint (ABS (g_date_time_to_unix (at) - g_get_real_time () / G_USEC_PER_SEC), <, 60);
  if (status == JUPITER_JOB_STATUS_ANY)
    g_assert_true (json_object_get_null_member (filters, "status"));
  else
    g_assert_cmpstr (json_object_get_string_member (filters, "status"), ==, jupiter_job_status_to_string (status));
  if (plugin_id == NULL)
    g_assert_true (json_object_get_null_member (filters, "plugin_id"));
  else
    g_assert_cmpstr (json_object_get_string_member (filters, "plugin_id"), ==, plugin_id);
  g_assert_cmpint (json_object_get_boolean_member (filters, "include_results"), ==, include_results);

  for (guint i = 0; i < expected; i++)
    {
      JsonObject *exported = json_array_get_object_element (jobs, i);
      const char *id = json_object_get_string_member (exported, "id");
      g_autoptr(JupiterJob) job = jupiter_job_manager_get (f->manager, id, NULL);
      g_autoptr(JsonNode) want = NULL;
      g_autofree char *where = g_strdup_printf ("jobs[%u]", i);

      g_assert_nonnull (job);
      want = jupiter_job_to_json (job, include_results);
      assert_same (json_array_get_element (jobs, i), want, where);
      g_assert_cmpint (json_object_has_member (exported, "result"), ==, include_results);
      if (status != JUPITER_JOB_STATUS_ANY)
        g_assert_cmpint (jupiter_job_get_status (job), ==, status);
      if (plugin_id)
        g_assert_cmpstr (jupiter_job_get_plugin_id (job), ==, plugin_id);
      /* Oldest first. */
      if (i > 0)
        {
          g_autoptr(JupiterJob) prev = jupiter_job_manager_get (
            f->manager, json_object_get_string_member (json_array_get_object_element (jobs, i - 1), "id"), NULL);
          g_assert_cmpint (jupiter_job_get_created_at (prev), <=, jupiter_job_get_created_at (job));
        }
    }
}

/* ------------------------------------------------------------------------ */

static void
test_round_trip (Fixture       *f,
                 gconstpointer  data)
{
  const char *ext = data;
  g_autofree char *path = NULL;
  g_autoptr(JsonNode) doc = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *failed_id = NULL;
  g_autoptr(JupiterJob) failed = NULL;

  g_free (run_job (f, "alpha", job_tricky, 0));
  failed_id = run_job (f, "alpha", job_tricky, 1);
  g_free (run_job (f, "beta", job_tricky, 7));
  g_free (run_job (f, NULL, job_bad_utf8_result, 0));

  /* Invalid UTF-8 was repaired when recorded. */
  failed = jupiter_job_manager_get (f->manager, failed_id, NULL);
  g_assert_true (g_utf8_validate (jupiter_job_get_error (failed)->message, -1, NULL));

  path = g_strdup_printf ("%s/all.%s", f->dir, ext);
  g_assert_true (jupiter_job_manager_export_jobs (f->manager, path, JUPITER_JOB_STATUS_ANY, NULL,
                                                  JUPITER_EXPORT_FORMAT_AUTO, TRUE, &error));
  g_assert_no_error (error);
  doc = load_any (path);
  assert_document (f, doc, JUPITER_JOB_STATUS_ANY, NULL, TRUE, 4);

  /* The tricky strings came back as strings, every one. */
  {
    JsonObject *result = json_object_get_object_member (
      json_array_get_object_element (json_object_get_array_member (json_node_get_object (doc), "jobs"), 0),
      "result");
    JsonArray *strings = json_object_get_array_member (result, "strings");

    for (guint i = 0; i < G_N_ELEMENTS (tricky_strings); i++)
      g_assert_cmpstr (json_array_get_string_element (strings, i), ==, tricky_strings[i]);
    g_assert_cmpint (json_object_get_int_member (result, "two_53_plus_1"), ==, 9007199254740993LL);
    g_assert_true (json_object_get_null_member (result, "nan"));
  }
}

static void
test_filters (Fixture       *f,
              gconstpointer  data)
{
  const char *ext = data;
  struct {
    JupiterJobStatus status;
    const char *plugin_id;
    gboolean include_results;
    guint expected;
  } cases[] = {
    { JUPITER_JOB_STATUS_ANY, NULL, TRUE, 6 },
    { JUPITER_JOB_STATUS_FAILED, NULL, TRUE, 2 },
    { JUPITER_JOB_STATUS_ANY, "beta", TRUE, 3 },
    { JUPITER_JOB_STATUS_COMPLETED, "beta", FALSE, 2 },
    { JUPITER_JOB_STATUS_CANCELLED, NULL, TRUE, 0 },
  };

  for (guint i = 0; i < 6; i++)
    g_free (run_job (f, i % 2 ? "beta" : "alpha", job_tricky, i == 1 || i == 2 ? 1 : 5));

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autofree char *path = g_strdup_printf ("%s/filtered-%u.%s", f->dir, c, ext);
      g_autoptr(JsonNode) doc = NULL;
      g_autoptr(GError) error = NULL;

      g_assert_true (jupiter_job_manager_export_jobs (f->manager, path, cases[c].status, cases[c].plugin_id,
                                                      JUPITER_EXPORT_FORMAT_AUTO, cases[c].include_results,
                                                      &error));
      g_assert_no_error (error);
      doc = load_any (path);
      assert_document (f, doc, cases[c].status, cases[c].plugin_id, cases[c].include_results,
                       cases[c].expected);
    }
}

static void
test_single_job (Fixture       *f,
                 gconstpointer  data)
{
  g_autofree char *id = run_job (f, "alpha", job_tricky, 0);
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JupiterJob) job = jupiter_job_manager_get (f->manager, id, NULL);
  g_autoptr(JsonNode) want = jupiter_job_to_json (job, TRUE);
  g_autoptr(GError) error = NULL;
  const char *exts[] = { "json", "yaml", "yml" };

  node = jupiter_job_manager_export_job (f->manager, id, &error);
  g_assert_no_error (error);
  assert_same (node, want, "export_job");

  for (guint i = 0; i < G_N_ELEMENTS (exts); i++)
    {
      g_autofree char *path = g_strdup_printf ("%s/one.%s", f->dir, exts[i]);
      g_autoptr(JsonNode) back = NULL;

      g_assert_true (jupiter_job_manager_export_job_to_file (f->manager, id, path,
                                                             JUPITER_EXPORT_FORMAT_AUTO, &error));
      g_assert_no_error (error);
      back = g_str_has_suffix (path, ".json") ? load_json (path) : load_yaml (path);
      assert_same (back, want, path);
    }

  /* An explicit format wins over the extension. */
  {
    g_autofree char *path = path_in (f, "one.txt");
    g_autoptr(JsonNode) back = NULL;

    g_assert_true (jupiter_job_manager_export_job_to_file (f->manager, id, path,
                                                           JUPITER_EXPORT_FORMAT_YAML, &error));
    back = load_yaml (path);
    assert_same (back, want, path);
  }
}

static void
test_errors (Fixture       *f,
             gconstpointer  data)
{
  g_autofree char *id = run_job (f, "alpha", job_tricky, 5);
  g_autofree char *txt = path_in (f, "jobs.txt");
  g_autofree char *json = path_in (f, "jobs.json");
  g_autoptr(GError) error = NULL;

  g_assert_null (jupiter_job_manager_export_job (f->manager, "no-such-id", &error));
  g_assert_error (error, JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (jupiter_job_manager_export_job_to_file (f->manager, "no-such-id", json,
                                                          JUPITER_EXPORT_FORMAT_AUTO, &error));
  g_assert_error (error, JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_NOT_FOUND);
  g_assert_false (g_file_test (json, G_FILE_TEST_EXISTS));
  g_clear_error (&error);

  g_assert_false (jupiter_job_manager_export_jobs (f->manager, txt, JUPITER_JOB_STATUS_ANY, NULL,
                                                   JUPITER_EXPORT_FORMAT_AUTO, TRUE, &error));
  g_assert_error (error, JUPITER_EXPORT_ERROR, JUPITER_EXPORT_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, txt));
  g_clear_error (&error);

  /* A directory at the path: refused, and left alone. */
  {
    g_autofree char *dir = path_in (f, "adir.json");
    g_autofree char *inside = g_build_filename (dir, "keep", NULL);

    g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
    g_assert_true (g_file_set_contents (inside, "keep", -1, NULL));
    g_assert_false (jupiter_job_manager_export_jobs (f->manager, dir, JUPITER_JOB_STATUS_ANY, NULL,
                                                     JUPITER_EXPORT_FORMAT_AUTO, TRUE, &error));
    g_assert_error (error, JUPITER_EXPORT_ERROR, JUPITER_EXPORT_ERROR_NOT_REGULAR);
    g_assert_nonnull (strstr (error->message, dir));
    g_assert_true (g_file_test (inside, G_FILE_TEST_IS_REGULAR));
    g_clear_error (&error);
  }

  /* A path whose parent is a regular file cannot be created. */
  {
    g_autofree char *file = path_in (f, "plain");
    g_autofree char *below = g_build_filename (file, "sub", "jobs.json", NULL);

    g_assert_true (g_file_set_contents (file, "x", -1, NULL));
    g_assert_false (jupiter_job_manager_export_jobs (f->manager, below, JUPITER_JOB_STATUS_ANY, NULL,
                                                     JUPITER_EXPORT_FORMAT_AUTO, TRUE, &error));
    g_assert_error (error, JUPITER_EXPORT_ERROR, JUPITER_EXPORT_ERROR_WRITE);
    g_assert_nonnull (strstr (error->message, below));
    g_clear_error (&error);
  }

  /* An unwritable directory (root can write anywhere: then skipped). */
  if (geteuid () != 0)
    {
      g_autofree char *ro = path_in (f, "readonly");
      g_autofree char *target = g_build_filename (ro, "jobs.json", NULL);
      g_autofree char *old = NULL;

      g_assert_cmpint (g_mkdir (ro, 0755), ==, 0);
      g_assert_true (g_file_set_contents (target, "old", -1, NULL));
      g_assert_cmpint (g_chmod (ro, 0555), ==, 0);
      g_assert_false (jupiter_job_manager_export_jobs (f->manager, target, JUPITER_JOB_STATUS_ANY, NULL,
                                                       JUPITER_EXPORT_FORMAT_AUTO, TRUE, &error));
      g_assert_error (error, JUPITER_EXPORT_ERROR, JUPITER_EXPORT_ERROR_WRITE);
      g_assert_true (g_file_get_contents (target, &old, NULL, NULL));
      g_assert_cmpstr (old, ==, "old");
      g_chmod (ro, 0755);
    }
  else
    g_test_message ("running as root: the unwritable-directory case is covered by the size-limit test");
}

static void
test_write_failure_keeps_old_file (void)
{
  if (g_test_subprocess ())
    {
      GMainContext *context = g_main_context_new ();
      JupiterJobManager *manager;
      g_autoptr(JupiterJobOptions) options = jupiter_job_options_new ("filler");
      g_autofree char *dir = g_dir_make_tmp ("jupiter-efbig-XXXXXX", NULL);
      g_autofree char *path = g_build_filename (dir, "jobs.json", NULL);
      g_autofree char *old = NULL;
      g_autoptr(GError) error = NULL;
      struct rlimit limit = { 64 * 1024, 64 * 1024 };

      g_main_context_push_thread_default (context);
      manager = g_object_new (JUPITER_TYPE_JOB_MANAGER, "history-limit", 100000, "max-pending", 100000,
                              "enable-circuit-breaker", FALSE, NULL);
      g_assert_true (g_file_set_contents (path, "{\"old\": true}\n", -1, NULL));
      for (guint i = 0; i < 5000; i++)
        g_free (jupiter_job_manager_submit (manager, options, job_tricky, GINT_TO_POINTER (9), NULL, NULL));
      g_assert_true (jupiter_job_manager_wait_idle (manager, NULL, NULL));

      /* Files may grow to 64 KiB only: the export (about 2 MiB) fails. */
      signal (SIGXFSZ, SIG_IGN);
      g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &limit), ==, 0);
      g_assert_false (jupiter_job_manager_export_jobs (manager, path, JUPITER_JOB_STATUS_ANY, NULL,
                                                       JUPITER_EXPORT_FORMAT_AUTO, TRUE, &error));
      g_assert_error (error, JUPITER_EXPORT_ERROR, JUPITER_EXPORT_ERROR_WRITE);
      g_assert_nonnull (strstr (error->message, path));
      g_assert_true (g_file_get_contents (path, &old, NULL, NULL));
      g_assert_cmpstr (old, ==, "{\"old\": true}\n");
      /* And the temporary file is gone. */
      {
        GDir *d = g_dir_open (dir, 0, NULL);
        guint n = 0;

        while (g_dir_read_name (d))
          n++;
        g_dir_close (d);
        g_assert_cmpuint (n, ==, 1);
      }
      jupiter_job_manager_shutdown (manager, 0, NULL);
      g_object_unref (manager);
      g_unlink (path);
      g_rmdir (dir);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

static void
test_file_properties (Fixture       *f,
                      gconstpointer  data)
{
  g_autofree char *id = run_job (f, "alpha", job_tricky, 5);
  g_autofree char *nested = g_build_filename (f->dir, "a", "b", "c", "jobs.yaml", NULL);
  g_autofree char *kept = path_in (f, "private.json");
  g_autofree char *link = path_in (f, "link.json");
  g_autofree char *victim = path_in (f, "victim.json");
  g_autofree char *victim_content = NULL;
  g_autoptr(GError) error = NULL;
  struct stat st;

  /* Missing directories are created; a new file is 0644. */
  g_assert_true (jupiter_job_manager_export_jobs (f->manager, nested, JUPITER_JOB_STATUS_ANY, NULL,
                                                  JUPITER_EXPORT_FORMAT_AUTO, TRUE, &error));
  g_assert_no_error (error);
  g_assert_cmpint (stat (nested, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0644);

  /* A replaced file keeps its mode. */
  g_assert_true (g_file_set_contents (kept, "old", -1, NULL));
  g_assert_cmpint (g_chmod (kept, 0600), ==, 0);
  g_assert_true (jupiter_job_manager_export_jobs (f->manager, kept, JUPITER_JOB_STATUS_ANY, NULL,
                                                  JUPITER_EXPORT_FORMAT_AUTO, TRUE, &error));
  g_assert_cmpint (stat (kept, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  json_node_unref (load_json (kept));

  /* A symbolic link at the target is replaced, never followed. */
  g_assert_true (g_file_set_contents (victim, "victim", -1, NULL));
  g_assert_cmpint (symlink (victim, link), ==, 0);
  g_assert_true (jupiter_job_manager_export_jobs (f->manager, link, JUPITER_JOB_STATUS_ANY, NULL,
                                                  JUPITER_EXPORT_FORMAT_AUTO, TRUE, &error));
  g_assert_no_error (error);
  g_assert_cmpint (lstat (link, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_true (g_file_get_contents (victim, &victim_content, NULL, NULL));
  g_assert_cmpstr (victim_content, ==, "victim");
  json_node_unref (load_json (link));
}

/* ------------------------------------------------------------------------ */
/* SIGKILL in the middle of an export                                        */

static void
signal_parent_hook (guint index)
{
  if (index == 2000)
    {
      /* Tell the parent we are mid-file, then wait to be killed. */
      if (write (STDOUT_FILENO, "W", 1) != 1)
        _exit (3);
      for (;;)
        pause ();
    }
}

static int
export_child (const char *path)
{
  GMainContext *context = g_main_context_new ();
  JupiterJobManager *manager;
  g_autoptr(JupiterJobOptions) options = jupiter_job_options_new ("many");

  g_main_context_push_thread_default (context);
  manager = g_object_new (JUPITER_TYPE_JOB_MANAGER, "history-limit", 100000, "max-pending", 100000,
                          "enable-circuit-breaker", FALSE, NULL);
  for (guint i = 0; i < 10000; i++)
    g_free (jupiter_job_manager_submit (manager, options, job_tricky, GINT_TO_POINTER (9), NULL, NULL));
  jupiter_job_manager_wait_idle (manager, NULL, NULL);
  jupiter_export_set_test_hook (signal_parent_hook);
  jupiter_job_manager_export_jobs (manager, path, JUPITER_JOB_STATUS_ANY, NULL,
                                   JUPITER_EXPORT_FORMAT_AUTO, TRUE, NULL);
  return 2;   /* not reached: killed in the hook */
}

static const char *self_path;

static void
test_sigkill_mid_export (Fixture       *f,
                         gconstpointer  data)
{
  g_autofree char *path = path_in (f, "history.json");
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  const char *argv[] = { self_path, "--export-child", path, NULL };
  g_autoptr(GError) error = NULL;
  GPid pid;
  int out_fd, status;
  char c;
  guint files = 0;
  GDir *dir;

  /* An earlier, complete export. */
  g_free (run_job (f, "alpha", job_tricky, 0));
  g_assert_true (jupiter_job_manager_export_jobs (f->manager, path, JUPITER_JOB_STATUS_ANY, NULL,
                                                  JUPITER_EXPORT_FORMAT_AUTO, TRUE, &error));
  g_assert_true (g_file_get_contents (path, &before, NULL, NULL));

  g_assert_true (g_spawn_async_with_pipes (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                           NULL, NULL, &pid, NULL, &out_fd, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (read (out_fd, &c, 1), ==, 1);     /* the child is mid-export */
  g_assert_cmpint (c, ==, 'W');
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
  close (out_fd);
  g_spawn_close_pid (pid);

  /* The previous file is whole; only a temporary file was left behind. */
  g_assert_true (g_file_get_contents (path, &after, NULL, NULL));
  g_assert_cmpstr (after, ==, before);
  json_node_unref (load_json (path));
  dir = g_dir_open (f->dir, 0, NULL);
  for (const char *name; (name = g_dir_read_name (dir)); files++)
    if (!g_str_equal (name, "history.json"))
      g_assert_true (g_str_has_prefix (name, ".history.json."));
  g_dir_close (dir);
  g_assert_cmpuint (files, ==, 2);
}

/* ------------------------------------------------------------------------ */
/* Exports while jobs run                                                    */

static JsonNode *
job_busy (JupiterJobContext *context,
          gpointer           user_data,
          GError           **error)
{
  guint64 x = GPOINTER_TO_UINT (user_data);

  for (guint i = 0; i < 20000; i++)
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
  jupiter_job_context_set_progress (context, 0.5, "half");
  if (x % 5 == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "unlucky");
      return NULL;
    }
  return json_node_init_int (json_node_alloc (), (gint64) (x >> 1));
}

static void
test_export_while_running (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(JupiterJobOptions) options = jupiter_job_options_new ("busy");
  guint exports = 0;

  jupiter_job_options_set_plugin_id (options, "busy");
  for (guint i = 0; i < 3000; i++)
    g_free (jupiter_job_manager_submit (f->manager, options, job_busy, GUINT_TO_POINTER (i), NULL, NULL));

  /* Export over and over while the workers finish jobs. */
  for (;;)
    {
      JupiterJobStats stats;
      g_autofree char *path = g_strdup_printf ("%s/live-%u.%s", f->dir, exports, exports % 2 ? "yaml" : "json");
      g_autoptr(JsonNode) doc = NULL;
      g_autoptr(GError) error = NULL;
      JsonObject *root;
      JsonArray *jobs;

      jupiter_job_manager_get_stats (f->manager, &stats);
      g_assert_true (jupiter_job_manager_export_jobs (f->manager, path, JUPITER_JOB_STATUS_ANY, NULL,
                                                      JUPITER_EXPORT_FORMAT_AUTO, TRUE, &error));
      g_assert_no_error (error);
      doc = load_any (path);
      root = json_node_get_object (doc);
      jobs = json_object_get_array_member (root, "jobs");
      g_assert_cmpint (json_object_get_int_member (root, "total_jobs"), ==, json_array_get_length (jobs));
      g_assert_cmpuint (json_array_get_length (jobs), ==, 3000);
      for (guint i = 0; i < json_array_get_length (jobs); i++)
        {
          JupiterJobStatus status;
          g_assert_true (jupiter_job_status_from_string (
            json_object_get_string_member (json_array_get_object_element (jobs, i), "status"), &status));
        }
      exports++;
      g_unlink (path);
      if (stats.pending + stats.running == 0)
        break;
    }
  g_test_message ("%u exports while jobs ran", exports);
  g_assert_cmpuint (exports, >=, 1);
  g_assert_true (jupiter_job_manager_wait_idle (f->manager, NULL, NULL));
}

static void
test_default_manager (void)
{
  GMainContext *context = g_main_context_new ();
  g_autoptr(JupiterJobOptions) options = jupiter_job_options_new ("default");
  g_autofree char *dir = g_dir_make_tmp ("jupiter-default-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "jobs.yml", NULL);
  g_autofree char *id = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonNode) doc = NULL;
  g_autoptr(GError) error = NULL;

  g_main_context_push_thread_default (context);
  jupiter_init_job_manager ("enable-circuit-breaker", FALSE, NULL);
  id = jupiter_submit_job (options, job_tricky, GINT_TO_POINTER (4), NULL, &error);
  jupiter_job_unref (jupiter_job_manager_wait (jupiter_get_job_manager (), id, NULL, NULL));
  node = jupiter_export_job (id, &error);
  g_assert_no_error (error);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (node), "result"), ==, 4);
  g_assert_true (jupiter_export_jobs (path, JUPITER_JOB_STATUS_COMPLETED, NULL,
                                      JUPITER_EXPORT_FORMAT_AUTO, FALSE, &error));
  doc = load_yaml (path);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (doc), "total_jobs"), ==, 1);
  g_assert_true (jupiter_job_manager_shutdown (jupiter_get_job_manager (), 0, NULL));
  g_unlink (path);
  g_rmdir (dir);
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
}

static void
test_number_format (void)
{
  struct { double v; const char *text; } cases[] = {
    { 1e20, "1.0e+20" }, { 1e-300, "1.0e-300" }, { -0.0, "-0.0" }, { 0.1, "0.1" },
    { 3.0, "3.0" }, { 1.5, "1.5" }, { 1.0 / 3.0, "0.3333333333333333" }, { 123456789012.0, "123456789012.0" },
    { 2.5e-7, "2.5e-07" }, { NAN, "null" }, { INFINITY, "null" }, { -INFINITY, "null" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      char buf[JUPITER_DOUBLE_BUF];

      jupiter_format_double (cases[i].v, buf);
      g_assert_cmpstr (buf, ==, cases[i].text);
      if (isfinite (cases[i].v))
        g_assert_cmpfloat (g_ascii_strtod (buf, NULL), ==, cases[i].v);
    }
  /* Every double reads back to itself. */
  for (guint i = 0; i < 100000; i++)
    {
      char buf[JUPITER_DOUBLE_BUF];
      union { guint64 u; double d; } x = { .u = ((guint64) g_random_int () << 32) | g_random_int () };

      if (!isfinite (x.d))
        continue;
      jupiter_format_double (x.d, buf);
      g_assert_true (strchr (buf, '.') != NULL);
      g_assert_cmpfloat (g_ascii_strtod (buf, NULL), ==, x.d);
    }
}

int
main (int   argc,
      char *argv[])
{
  if (argc == 3 && g_str_equal (argv[1], "--export-child"))
    return export_child (argv[2]);

  self_path = argv[0];
  g_test_init (&argc, &argv, NULL);
  (void) g_io_error_quark ();

#define ADD(path, data, func) g_test_add ("/export/" path, Fixture, data, fixture_setup, func, fixture_teardown)
  ADD ("round-trip/json", "json", test_round_trip);
  ADD ("round-trip/yaml", "yaml", test_round_trip);
  ADD ("filters/json", "json", test_filters);
  ADD ("filters/yaml", "yml", test_filters);
  ADD ("single-job", NULL, test_single_job);
  ADD ("errors", NULL, test_errors);
  ADD ("file-properties", NULL, test_file_properties);
  ADD ("sigkill-mid-export", NULL, test_sigkill_mid_export);
  ADD ("while-jobs-run", NULL, test_export_while_running);
#undef ADD
  g_test_add_func ("/export/write-failure-keeps-old-file", test_write_failure_keeps_old_file);
  g_test_add_func ("/export/number-format", test_number_format);
  g_test_add_func ("/export/default-manager", test_default_manager);

  return g_test_run ();
}
