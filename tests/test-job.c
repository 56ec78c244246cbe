/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include <jupiter/jupiter.h>

static void
test_status_strings (void)
{
  JupiterJobStatus status;
  const char *names[] = { "pending", "running", "completed", "failed", "cancelled" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_assert_cmpstr (jupiter_job_status_to_string ((JupiterJobStatus) i), ==, names[i]);
      g_assert_true (jupiter_job_status_from_string (names[i], &status));
      g_assert_cmpint (status, ==, i);
    }
  g_assert_false (jupiter_job_status_from_string ("done", &status));
  g_assert_false (jupiter_job_status_is_finished (JUPITER_JOB_STATUS_PENDING));
  g_assert_false (jupiter_job_status_is_finished (JUPITER_JOB_STATUS_RUNNING));
  g_assert_true (jupiter_job_status_is_finished (JUPITER_JOB_STATUS_COMPLETED));
  g_assert_true (jupiter_job_status_is_finished (JUPITER_JOB_STATUS_FAILED));
  g_assert_true (jupiter_job_status_is_finished (JUPITER_JOB_STATUS_CANCELLED));

  /* The GEnum is registered and its nicks are the same names. */
  {
    g_autoptr(GEnumClass) klass = g_type_class_ref (JUPITER_TYPE_JOB_STATUS);
    GEnumValue *value = g_enum_get_value (klass, JUPITER_JOB_STATUS_CANCELLED);

    g_assert_nonnull (value);
    g_assert_cmpstr (value->value_nick, ==, "cancelled");
  }
}

static void
test_options (void)
{
  g_autoptr(JupiterJobOptions) options = jupiter_job_options_new ("resize");
  g_autoptr(JsonNode) args = json_from_string ("{\"w\": 10}", NULL);
  g_autoptr(JsonObject) meta = json_object_new ();
  g_autoptr(JsonObject) empty = json_object_new ();

  g_assert_cmpstr (jupiter_job_options_get_name (options), ==, "resize");
  g_assert_null (jupiter_job_options_get_plugin_id (options));

  jupiter_job_options_set_plugin_id (options, "image");
  jupiter_job_options_set_entry_name (options, "resize");
  g_assert_cmpstr (jupiter_job_options_get_plugin_id (options), ==, "image");
  g_assert_cmpstr (jupiter_job_options_get_entry_name (options), ==, "resize");
  jupiter_job_options_set_plugin_id (options, "");
  g_assert_null (jupiter_job_options_get_plugin_id (options));

  /* The options keep a private, sealed copy; the caller's node is untouched. */
  jupiter_job_options_set_args (options, args);
  g_assert_true (jupiter_job_options_get_args (options) != args);
  g_assert_true (json_node_equal (jupiter_job_options_get_args (options), args));
  g_assert_true (json_node_is_immutable (jupiter_job_options_get_args (options)));
  g_assert_false (json_node_is_immutable (args));

  json_object_set_int_member (meta, "owner", 7);
  jupiter_job_options_set_metadata (options, meta);
  g_assert_true (jupiter_job_options_get_metadata (options) != meta);
  g_assert_true (json_object_equal (jupiter_job_options_get_metadata (options), meta));
  g_assert_true (json_object_is_immutable (jupiter_job_options_get_metadata (options)));
  g_assert_false (json_object_is_immutable (meta));
  /* An empty object is stored as NULL. */
  jupiter_job_options_set_metadata (options, empty);
  g_assert_null (jupiter_job_options_get_metadata (options));

  jupiter_job_options_set_timeout (options, 5 * G_TIME_SPAN_SECOND);
  g_assert_cmpint (jupiter_job_options_get_timeout (options), ==, 5 * G_TIME_SPAN_SECOND);
  jupiter_job_options_set_flags (options, JUPITER_JOB_FLAGS_BYPASS_CIRCUIT_BREAKER);
  g_assert_cmpint (jupiter_job_options_get_flags (options), ==, JUPITER_JOB_FLAGS_BYPASS_CIRCUIT_BREAKER);

  /* Boxed copy is a reference. */
  {
    JupiterJobOptions *copy = g_boxed_copy (JUPITER_TYPE_JOB_OPTIONS, options);
    g_assert_true (copy == options);
    g_boxed_free (JUPITER_TYPE_JOB_OPTIONS, copy);
  }
}

static JsonNode *
return_object (JupiterJobContext *context,
               gpointer           user_data,
               GError           **error)
{
  JsonNode *node = json_from_string ("{\"n\": 3, \"s\": \"x\"}", NULL);
  return node;
}

static JsonNode *
fail_invalid_utf8 (JupiterJobContext *context,
                   gpointer           user_data,
                   GError           **error)
{
  jupiter_job_context_set_progress (context, 0.25, "half\xff way");
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "bad byte \xfe here");
  return NULL;
}

static gboolean
is_iso8601_usec (const char *s)
{
  /* 2026-12-04T20:04:54.123456Z */
  g_autoptr(GRegex) re = g_regex_new ("^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{6}Z$", 0, 0, NULL);
  return g_regex_match (re, s, 0, NULL);
}

