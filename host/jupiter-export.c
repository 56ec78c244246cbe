/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "jupiter-export-private.h"
#include "jupiter-job-private.h"

#include <glib/gstdio.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Export writers.
 *
 * One field table, jupiter_job_emit(), describes a job to an Emitter; three
 * emitters consume it: a JsonNode tree builder (jupiter_job_to_json()), a
 * streaming JSON writer and a streaming YAML writer. The writers format
 * numbers and quote text themselves, because json-glib 1.6 writes some
 * doubles as invalid JSON (1e20 as `1e+20.0`) and YAML readers type plain
 * scalars by their look (`yes`, `1e3`, timestamps):
 *
 * - integers are written exactly; doubles in their shortest form that reads
 *   back to the same value, always with a `.` in the mantissa and a signed
 *   exponent (`1.0e+20`, `-0.0`), which JSON, YAML 1.2 and YAML 1.1 (PyYAML)
 *   all read as floats; NaN and infinities, which JSON cannot hold, are null;
 * - every string, and every key that comes from a job's data, is
 *   double-quoted in YAML, with anything a YAML reader would fold or refuse
 *   (line breaks, control and C1 characters, U+2028/9, U+FFFE/F) escaped;
 * - text is valid UTF-8 already: it was made so when it was recorded.
 */

G_DEFINE_QUARK (jupiter-export-error-quark, jupiter_export_error)

/* ------------------------------------------------------------------------ */
/* Numbers                                                                   */

gsize
jupiter_format_double (double value,
                       char   buf[JUPITER_DOUBLE_BUF])
{
  gsize len;
  char *e;

  if (!isfinite (value))
    {
      memcpy (buf, "null", 5);
      return 4;
    }

  static const char *const formats[] = { "%.15g", "%.16g", "%.17g" };

  for (guint i = 0; i < G_N_ELEMENTS (formats); i++)
    {
      g_ascii_formatd (buf, JUPITER_DOUBLE_BUF - 4, formats[i], value);
      if (g_ascii_strtod (buf, NULL) == value)
        break;
    }

  /* A mantissa without a point gets ".0" (before the exponent, if any). */
  len = strlen (buf);
  e = strpbrk (buf, "eE");
  if (memchr (buf, '.', e ? (gsize) (e - buf) : len) == NULL)
    {
      gsize at = e ? (gsize) (e - buf) : len;

      memmove (buf + at + 2, buf + at, len - at + 1);
      buf[at] = '.';
      buf[at + 1] = '0';
      len += 2;
    }
  return len;
}

/* ------------------------------------------------------------------------ */
/* The field table                                                           */

static void
emit_time (Emitter    *e,
           const char *key,
           gint64      unix_usec)
{
  char buf[32];

  e->klass->key (e, key);
  if (unix_usec == 0)
    {
      e->klass->null (e);
      return;
    }
  jupiter_format_iso8601 (unix_usec, buf);
  e->klass->string (e, buf);
}

static void
emit_string_member (Emitter    *e,
                    const char *key,
                    const char *value)
{
  e->klass->key (e, key);
  if (value)
    e->klass->string (e, value);
  else
    e->klass->null (e);
}

void
jupiter_job_emit (JupiterJob *job,
                  gboolean    include_result,
                  Emitter    *e)
{
  const EmitterClass *k = e->klass;

  k->begin_object (e);
  emit_string_member (e, "id", job->id);
  emit_string_member (e, "name", job->name);
  emit_string_member (e, "status", jupiter_job_status_to_string ((JupiterJobStatus) job->status));
  emit_string_member (e, "plugin_id", job->plugin_id);
  emit_string_member (e, "entry", job->entry_name);
  k->key (e, "progress");
  k->number (e, job->progress);
  emit_string_member (e, "message", job->message);

  if (include_result)
    {
      k->key (e, "result");
      if (job->result)
        k->node (e, job->result);
      else
        k->null (e);
    }

  k->key (e, "error");
  if (job->error)
    {
      k->begin_object (e);
      emit_string_member (e, "domain", g_quark_to_string (job->error->domain));
      k->key (e, "code");
      k->integer (e, job->error->code);
      emit_string_member (e, "message", job->error->message);
      k->end_object (e);
    }
  else
    k->null (e);

  k->key (e, "metadata");
  if (job->metadata)
    k->node (e, job->metadata);
  else
    k->null (e);

  emit_time (e, "created_at", job->created_at);
  emit_time (e, "started_at", job->started_at);
  emit_time (e, "completed_at", job->completed_at);

  k->key (e, "duration_ms");
  if (jupiter_job_status_is_finished ((JupiterJobStatus) job->status) && job->started_at != 0)
    k->number (e, (double) job->duration / 1000.0);
  else
    k->null (e);
  k->end_object (e);
}

