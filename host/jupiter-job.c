/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "jupiter-job-private.h"

#include <math.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/**
 * JupiterJob:
 *
 * An immutable, reference-counted snapshot of one job: what was submitted
 * (id, name, plugin id, entry name, metadata), where it stands (status,
 * progress, message) and how it ended (result, error, times).
 *
 * A snapshot never changes; ask the [class@Jupiter.JobManager] again for a
 * newer one. A finished job's record *is* its snapshot, so the terminal
 * signal's job, [method@Jupiter.JobManager.get] and the history all share one
 * instance. Snapshots may be kept (jupiter_job_ref() or g_boxed_copy())
 * after the manager pruned the job, and read from any thread.
 *
 * Since: 0.1
 */

G_DEFINE_BOXED_TYPE (JupiterJob, jupiter_job, jupiter_job_ref, jupiter_job_unref)

G_DEFINE_QUARK (jupiter-job-error-quark, jupiter_job_error)

static const char *const status_names[] = {
  [JUPITER_JOB_STATUS_PENDING] = "pending",
  [JUPITER_JOB_STATUS_RUNNING] = "running",
  [JUPITER_JOB_STATUS_COMPLETED] = "completed",
  [JUPITER_JOB_STATUS_FAILED] = "failed",
  [JUPITER_JOB_STATUS_CANCELLED] = "cancelled",
};

/**
 * jupiter_job_status_to_string:
 * @status: a #JupiterJobStatus
 *
 * The lower-case name of @status, as used in exports and configs:
 * `pending`, `running`, `completed`, `failed` or `cancelled`.
 *
 * Returns: (transfer none): a static string
 */
const char *
jupiter_job_status_to_string (JupiterJobStatus status)
{
  g_return_val_if_fail ((guint) status < G_N_ELEMENTS (status_names), NULL);

  return status_names[status];
}

/**
 * jupiter_job_status_from_string:
 * @str: a status name
 * @out_status: (out): where to store the status
 *
 * The inverse of jupiter_job_status_to_string().
 *
 * Returns: %TRUE if @str names a status
 */
gboolean
jupiter_job_status_from_string (const char       *str,
                                JupiterJobStatus *out_status)
{
  g_return_val_if_fail (str != NULL, FALSE);
  g_return_val_if_fail (out_status != NULL, FALSE);

  for (guint i = 0; i < G_N_ELEMENTS (status_names); i++)
    {
      if (g_str_equal (str, status_names[i]))
        {
          *out_status = (JupiterJobStatus) i;
          return TRUE;
        }
    }
  return FALSE;
}

/**
 * jupiter_job_status_is_finished:
 * @status: a #JupiterJobStatus
 *
 * Returns: %TRUE if @status is terminal (completed, failed or cancelled)
 */
gboolean
jupiter_job_status_is_finished (JupiterJobStatus status)
{
  return status == JUPITER_JOB_STATUS_COMPLETED ||
         status == JUPITER_JOB_STATUS_FAILED ||
         status == JUPITER_JOB_STATUS_CANCELLED;
}

static JupiterJob *
job_alloc (const char *name)
{
  gsize name_len = strlen (name);
  JupiterJob *job = g_malloc0 (sizeof (JupiterJob) + name_len + 1);

  g_atomic_ref_count_init (&job->ref_count);
  memcpy (job->name, name, name_len + 1);
  return job;
}

JupiterJob *
jupiter_job_new_pending (const char *id,
                         const char *name,
                         const char *plugin_id,
                         const char *entry_name,
                         JsonNode   *metadata,
                         gint64      created_at,
                         guint64     seq)
{
  JupiterJob *job = job_alloc (name);

  memcpy (job->id, id, JUPITER_JOB_ID_LEN + 1);
  job->status = JUPITER_JOB_STATUS_PENDING;
  job->plugin_id = plugin_id;
  job->entry_name = entry_name;
  job->metadata = metadata ? json_node_ref (metadata) : NULL;
  job->created_at = created_at;
  job->seq = seq;
  return job;
}