static void
test_to_json (void)
{
  g_autoptr(JupiterJobManager) manager = jupiter_job_manager_new ();
  g_autoptr(JupiterJobOptions) options = jupiter_job_options_new ("to-json");
  g_autoptr(JsonObject) meta = json_object_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  g_autoptr(JupiterJob) job = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonNode) without = NULL;
  g_autoptr(GDateTime) created = NULL;
  JsonObject *obj, *result;

  json_object_set_string_member (meta, "team", "ops");
  jupiter_job_options_set_metadata (options, meta);
  jupiter_job_options_set_plugin_id (options, "echo");
  jupiter_job_options_set_entry_name (options, "run");

  id = jupiter_job_manager_submit (manager, options, return_object, NULL, NULL, &error);
  g_assert_no_error (error);
  job = jupiter_job_manager_wait (manager, id, NULL, &error);
  g_assert_no_error (error);

  node = jupiter_job_to_json (job, TRUE);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  obj = json_node_get_object (node);
  g_assert_cmpstr (json_object_get_string_member (obj, "id"), ==, id);
  g_assert_cmpint (strlen (id), ==, 36);
  g_assert_true (g_uuid_string_is_valid (id));
  g_assert_cmpstr (json_object_get_string_member (obj, "name"), ==, "to-json");
  g_assert_cmpstr (json_object_get_string_member (obj, "status"), ==, "completed");
  g_assert_cmpstr (json_object_get_string_member (obj, "plugin_id"), ==, "echo");
  g_assert_cmpstr (json_object_get_string_member (obj, "entry"), ==, "run");
  g_assert_cmpfloat (json_object_get_double_member (obj, "progress"), ==, 1.0);
  g_assert_true (json_object_get_null_member (obj, "error"));
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (obj, "metadata"), "team"), ==, "ops");
  result = json_object_get_object_member (obj, "result");
  g_assert_cmpint (json_object_get_int_member (result, "n"), ==, 3);
  g_assert_true (is_iso8601_usec (json_object_get_string_member (obj, "created_at")));
  g_assert_true (is_iso8601_usec (json_object_get_string_member (obj, "started_at")));
  g_assert_true (is_iso8601_usec (json_object_get_string_member (obj, "completed_at")));
  g_assert_cmpfloat (json_object_get_double_member (obj, "duration_ms"), >=, 0.0);
  g_assert_cmpfloat (json_object_get_double_member (obj, "duration_ms"), ==,
                     jupiter_job_get_duration (job) / 1000.0);

  /* The timestamp string is the job's own time, in UTC, to the microsecond. */
  created = g_date_time_new_from_iso8601 (json_object_get_string_member (obj, "created_at"), NULL);
  g_assert_nonnull (created);
  g_assert_cmpint (g_date_time_to_unix (created) * G_USEC_PER_SEC + g_date_time_get_microsecond (created),
                   ==, jupiter_job_get_created_at (job));

  /* The kept result is sealed. */
  g_assert_true (json_node_is_immutable (jupiter_job_get_result (job)));

  without = jupiter_job_to_json (job, FALSE);
  g_assert_false (json_object_has_member (json_node_get_object (without), "result"));

  jupiter_job_manager_shutdown (manager, 0, NULL);
}

static void
test_invalid_utf8 (void)
{
  g_autoptr(JupiterJobManager) manager = jupiter_job_manager_new ();
  g_autoptr(JupiterJobOptions) options = jupiter_job_options_new ("bad \xc3 name");
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  g_autoptr(JupiterJob) job = NULL;
  const GError *job_error;

  id = jupiter_job_manager_submit (manager, options, fail_invalid_utf8, NULL, NULL, &error);
  g_assert_no_error (error);
  job = jupiter_job_manager_wait (manager, id, NULL, &error);
  g_assert_no_error (error);

  g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_FAILED);
  g_assert_true (g_utf8_validate (jupiter_job_get_name (job), -1, NULL));
  g_assert_true (g_str_has_prefix (jupiter_job_get_name (job), "bad "));
  job_error = jupiter_job_get_error (job);
  g_assert_error ((GError *) job_error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_true (g_utf8_validate (job_error->message, -1, NULL));
  g_assert_true (g_str_has_prefix (job_error->message, "bad byte "));
  g_assert_true (g_str_has_suffix (job_error->message, " here"));
  g_assert_true (g_utf8_validate (jupiter_job_get_message (job), -1, NULL));
  g_assert_cmpfloat (jupiter_job_get_progress (job), ==, 0.25);

  jupiter_job_manager_shutdown (manager, 0, NULL);
}

static void
test_ids_unique (void)
{
  g_autoptr(JupiterJobManager) manager = g_object_new (JUPITER_TYPE_JOB_MANAGER,
                                                       "max-pending", 20000, NULL);
  g_autoptr(JupiterJobOptions) options = jupiter_job_options_new (NULL);
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < 10000; i++)
    {
      char *id = jupiter_job_manager_submit (manager, options, return_object, NULL, NULL, NULL);
      g_assert_nonnull (id);
      g_assert_true (g_uuid_string_is_valid (id));
      g_assert_cmpint (id[14], ==, '4');
      g_assert_true (strchr ("89ab", id[19]) != NULL);
      g_assert_true (g_hash_table_add (seen, id));
    }
  g_assert_true (jupiter_job_manager_wait_idle (manager, NULL, NULL));
  jupiter_job_manager_shutdown (manager, 0, NULL);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/job/status-strings", test_status_strings);
  g_test_add_func ("/job/options", test_options);
  g_test_add_func ("/job/to-json", test_to_json);
  g_test_add_func ("/job/invalid-utf8", test_invalid_utf8);
  g_test_add_func ("/job/ids-unique", test_ids_unique);

  return g_test_run ();
}