/* ------------------------------------------------------------------------ */
/* Emitter 1: a JsonNode tree                                                */

typedef struct {
  Emitter     parent;
  GPtrArray  *stack;     /* of JsonObject */
  char       *key;
  JsonNode   *root;
} TreeEmitter;

static void
tree_add (TreeEmitter *t,
          JsonNode    *node)
{
  if (t->stack->len == 0)
    t->root = node;
  else
    {
      json_object_set_member (g_ptr_array_index (t->stack, t->stack->len - 1), t->key, node);
      g_clear_pointer (&t->key, g_free);
    }
}

static void
tree_begin_object (Emitter *e)
{
  TreeEmitter *t = (TreeEmitter *) e;
  JsonObject *obj = json_object_new ();

  tree_add (t, json_node_init_object (json_node_alloc (), obj));
  g_ptr_array_add (t->stack, obj);   /* the node holds it; the stack borrows */
  json_object_unref (obj);
}

static void
tree_end_object (Emitter *e)
{
  TreeEmitter *t = (TreeEmitter *) e;
  g_ptr_array_set_size (t->stack, t->stack->len - 1);
}

static void
tree_key (Emitter    *e,
          const char *key)
{
  TreeEmitter *t = (TreeEmitter *) e;

  g_free (t->key);
  t->key = g_strdup (key);
}

static void
tree_string (Emitter    *e,
             const char *s)
{
  tree_add ((TreeEmitter *) e, json_node_init_string (json_node_alloc (), s));
}

static void
tree_integer (Emitter *e,
              gint64   v)
{
  tree_add ((TreeEmitter *) e, json_node_init_int (json_node_alloc (), v));
}

static void
tree_number (Emitter *e,
             double   v)
{
  tree_add ((TreeEmitter *) e, json_node_init_double (json_node_alloc (), v));
}

static void
tree_null (Emitter *e)
{
  tree_add ((TreeEmitter *) e, json_node_init_null (json_node_alloc ()));
}

static void
tree_node (Emitter  *e,
           JsonNode *node)
{
  /* A deep copy built by reading alone: a kept tree is shared between
   * threads only through its root node (see jupiter_json_deep_copy()). */
  tree_add ((TreeEmitter *) e, jupiter_json_deep_copy_finite (node));
}

static const EmitterClass tree_class = {
  tree_begin_object, tree_end_object, tree_key, tree_string,
  tree_integer, tree_number, tree_null, tree_node,
};

/**
 * jupiter_job_to_json:
 * @job: a #JupiterJob
 * @include_result: whether to include the `result` member
 *
 * The job as a JSON object: the one field table used by every export.
 *
 * | member | value |
 * | --- | --- |
 * | `id` | UUID string |
 * | `name` | string |
 * | `status` | jupiter_job_status_to_string() |
 * | `plugin_id`, `entry` | string or null |
 * | `progress` | number, 0 to 1 |
 * | `message` | string or null |
 * | `result` | any JSON value or null (only with @include_result) |
 * | `error` | null or `{ "domain", "code", "message" }` |
 * | `metadata` | object or null |
 * | `created_at`, `started_at`, `completed_at` | ISO-8601 UTC with microseconds, or null |
 * | `duration_ms` | number (monotonic), or null before the job finished |
 *
 * The returned tree is a new, independent copy; safe from any thread. NaN
 * and infinities, which JSON cannot hold, are null, as in export files.
 *
 * Returns: (transfer full): a new JSON object node
 */
JsonNode *
jupiter_job_to_json (JupiterJob *job,
                     gboolean    include_result)
{
  TreeEmitter t = { { &tree_class }, NULL, NULL, NULL };

  g_return_val_if_fail (job != NULL, NULL);

  t.stack = g_ptr_array_new ();
  jupiter_job_emit (job, include_result, &t.parent);
  g_ptr_array_free (t.stack, TRUE);
  g_free (t.key);
  return t.root;
}

/* ------------------------------------------------------------------------ */
/* Output buffer over a file descriptor                                      */