/* A new snapshot sharing @base's identity (id, name, plugin, entry,
 * metadata, creation); the caller fills in the rest before publishing it. */
JupiterJob *
jupiter_job_derive (const JupiterJob *base,
                    JupiterJobStatus  status)
{
  JupiterJob *job = job_alloc (base->name);

  memcpy (job->id, base->id, JUPITER_JOB_ID_LEN + 1);
  job->status = status;
  job->plugin_id = base->plugin_id;
  job->entry_name = base->entry_name;
  job->metadata = base->metadata ? json_node_ref (base->metadata) : NULL;
  job->created_at = base->created_at;
  job->seq = base->seq;
  return job;
}

/**
 * jupiter_job_ref:
 * @job: a #JupiterJob
 *
 * Returns: (transfer full): @job
 */
JupiterJob *
jupiter_job_ref (JupiterJob *job)
{
  g_return_val_if_fail (job != NULL, NULL);

  g_atomic_ref_count_inc (&job->ref_count);
  return job;
}

/**
 * jupiter_job_unref:
 * @job: (transfer full): a #JupiterJob
 *
 * Drops a reference; the last one frees the snapshot.
 */
void
jupiter_job_unref (JupiterJob *job)
{
  g_return_if_fail (job != NULL);

  if (!g_atomic_ref_count_dec (&job->ref_count))
    return;

  g_clear_pointer (&job->message, g_free);
  g_clear_pointer (&job->result, json_node_unref);
  g_clear_error (&job->error);
  g_clear_pointer (&job->metadata, json_node_unref);
  g_free (job);
}

/**
 * jupiter_job_get_id:
 * @job: a #JupiterJob
 *
 * Returns: (transfer none): the job's id, a UUID string
 */
const char *
jupiter_job_get_id (JupiterJob *job)
{
  g_return_val_if_fail (job != NULL, NULL);
  return job->id;
}

/**
 * jupiter_job_get_name:
 * @job: a #JupiterJob
 *
 * Returns: (transfer none): the job's name (the empty string if none was given)
 */
const char *
jupiter_job_get_name (JupiterJob *job)
{
  g_return_val_if_fail (job != NULL, NULL);
  return job->name;
}

/**
 * jupiter_job_get_status:
 * @job: a #JupiterJob
 *
 * Returns: the job's status when the snapshot was taken
 */
JupiterJobStatus
jupiter_job_get_status (JupiterJob *job)
{
  g_return_val_if_fail (job != NULL, JUPITER_JOB_STATUS_PENDING);
  return (JupiterJobStatus) job->status;
}

/**
 * jupiter_job_is_finished:
 * @job: a #JupiterJob
 *
 * Returns: %TRUE if the snapshot's status is terminal
 */
gboolean
jupiter_job_is_finished (JupiterJob *job)
{
  g_return_val_if_fail (job != NULL, FALSE);
  return jupiter_job_status_is_finished ((JupiterJobStatus) job->status);
}

/**
 * jupiter_job_get_progress:
 * @job: a #JupiterJob
 *
 * Returns: the last progress the job reported, from 0.0 to 1.0
 */
double
jupiter_job_get_progress (JupiterJob *job)
{
  g_return_val_if_fail (job != NULL, 0.0);
  return job->progress;
}

/**
 * jupiter_job_get_message:
 * @job: a #JupiterJob
 *
 * Returns: (transfer none) (nullable): the message of the last progress report
 */
const char *
jupiter_job_get_message (JupiterJob *job)
{
  g_return_val_if_fail (job != NULL, NULL);
  return job->message;
}

/**
 * jupiter_job_get_result:
 * @job: a #JupiterJob
 *
 * Returns: (transfer none) (nullable): the sealed result of a completed job
 */
JsonNode *
jupiter_job_get_result (JupiterJob *job)
{
  g_return_val_if_fail (job != NULL, NULL);
  return job->result;
}

