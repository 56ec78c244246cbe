/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <jupiter/jupiter.h>

G_BEGIN_DECLS

#define JUPITER_DOUBLE_BUF 40

/* Something that consumes the job field table (see jupiter_job_emit()). */
typedef struct _Emitter Emitter;
typedef struct {
  void (*begin_object) (Emitter *e);
  void (*end_object) (Emitter *e);
  void (*key) (Emitter *e, const char *key);
  void (*string) (Emitter *e, const char *s);
  void (*integer) (Emitter *e, gint64 v);
  void (*number) (Emitter *e, double v);
  void (*null) (Emitter *e);
  void (*node) (Emitter *e, JsonNode *node);
} EmitterClass;
struct _Emitter {
  const EmitterClass *klass;
};

/* A buffered writer over a file descriptor; the first error sticks. */
typedef struct {
  int     fd;
  char   *buf;
  gsize   len;
  int     errsv;
  guint64 written;
} Out;

typedef void (*JupiterExportBody) (Out *out, gpointer data);
/* Test hook: called after each job written. */
typedef void (*JupiterExportHook) (guint index);

void                jupiter_job_emit                (JupiterJob          *job,
                                                     gboolean             include_result,
                                                     Emitter             *e);
gsize               jupiter_format_double           (double               value,
                                                     char                 buf[JUPITER_DOUBLE_BUF]);
void                out_init                        (Out                 *out,
                                                     int                  fd);
gboolean            out_flush                       (Out                 *out);
void                out_clear                       (Out                 *out);
void                jupiter_export_write_document   (Out                 *out,
                                                     JupiterExportFormat  format,
                                                     GPtrArray           *jobs,
                                                     JupiterJobStatus     status,
                                                     const char          *plugin_id,
                                                     gboolean             include_results,
                                                     JupiterExportHook    hook);
void                jupiter_export_write_single     (Out                 *out,
                                                     JupiterExportFormat  format,
                                                     JupiterJob          *job);
JupiterExportFormat jupiter_export_format_for_path  (const char          *path,
                                                     JupiterExportFormat  format,
                                                     GError             **error);
gboolean            jupiter_export_write_file       (const char          *path,
                                                     JupiterExportBody    body,
                                                     gpointer             data,
                                                     GError             **error);
void                jupiter_export_set_test_hook    (JupiterExportHook    hook);

G_END_DECLS