#define OUT_CHUNK (256 * 1024)

void
out_init (Out *out,
          int  fd)
{
  out->fd = fd;
  out->buf = g_malloc (OUT_CHUNK);
  out->len = 0;
  out->errsv = 0;
  out->written = 0;
}

gboolean
out_flush (Out *out)
{
  gsize off = 0;

  while (off < out->len && out->errsv == 0)
    {
      gssize n = write (out->fd, out->buf + off, out->len - off);

      if (n < 0)
        {
          if (errno != EINTR)
            out->errsv = errno;
          continue;
        }
      off += (gsize) n;
    }
  out->written += off;
  out->len = 0;
  return out->errsv == 0;
}

void
out_clear (Out *out)
{
  g_clear_pointer (&out->buf, g_free);
}

static inline void
out_bytes (Out        *out,
           const char *s,
           gsize       n)
{
  if (G_UNLIKELY (out->len + n > OUT_CHUNK))
    {
      out_flush (out);
      if (n > OUT_CHUNK)
        {
          /* Larger than the buffer: write it through. */
          char *saved = out->buf;

          out->buf = (char *) s;
          out->len = n;
          out_flush (out);
          out->buf = saved;
          return;
        }
    }
  memcpy (out->buf + out->len, s, n);
  out->len += n;
}

static inline void
out_str (Out        *out,
         const char *s)
{
  out_bytes (out, s, strlen (s));
}

static inline void
out_char (Out  *out,
          char  c)
{
  if (G_UNLIKELY (out->len + 1 > OUT_CHUNK))
    out_flush (out);
  out->buf[out->len++] = c;
}

static void
out_indent (Out  *out,
            guint n)
{
  static const char spaces[] = "                                                                ";

  while (n > 0)
    {
      guint k = MIN (n, sizeof spaces - 1);
      out_bytes (out, spaces, k);
      n -= k;
    }
}

static void
out_int (Out   *out,
         gint64 v)
{
  char buf[24];
  int n = g_snprintf (buf, sizeof buf, "%" G_GINT64_FORMAT, v);

  out_bytes (out, buf, (gsize) n);
}

static void
out_double (Out   *out,
            double v)
{
  char buf[JUPITER_DOUBLE_BUF];
  gsize n = jupiter_format_double (v, buf);

  out_bytes (out, buf, n);
}

static const char hexdigits[] = "0123456789abcdef";

/* JSON string: ", \ and C0 controls escaped; the rest is UTF-8 as is. */
static void
out_json_string (Out        *out,
                 const char *s)
{
  const guchar *p = (const guchar *) s;
  const guchar *run = p;

  out_char (out, '"');
  for (; *p; p++)
    {
      const char *esc = NULL;
      char ubuf[7];

      if (*p >= 0x20 && *p != '"' && *p != '\\')
        continue;
      out_bytes (out, (const char *) run, (gsize) (p - run));
      switch (*p)
        {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
          memcpy (ubuf, "\\u00", 4);
          ubuf[4] = hexdigits[*p >> 4];
          ubuf[5] = hexdigits[*p & 0xf];
          ubuf[6] = '\0';
          esc = ubuf;
          break;
        }
      out_str (out, esc);
      run = p + 1;
    }
  out_bytes (out, (const char *) run, (gsize) (p - run));
  out_char (out, '"');
}

/* YAML double-quoted scalar, readable by YAML 1.1 and 1.2 readers: besides
 * " and \, everything that is not printable in YAML or that a reader would
 * fold as a line break is escaped. */
static void
out_yaml_string (Out        *out,
                 const char *s)
{
  const char *p = s;
  const char *run = p;

  out_char (out, '"');
  while (*p)
    {
      guchar c = (guchar) *p;
      gunichar u;
      const char *next;
      const char *esc = NULL;
      char ubuf[8];

      if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
        {
          p++;
          continue;
        }
      if (c < 0x80)
        {
          u = c;
          next = p + 1;
        }
      else
        {
          u = g_utf8_get_char (p);
          next = g_utf8_next_char (p);
          if (!((u >= 0x80 && u < 0xa0) || u == 0x2028 || u == 0x2029 || u == 0xfffe || u == 0xffff))
            {
              p = next;
              continue;
            }
        }
      out_bytes (out, run, (gsize) (p - run));
      switch (u)
        {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
          g_snprintf (ubuf, sizeof ubuf, "\\u%04x", u);
          esc = ubuf;
          break;
        }
      out_str (out, esc);
      p = run = next;
    }
  out_bytes (out, run, (gsize) (p - run));
  out_char (out, '"');
}