/**
 * jupiter_job_get_error:
 * @job: a #JupiterJob
 *
 * The error of a failed or cancelled job: the job function's own error,
 * or one of %JUPITER_JOB_ERROR (%JUPITER_JOB_ERROR_TIMED_OUT,
 * %JUPITER_JOB_ERROR_CANCELLED, ...).
 *
 * Returns: (transfer none) (nullable): the error
 */
const GError *
jupiter_job_get_error (JupiterJob *job)
{
  g_return_val_if_fail (job != NULL, NULL);
  return job->error;
}

/**
 * jupiter_job_get_plugin_id:
 * @job: a #JupiterJob
 *
 * Returns: (transfer none) (nullable): the plugin id the job was submitted for
 */
const char *
jupiter_job_get_plugin_id (JupiterJob *job)
{
  g_return_val_if_fail (job != NULL, NULL);
  return job->plugin_id;
}

/**
 * jupiter_job_get_entry_name:
 * @job: a #JupiterJob
 *
 * Returns: (transfer none) (nullable): the entry point the job runs
 */
const char *
jupiter_job_get_entry_name (JupiterJob *job)
{
  g_return_val_if_fail (job != NULL, NULL);
  return job->entry_name;
}

/**
 * jupiter_job_get_metadata:
 * @job: a #JupiterJob
 *
 * Returns: (transfer none) (nullable): the sealed metadata, %NULL when empty
 */
JsonObject *
jupiter_job_get_metadata (JupiterJob *job)
{
  g_return_val_if_fail (job != NULL, NULL);
  return job->metadata ? json_node_get_object (job->metadata) : NULL;
}

/**
 * jupiter_job_get_created_at:
 * @job: a #JupiterJob
 *
 * Returns: when the job was submitted, wall-clock microseconds since the epoch
 */
gint64
jupiter_job_get_created_at (JupiterJob *job)
{
  g_return_val_if_fail (job != NULL, 0);
  return job->created_at;
}

/**
 * jupiter_job_get_started_at:
 * @job: a #JupiterJob
 *
 * Returns: when the job's function was started (wall clock, µs), or 0
 */
gint64
jupiter_job_get_started_at (JupiterJob *job)
{
  g_return_val_if_fail (job != NULL, 0);
  return job->started_at;
}

/**
 * jupiter_job_get_completed_at:
 * @job: a #JupiterJob
 *
 * Returns: when the job reached its terminal state (wall clock, µs), or 0
 */
gint64
jupiter_job_get_completed_at (JupiterJob *job)
{
  g_return_val_if_fail (job != NULL, 0);
  return job->completed_at;
}

/**
 * jupiter_job_get_duration:
 * @job: a #JupiterJob
 *
 * How long the job ran, from start to its terminal state, measured with the
 * monotonic clock. 0 for a job that never started or has not finished.
 *
 * Returns: the duration in microseconds
 */
GTimeSpan
jupiter_job_get_duration (JupiterJob *job)
{
  g_return_val_if_fail (job != NULL, 0);
  return job->duration;
}

static inline char *
put_digits (char *p,
            int   value,
            int   width)
{
  for (int i = width - 1; i >= 0; i--)
    {
      p[i] = (char) ('0' + value % 10);
      value /= 10;
    }
  return p + width;
}

