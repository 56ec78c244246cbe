/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <jupiter/jupiter.h>

G_BEGIN_DECLS

#define JUPITER_JOB_ID_LEN 36

/*
 * The record of a job. Every instance is immutable once another thread can
 * see it; a finished job's record is its own snapshot. The id comes first so
 * the manager's history table can use the job itself as its key (one pointer
 * per slot instead of two).
 */
struct _JupiterJob
{
  char             id[JUPITER_JOB_ID_LEN + 1];
  guint8           status;               /* JupiterJobStatus */
  gatomicrefcount  ref_count;
  const char      *plugin_id;            /* g_intern_string(), nullable */
  const char      *entry_name;           /* g_intern_string(), nullable */
  char            *message;              /* nullable, valid UTF-8 */
  JsonNode        *result;               /* sealed, nullable */
  GError          *error;                /* nullable, message valid UTF-8 */
  JsonNode        *metadata;             /* sealed object node, NULL when empty */
  double           progress;
  gint64           created_at;           /* wall clock, µs */
  gint64           started_at;
  gint64           completed_at;
  GTimeSpan        duration;             /* monotonic, µs */
  guint64          seq;                  /* submission order */

  /* Links in the manager's history (finished jobs, oldest first). Touched
   * only by the owning manager, under its lock; not part of the snapshot. */
  JupiterJob      *hist_prev;
  JupiterJob      *hist_next;

  char             name[];               /* valid UTF-8 */
};

JupiterJob *jupiter_job_new_pending  (const char  *id,
                                      const char  *name,
                                      const char  *plugin_id,
                                      const char  *entry_name,
                                      JsonNode    *metadata,
                                      gint64       created_at,
                                      guint64      seq);
JupiterJob *jupiter_job_derive       (const JupiterJob *base,
                                      JupiterJobStatus  status);

char       *jupiter_utf8_make_valid  (const char *str);
JsonNode   *jupiter_json_deep_copy   (JsonNode   *node);
JsonNode   *jupiter_json_make_valid  (JsonNode   *node);
JsonNode   *jupiter_json_deep_copy_finite (JsonNode *node);
void        jupiter_uuid_generate    (char out[JUPITER_JOB_ID_LEN + 1]);
void        jupiter_format_iso8601   (gint64 unix_usec,
                                      char   out[32]);

G_END_DECLS