/* ------------------------------------------------------------------------ */
/* Emitter 2: streaming JSON                                                 */

typedef struct {
  Emitter   parent;
  Out      *out;
  GArray   *first;      /* per open object: no member written yet */
} JsonEmitter;

static void json_value_node (Out *out, JsonNode *node);

static void
json_sep (JsonEmitter *j)
{
  gboolean *first;

  if (j->first->len == 0)
    return;
  first = &g_array_index (j->first, gboolean, j->first->len - 1);
  if (!*first)
    out_char (j->out, ',');
  *first = FALSE;
}

static void
json_begin_object (Emitter *e)
{
  JsonEmitter *j = (JsonEmitter *) e;
  gboolean t = TRUE;

  out_char (j->out, '{');
  g_array_append_val (j->first, t);
}

static void
json_end_object (Emitter *e)
{
  JsonEmitter *j = (JsonEmitter *) e;

  g_array_set_size (j->first, j->first->len - 1);
  out_char (j->out, '}');
}

static void
json_key (Emitter    *e,
          const char *key)
{
  JsonEmitter *j = (JsonEmitter *) e;

  json_sep (j);
  out_json_string (j->out, key);
  out_char (j->out, ':');
}

static void json_string (Emitter *e, const char *s) { out_json_string (((JsonEmitter *) e)->out, s); }
static void json_integer (Emitter *e, gint64 v) { out_int (((JsonEmitter *) e)->out, v); }
static void json_number (Emitter *e, double v) { out_double (((JsonEmitter *) e)->out, v); }
static void json_null (Emitter *e) { out_str (((JsonEmitter *) e)->out, "null"); }
static void json_node_value (Emitter *e, JsonNode *node) { json_value_node (((JsonEmitter *) e)->out, node); }

static const EmitterClass json_class = {
  json_begin_object, json_end_object, json_key, json_string,
  json_integer, json_number, json_null, json_node_value,
};

static void
json_scalar (Out      *out,
             JsonNode *node)
{
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_INT64:
      out_int (out, json_node_get_int (node));
      break;
    case G_TYPE_DOUBLE:
      out_double (out, json_node_get_double (node));
      break;
    case G_TYPE_BOOLEAN:
      out_str (out, json_node_get_boolean (node) ? "true" : "false");
      break;
    case G_TYPE_STRING:
      if (json_node_get_string (node))
        out_json_string (out, json_node_get_string (node));
      else
        out_str (out, "null");
      break;
    default:
      out_str (out, "null");
      break;
    }
}

static void
json_value_node (Out      *out,
                 JsonNode *node)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObjectIter iter;
        const char *name;
        JsonNode *member;
        gboolean first = TRUE;

        out_char (out, '{');
        json_object_iter_init_ordered (&iter, json_node_get_object (node));
        while (json_object_iter_next_ordered (&iter, &name, &member))
          {
            if (!first)
              out_char (out, ',');
            first = FALSE;
            out_json_string (out, name);
            out_char (out, ':');
            json_value_node (out, member);
          }
        out_char (out, '}');
        break;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        guint n = json_array_get_length (array);

        out_char (out, '[');
        for (guint i = 0; i < n; i++)
          {
            if (i)
              out_char (out, ',');
            json_value_node (out, json_array_get_element (array, i));
          }
        out_char (out, ']');
        break;
      }
    case JSON_NODE_VALUE:
      json_scalar (out, node);
      break;
    case JSON_NODE_NULL:
    default:
      out_str (out, "null");
      break;
    }
}

/* ------------------------------------------------------------------------ */
/* Emitter 3: streaming YAML (block style)                                   */

typedef struct {
  Emitter  parent;
  Out     *out;
  guint    indent;      /* of the current mapping's keys */
  gboolean inline_key;  /* the next key follows "- " on the same line */
  GArray  *indents;     /* saved indents of enclosing mappings */
} YamlEmitter;

static void yaml_value_node (Out *out, JsonNode *node, guint indent);

static gboolean
is_empty_container (JsonNode *node)
{
  if (JSON_NODE_HOLDS_OBJECT (node))
    return json_object_get_size (json_node_get_object (node)) == 0;
  if (JSON_NODE_HOLDS_ARRAY (node))
    return json_array_get_length (json_node_get_array (node)) == 0;
  return FALSE;
}