/* "2026-12-04T20:04:54.123456Z", by hand: exports write three per job. */
void
jupiter_format_iso8601 (gint64 unix_usec,
                        char   out[32])
{
  time_t secs = (time_t) (unix_usec / G_USEC_PER_SEC);
  gint64 usec = unix_usec % G_USEC_PER_SEC;
  struct tm tm;
  char *p = out;

  if (usec < 0)
    {
      usec += G_USEC_PER_SEC;
      secs -= 1;
    }
  gmtime_r (&secs, &tm);
  if (tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
    {
      g_snprintf (out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, (int) usec);
      return;
    }
  p = put_digits (p, tm.tm_year + 1900, 4);
  *p++ = '-';
  p = put_digits (p, tm.tm_mon + 1, 2);
  *p++ = '-';
  p = put_digits (p, tm.tm_mday, 2);
  *p++ = 'T';
  p = put_digits (p, tm.tm_hour, 2);
  *p++ = ':';
  p = put_digits (p, tm.tm_min, 2);
  *p++ = ':';
  p = put_digits (p, tm.tm_sec, 2);
  *p++ = '.';
  p = put_digits (p, (int) usec, 6);
  *p++ = 'Z';
  *p = '\0';
}

/* json-glib 1.6 counts references to JsonObject and JsonArray without
 * atomics (only JsonNode's count is atomic), so a tree shared between
 * threads must never be referenced below its root node: every tree a job
 * keeps is private to it, reached only through its sealed root node, and
 * what leaves it (exports) is a deep copy built by reading alone. */
enum {
  COPY_MAKE_VALID = 1 << 0,   /* repair invalid UTF-8 */
  COPY_FINITE     = 1 << 1,   /* NaN and infinities become null, as in exports */
};

static JsonNode *deep_copy (JsonNode *node, guint flags);

JsonNode *
jupiter_json_deep_copy (JsonNode *node)
{
  return deep_copy (node, 0);
}

/* A deep copy holding only what JSON can: non-finite doubles become null. */
JsonNode *
jupiter_json_deep_copy_finite (JsonNode *node)
{
  return deep_copy (node, COPY_FINITE);
}

static gboolean
tree_is_valid_utf8 (JsonNode *node)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObjectIter iter;
        const char *name;
        JsonNode *member;

        json_object_iter_init_ordered (&iter, json_node_get_object (node));
        while (json_object_iter_next_ordered (&iter, &name, &member))
          if (!g_utf8_validate (name, -1, NULL) || !tree_is_valid_utf8 (member))
            return FALSE;
        return TRUE;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);

        for (guint i = 0; i < json_array_get_length (array); i++)
          if (!tree_is_valid_utf8 (json_array_get_element (array, i)))
            return FALSE;
        return TRUE;
      }
    case JSON_NODE_VALUE:
      /* A string node holding NULL, or a value node without a value, is
       * repaired too (to null): json_node_seal() itself crashes on the
       * first. */
      if (json_node_get_value_type (node) == G_TYPE_INVALID)
        return FALSE;
      return json_node_get_value_type (node) != G_TYPE_STRING ||
             (json_node_get_string (node) != NULL &&
              g_utf8_validate (json_node_get_string (node), -1, NULL));
    case JSON_NODE_NULL:
    default:
      return TRUE;
    }
}

/* Takes @node; returns it, or, if any string or member name in it is not
 * valid UTF-8 (or a string is NULL), a repaired copy. Text from plugins is made valid once, when
 * it is recorded, so every reader and every export can rely on it. */
JsonNode *
jupiter_json_make_valid (JsonNode *node)
{
  JsonNode *copy;

  if (node == NULL || tree_is_valid_utf8 (node))
    return node;
  copy = deep_copy (node, COPY_MAKE_VALID);
  json_node_unref (node);
  return copy;
}