static void
yaml_scalar (Out      *out,
             JsonNode *node)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      out_str (out, "{}");
      break;
    case JSON_NODE_ARRAY:
      out_str (out, "[]");
      break;
    case JSON_NODE_VALUE:
      if (json_node_get_value_type (node) == G_TYPE_STRING && json_node_get_string (node))
        out_yaml_string (out, json_node_get_string (node));
      else
        json_scalar (out, node);   /* numbers, booleans: the same text */
      break;
    case JSON_NODE_NULL:
    default:
      out_str (out, "null");
      break;
    }
}

/* Writes the entries of a non-empty mapping or sequence whose first line
 * continues the current one when @inline_first (after "- "). */
static void
yaml_block (Out      *out,
            JsonNode *node,
            guint     indent,
            gboolean  inline_first)
{
  gboolean first = TRUE;

  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObjectIter iter;
      const char *name;
      JsonNode *member;

      json_object_iter_init_ordered (&iter, json_node_get_object (node));
      while (json_object_iter_next_ordered (&iter, &name, &member))
        {
          if (!(first && inline_first))
            out_indent (out, indent);
          first = FALSE;
          /* YAML limits implicit keys to 1024 characters (after escaping,
           * up to 6 per byte): longer ones are written as explicit keys. */
          if (strlen (name) > 160)
            {
              out_str (out, "? ");
              out_yaml_string (out, name);
              out_char (out, '\n');
              out_indent (out, indent);
            }
          else
            out_yaml_string (out, name);
          out_char (out, ':');
          yaml_value_node (out, member, indent);
        }
      return;
    }

  {
    JsonArray *array = json_node_get_array (node);
    guint n = json_array_get_length (array);

    for (guint i = 0; i < n; i++)
      {
        JsonNode *element = json_array_get_element (array, i);

        if (!(first && inline_first))
          out_indent (out, indent);
        first = FALSE;
        out_str (out, "- ");
        if (is_empty_container (element) || JSON_NODE_HOLDS_VALUE (element) ||
            JSON_NODE_HOLDS_NULL (element))
          {
            yaml_scalar (out, element);
            out_char (out, '\n');
          }
        else
          yaml_block (out, element, indent + 2, TRUE);
      }
  }
}

/* The value after "key:" */
static void
yaml_value_node (Out      *out,
                 JsonNode *node,
                 guint     indent)
{
  if (is_empty_container (node) || JSON_NODE_HOLDS_VALUE (node) || JSON_NODE_HOLDS_NULL (node))
    {
      out_char (out, ' ');
      yaml_scalar (out, node);
      out_char (out, '\n');
      return;
    }
  out_char (out, '\n');
  yaml_block (out, node, indent + 2, FALSE);
}

static void
yaml_begin_object (Emitter *e)
{
  YamlEmitter *y = (YamlEmitter *) e;

  /* The job mapping itself follows "- "; nested ones (error) a "key:". */
  g_array_append_val (y->indents, y->indent);
  if (y->indents->len > 1)
    {
      out_char (y->out, '\n');
      y->indent += 2;
    }
}

static void
yaml_end_object (Emitter *e)
{
  YamlEmitter *y = (YamlEmitter *) e;

  y->indent = g_array_index (y->indents, guint, y->indents->len - 1);
  g_array_set_size (y->indents, y->indents->len - 1);
}

static void
yaml_key (Emitter    *e,
          const char *key)
{
  YamlEmitter *y = (YamlEmitter *) e;

  if (y->inline_key)
    y->inline_key = FALSE;
  else
    out_indent (y->out, y->indent);
  out_str (y->out, key);      /* the field table's own keys are plain words */
  out_char (y->out, ':');
}

static void
yaml_string (Emitter    *e,
             const char *s)
{
  YamlEmitter *y = (YamlEmitter *) e;

  out_char (y->out, ' ');
  out_yaml_string (y->out, s);
  out_char (y->out, '\n');
}

static void
yaml_integer (Emitter *e,
              gint64   v)
{
  YamlEmitter *y = (YamlEmitter *) e;

  out_char (y->out, ' ');
  out_int (y->out, v);
  out_char (y->out, '\n');
}

static void
yaml_number (Emitter *e,
             double   v)
{
  YamlEmitter *y = (YamlEmitter *) e;

  out_char (y->out, ' ');
  out_double (y->out, v);
  out_char (y->out, '\n');
}