static JsonNode *
deep_copy (JsonNode *node,
           guint     flags)
{
  gboolean make_valid = (flags & COPY_MAKE_VALID) != 0;
  JsonNode *copy;

  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *src = json_node_get_object (node);
        JsonObject *dst = json_object_new ();
        JsonObjectIter iter;
        const char *name;
        JsonNode *member;

        json_object_iter_init_ordered (&iter, src);
        while (json_object_iter_next_ordered (&iter, &name, &member))
          {
            g_autofree char *valid = make_valid ? jupiter_utf8_make_valid (name) : NULL;
            json_object_set_member (dst, valid ? valid : name, deep_copy (member, flags));
          }
        copy = json_node_init_object (json_node_alloc (), dst);
        json_object_unref (dst);
        return copy;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *src = json_node_get_array (node);
        guint n = json_array_get_length (src);
        JsonArray *dst = json_array_sized_new (n);

        for (guint i = 0; i < n; i++)
          json_array_add_element (dst, deep_copy (json_array_get_element (src, i), flags));
        copy = json_node_init_array (json_node_alloc (), dst);
        json_array_unref (dst);
        return copy;
      }
    case JSON_NODE_VALUE:
      {
        GValue value = G_VALUE_INIT;

        if ((flags & COPY_FINITE) && json_node_get_value_type (node) == G_TYPE_DOUBLE &&
            !isfinite (json_node_get_double (node)))
          return json_node_init_null (json_node_alloc ());
        /* A value node without a value, or a string node holding NULL
         * (json-glib allows both), is null. */
        if (json_node_get_value_type (node) == G_TYPE_INVALID ||
            (json_node_get_value_type (node) == G_TYPE_STRING && json_node_get_string (node) == NULL))
          return json_node_init_null (json_node_alloc ());
        json_node_get_value (node, &value);
        copy = json_node_alloc ();
        json_node_init (copy, JSON_NODE_VALUE);
        if (make_valid && G_VALUE_HOLDS_STRING (&value))
          {
            g_autofree char *valid = jupiter_utf8_make_valid (g_value_get_string (&value));
            json_node_set_string (copy, valid);
          }
        else
          json_node_set_value (copy, &value);
        g_value_unset (&value);
        return copy;
      }
    case JSON_NODE_NULL:
    default:
      return json_node_init_null (json_node_alloc ());
    }
}

/* Text that reaches a job record (names, messages, error messages) may come
 * from plugins; it is made valid UTF-8 once, here, so every reader and every
 * export can rely on it. */
char *
jupiter_utf8_make_valid (const char *str)
{
  if (str == NULL)
    return NULL;
  if (g_utf8_validate (str, -1, NULL))
    return g_strdup (str);
  return g_utf8_make_valid (str, -1);
}

/* Random (version 4) UUIDs from a per-thread xoshiro256** generator seeded
 * by getrandom(). g_uuid_string_random() takes a process-wide lock and
 * formats through printf; this costs a few nanoseconds. Ids only need to be
 * unique, not unpredictable. */
static __thread guint64 uuid_state[4];
static __thread gboolean uuid_seeded;

static inline guint64
rotl64 (guint64 x,
        int     k)
{
  return (x << k) | (x >> (64 - k));
}

static guint64
uuid_next (void)
{
  guint64 *s = uuid_state;
  guint64 result = rotl64 (s[1] * 5, 7) * 9;
  guint64 t = s[1] << 17;

  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl64 (s[3], 45);
  return result;
}

static void
uuid_seed (void)
{
  gssize n = getrandom (uuid_state, sizeof uuid_state, 0);

  if (n != (gssize) sizeof uuid_state)
    {
      /* getrandom() cannot fail for 32 bytes once the pool is initialised;
       * fall back to GLib's generator rather than to a constant. */
      for (guint i = 0; i < 4; i++)
        uuid_state[i] = ((guint64) g_random_int () << 32) | g_random_int ();
    }
  if ((uuid_state[0] | uuid_state[1] | uuid_state[2] | uuid_state[3]) == 0)
    uuid_state[0] = 1;
  uuid_seeded = TRUE;
}

void
jupiter_uuid_generate (char out[JUPITER_JOB_ID_LEN + 1])
{
  static const char hex[] = "0123456789abcdef";
  guint8 bytes[16];
  guint64 a, b;
  guint o = 0;

  if (G_UNLIKELY (!uuid_seeded))
    uuid_seed ();

  a = uuid_next ();
  b = uuid_next ();
  memcpy (bytes, &a, 8);
  memcpy (bytes + 8, &b, 8);
  bytes[6] = (bytes[6] & 0x0f) | 0x40; /* version 4 */
  bytes[8] = (bytes[8] & 0x3f) | 0x80; /* RFC 4122 variant */

  for (guint i = 0; i < 16; i++)
    {
      if (i == 4 || i == 6 || i == 8 || i == 10)
        out[o++] = '-';
      out[o++] = hex[bytes[i] >> 4];
      out[o++] = hex[bytes[i] & 0x0f];
    }
  out[o] = '\0';
}