static void
yaml_null (Emitter *e)
{
  YamlEmitter *y = (YamlEmitter *) e;

  out_str (y->out, " null\n");
}

static void
yaml_node (Emitter  *e,
           JsonNode *node)
{
  YamlEmitter *y = (YamlEmitter *) e;

  yaml_value_node (y->out, node, y->indent);
}

static const EmitterClass yaml_class = {
  yaml_begin_object, yaml_end_object, yaml_key, yaml_string,
  yaml_integer, yaml_number, yaml_null, yaml_node,
};

/* ------------------------------------------------------------------------ */
/* Documents                                                                 */

static void
write_header (Out                 *out,
              JupiterExportFormat  format,
              guint                total,
              JupiterJobStatus     status,
              const char          *plugin_id,
              gboolean             include_results)
{
  char now[32];
  const char *status_name = status == JUPITER_JOB_STATUS_ANY ? NULL : jupiter_job_status_to_string (status);
  g_autofree char *valid_plugin_id = jupiter_utf8_make_valid (plugin_id);

  plugin_id = valid_plugin_id;

  jupiter_format_iso8601 (g_get_real_time (), now);
  if (format == JUPITER_EXPORT_FORMAT_JSON)
    {
      out_str (out, "{\n  \"exported_at\": ");
      out_json_string (out, now);
      out_str (out, ",\n  \"total_jobs\": ");
      out_int (out, total);
      out_str (out, ",\n  \"filters\": {\"status\": ");
      if (status_name)
        out_json_string (out, status_name);
      else
        out_str (out, "null");
      out_str (out, ", \"plugin_id\": ");
      if (plugin_id)
        out_json_string (out, plugin_id);
      else
        out_str (out, "null");
      out_str (out, ", \"include_results\": ");
      out_str (out, include_results ? "true" : "false");
      out_str (out, "},\n  \"jobs\": [");
      return;
    }

  out_str (out, "exported_at: ");
  out_yaml_string (out, now);
  out_str (out, "\ntotal_jobs: ");
  out_int (out, total);
  out_str (out, "\nfilters:\n  status: ");
  if (status_name)
    out_yaml_string (out, status_name);
  else
    out_str (out, "null");
  out_str (out, "\n  plugin_id: ");
  if (plugin_id)
    out_yaml_string (out, plugin_id);
  else
    out_str (out, "null");
  out_str (out, "\n  include_results: ");
  out_str (out, include_results ? "true" : "false");
  out_str (out, total > 0 ? "\njobs:\n" : "\njobs: []\n");
}

/* Writes the export document of @jobs to @out, job by job. */
void
jupiter_export_write_document (Out                 *out,
                               JupiterExportFormat  format,
                               GPtrArray           *jobs,
                               JupiterJobStatus     status,
                               const char          *plugin_id,
                               gboolean             include_results,
                               JupiterExportHook    hook)
{
  write_header (out, format, jobs->len, status, plugin_id, include_results);

  if (format == JUPITER_EXPORT_FORMAT_JSON)
    {
      JsonEmitter j = { { &json_class }, out, g_array_new (FALSE, FALSE, sizeof (gboolean)) };

      for (guint i = 0; i < jobs->len && out->errsv == 0; i++)
        {
          out_str (out, i ? ",\n    " : "\n    ");
          jupiter_job_emit (jobs->pdata[i], include_results, &j.parent);
          if (hook)
            hook (i);
        }
      out_str (out, jobs->len ? "\n  ]\n}\n" : "]\n}\n");
      g_array_free (j.first, TRUE);
      return;
    }

  {
    YamlEmitter y = { { &yaml_class }, out, 2, FALSE, g_array_new (FALSE, FALSE, sizeof (guint)) };

    for (guint i = 0; i < jobs->len && out->errsv == 0; i++)
      {
        out_str (out, "- ");
        y.indent = 2;
        y.inline_key = TRUE;
        jupiter_job_emit (jobs->pdata[i], include_results, &y.parent);
        if (hook)
          hook (i);
      }
    g_array_free (y.indents, TRUE);
  }
}

/* One job's object alone, as a document of its own. */
void
jupiter_export_write_single (Out                 *out,
                             JupiterExportFormat  format,
                             JupiterJob          *job)
{
  if (format == JUPITER_EXPORT_FORMAT_JSON)
    {
      JsonEmitter j = { { &json_class }, out, g_array_new (FALSE, FALSE, sizeof (gboolean)) };

      jupiter_job_emit (job, TRUE, &j.parent);
      out_char (out, '\n');
      g_array_free (j.first, TRUE);
    }
  else
    {
      YamlEmitter y = { { &yaml_class }, out, 0, FALSE, g_array_new (FALSE, FALSE, sizeof (guint)) };

      jupiter_job_emit (job, TRUE, &y.parent);
      g_array_free (y.indents, TRUE);
    }
}

/* ------------------------------------------------------------------------ */
/* Atomic files                                                              */

JupiterExportFormat
jupiter_export_format_for_path (const char          *path,
                                JupiterExportFormat  format,
                                GError             **error)
{
  if (format != JUPITER_EXPORT_FORMAT_AUTO)
    return format;
  if (g_str_has_suffix (path, ".json"))
    return JUPITER_EXPORT_FORMAT_JSON;
  if (g_str_has_suffix (path, ".yaml") || g_str_has_suffix (path, ".yml"))
    return JUPITER_EXPORT_FORMAT_YAML;
  g_set_error (error, JUPITER_EXPORT_ERROR, JUPITER_EXPORT_ERROR_FORMAT,
               "Cannot tell the export format of “%s”: use a .json, .yaml or .yml "
               "file name, or name the format", path);
  return JUPITER_EXPORT_FORMAT_AUTO;
}

static gboolean
set_write_error (GError    **error,
                 const char *path,
                 const char *what,
                 int         errsv)
{
  g_set_error (error, JUPITER_EXPORT_ERROR, JUPITER_EXPORT_ERROR_WRITE,
               "Could not export to “%s”: %s: %s", path, what, g_strerror (errsv));
  return FALSE;
}

/* Writes @path atomically: a temporary file in the same directory, synced,
 * then renamed over @path (a symbolic link there is replaced, never
 * followed), and the directory synced. The file gets the mode of the file
 * it replaces, or 0644. On any failure the previous file is left whole. */
gboolean
jupiter_export_write_file (const char        *path,
                           JupiterExportBody  body,
                           gpointer           data,
                           GError           **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *tmp = NULL;
  struct stat st;
  mode_t mode = 0644;
  Out out;
  int fd, dirfd;
  gboolean ok;

  if (g_mkdir_with_parents (dir, 0755) != 0)
    return set_write_error (error, path, "cannot create its directory", errno);

  if (lstat (path, &st) == 0)
    {
      if (S_ISDIR (st.st_mode))
        {
          g_set_error (error, JUPITER_EXPORT_ERROR, JUPITER_EXPORT_ERROR_NOT_REGULAR,
                       "Could not export to “%s”: it is a directory", path);
          return FALSE;
        }
      if (S_ISREG (st.st_mode))
        mode = st.st_mode & 07777;
      else if (!S_ISLNK (st.st_mode))
        {
          g_set_error (error, JUPITER_EXPORT_ERROR, JUPITER_EXPORT_ERROR_NOT_REGULAR,
                       "Could not export to “%s”: it is not a regular file", path);
          return FALSE;
        }
    }

  /* Short enough for any name the target itself may have. */
  tmp = g_strdup_printf ("%s/.%.200s.XXXXXX", dir, base);
  fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    return set_write_error (error, path, "cannot create a temporary file", errno);

  out_init (&out, fd);
  body (&out, data);
  ok = out_flush (&out);
  out_clear (&out);
  if (!ok)
    {
      int errsv = out.errsv;
      close (fd);
      g_unlink (tmp);
      return set_write_error (error, path, "cannot write", errsv);
    }
  if (fchmod (fd, mode) != 0 || fsync (fd) != 0)
    {
      int errsv = errno;
      close (fd);
      g_unlink (tmp);
      return set_write_error (error, path, "cannot sync", errsv);
    }
  if (close (fd) != 0)
    {
      int errsv = errno;
      g_unlink (tmp);
      return set_write_error (error, path, "cannot close", errsv);
    }
  if (rename (tmp, path) != 0)
    {
      int errsv = errno;
      g_unlink (tmp);
      return set_write_error (error, path, "cannot move the new file into place", errsv);
    }

  /* The rename itself is durable once the directory is synced. */
  dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd >= 0)
    {
      fsync (dirfd);
      close (dirfd);
    }
  return TRUE;
}
