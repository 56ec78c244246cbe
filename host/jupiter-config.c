/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "jupiter-config-private.h"

#include <glib/gstdio.h>
#include <yaml.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * The host configuration reader.
 *
 * A file becomes a tree of Nodes that carry their source position (1-based
 * line, and column in characters), and one schema walk checks that tree and
 * fills a JupiterConfig. Every error names FILE:LINE:COLUMN and the key path.
 *
 * YAML: libyaml's event parser drives a Builder. libyaml's marks are 0-based
 * and count characters, not bytes (checked: on `名前: x` the value is at
 * column 4, index 4), so they only need +1. Plain scalars are typed by the
 * YAML 1.2 core schema (`yes` is a string), whatever libyaml's 1.1 heritage.
 *
 * JSON: json-glib's nodes carry no positions, so a small strict (RFC 8259)
 * JSON scanner of our own drives the same Builder, and json-glib judges the
 * syntax of what that scanner accepts (json_glib_judge()). Our scanner
 * reads first: its first error is reported whatever json-glib would say,
 * as it names the offending token where json-glib does not (json-glib
 * points just past the token before a problem, and names `]` for a
 * trailing comma in an object), and json-glib then only ever sees strict
 * JSON nested no deeper than MAX_DEPTH. Reading JSON as flow YAML through
 * libyaml was tried and rejected; libyaml 0.2.5 refuses surrogate pairs in
 * \u escapes ("found invalid Unicode character escape code"), and fails on
 * a key separated from its `:` by a line break or longer than 1024
 * characters (both valid JSON); and it would type scalars by YAML rules.
 * json-glib 1.6 accepts more than JSON (single quotes, C comments, hex and
 * octal numbers, `1.`, raw control characters in strings); our scanner
 * reports those as SYNTAX errors of its own.
 *
 * Both formats: aliases share the anchored subtree; every node knows its
 * size after alias expansion and the collection depth below it, so the
 * limits are checked arithmetically as each node or alias is added. A
 * billion-laughs document is refused at the first alias that takes the
 * count past MAX_NODES, having built only the nodes actually written.
 */

G_DEFINE_QUARK (jupiter-config-error-quark, jupiter_config_error)

/* Limits. */
#define MAX_INPUT_SIZE  (4 * 1024 * 1024)  /* bytes */
#define MAX_DEPTH       64                 /* nested mappings and lists */
#define MAX_NODES       100000             /* nodes, aliases expanded */
#define MAX_QUOTED      40                 /* characters of a value in a message */
#define MAX_QUOTED_PATH 1024               /* characters of a file path in a message */
#define MAX_JSON_GLIB_MESSAGE 160          /* characters of json-glib's message */
#define MAX_HOST_CONCURRENT 4096

#define DURATION_EXAMPLE "a duration such as 250ms, 30s or 5m"
#define ROOT_EXPECTED    "a mapping with host, circuit_breaker, plugins or jobs"

#define YAML_TAG_PREFIX "tag:yaml.org,2002:"

/* ------------------------------------------------------------------------ */
/* Nodes                                                                     */

typedef enum {
  NODE_NULL,
  NODE_BOOL,
  NODE_INT,
  NODE_FLOAT,
  NODE_STRING,
  NODE_MAPPING,
  NODE_SEQUENCE,
  NODE_ALIAS,
} NodeKind;

typedef struct _Node Node;

struct _Node
{
  guint      ref_count;
  NodeKind   kind;
  guint      line;      /* 1-based */
  guint      column;    /* 1-based, in characters */
  guint      depth;     /* collections nested here, itself included; 0: a scalar */
  gsize      size;      /* nodes after alias expansion, itself and keys included */
  char      *text;      /* scalars: the string, or the source text of the others */
  gsize      text_len;
  union {
    gboolean b;
    gint64   i;
    double   d;
  } v;
  GPtrArray *items;     /* sequences: the items; mappings: key, value, key, value, ... */
  Node      *target;    /* aliases: the anchored node (never an alias) */
};

static void node_unref (gpointer data);

static Node *
node_new (NodeKind kind,
          guint    line,
          guint    column)
{
  Node *node = g_new0 (Node, 1);

  node->ref_count = 1;
  node->kind = kind;
  node->line = line;
  node->column = column;
  node->size = 1;
  if (kind == NODE_MAPPING || kind == NODE_SEQUENCE)
    {
      node->depth = 1;
      node->items = g_ptr_array_new_with_free_func (node_unref);
    }
  return node;
}

static Node *
node_ref (Node *node)
{
  node->ref_count++;
  return node;
}

static void
node_unref (gpointer data)
{
  Node *node = data;

  if (node == NULL || --node->ref_count > 0)
    return;
  g_free (node->text);
  g_clear_pointer (&node->items, g_ptr_array_unref);
  g_clear_pointer (&node->target, node_unref);
  g_free (node);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Node, node_unref)

static inline Node *
node_resolve (Node *node)
{
  return node->kind == NODE_ALIAS ? node->target : node;
}

/* ------------------------------------------------------------------------ */
/* Messages                                                                  */

/* @text (valid UTF-8) with control characters escaped, cut after @max
 * characters; in curly quotes if @marks. */
static char *
escape_text (const char *text,
             gsize       max,
             gboolean    marks)
{
  GString *s = g_string_new (marks ? "“" : "");
  gsize n = 0;

  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p), n++)
    {
      gunichar c = g_utf8_get_char (p);

      if (n == max)
        {
          g_string_append (s, "…");
          break;
        }
      if (c == '\n')
        g_string_append (s, "\\n");
      else if (c == '\t')
        g_string_append (s, "\\t");
      else if (c == '\r')
        g_string_append (s, "\\r");
      else if (c < 0x20 || (c >= 0x7f && c < 0xa0) || c == 0x2028 || c == 0x2029)
        g_string_append_printf (s, "\\u%04X", c);
      else
        g_string_append_len (s, p, g_utf8_next_char (p) - p);
    }
  if (marks)
    g_string_append (s, "”");
  return g_string_free (s, FALSE);
}

static char *
quote (const char *text,
       gsize       max)
{
  return escape_text (text, max, TRUE);
}

/* What a value is, for "got ..." */
static char *
describe (Node *node)
{
  node = node_resolve (node);
  switch (node->kind)
    {
    case NODE_NULL:
      return g_strdup ("null");
    case NODE_BOOL:
      return g_strdup_printf ("the boolean %s", node->v.b ? "true" : "false");
    case NODE_INT:
    case NODE_FLOAT:
      {
        g_autofree char *text = escape_text (node->text, MAX_QUOTED, FALSE);
        return g_strdup_printf ("the number %s", text);
      }
    case NODE_STRING:
      {
        g_autofree char *q = quote (node->text, MAX_QUOTED);
        return g_strdup_printf ("the string %s", q);
      }
    case NODE_MAPPING:
      return g_strdup ("a mapping");
    case NODE_SEQUENCE:
      return g_strdup ("a list");
    case NODE_ALIAS:
    default:
      g_assert_not_reached ();
    }
}

/* A key as a segment of a key path: as is when it is a plain word, else
 * as ["..."]; a colon is quoted, so that "FILE:LINE:COLUMN: key.path: "
 * ends at the first ": " after the column. */
static gboolean
key_is_plain (const char *key)
{
  gsize n = 0;

  if (*key == '\0')
    return FALSE;
  for (const char *p = key; *p != '\0'; p = g_utf8_next_char (p), n++)
    {
      gunichar c = g_utf8_get_char (p);

      if (n == MAX_QUOTED || c <= 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) ||
          (c < 0x80 && strchr (".:[]\"", (int) c) != NULL) || g_unichar_isspace (c) ||
          c == 0x201c || c == 0x201d)
        return FALSE;
    }
  return TRUE;
}

/* Key paths: NULL is the root, "(root)" in messages. */
static char *
path_member (const char *parent,
             const char *key)
{
  g_autofree char *segment = NULL;

  if (key_is_plain (key))
    segment = g_strdup (key);
  else
    {
      g_autofree char *q = quote (key, MAX_QUOTED);
      segment = g_strdup_printf ("[%s]", q);
    }
  if (parent == NULL)
    return g_steal_pointer (&segment);
  if (key_is_plain (key))
    return g_strconcat (parent, ".", segment, NULL);
  return g_strconcat (parent, segment, NULL);
}

static char *
path_index (const char *parent,
            guint       index)
{
  return g_strdup_printf ("%s[%u]", parent != NULL ? parent : "", index);
}

static gboolean fail_at (GError    **error,
                         const char *file,
                         int         code,
                         guint       line,
                         guint       column,
                         const char *path,
                         const char *format,
                         ...) G_GNUC_PRINTF (7, 8);

static gboolean
fail_at (GError    **error,
         const char *file,
         int         code,
         guint       line,
         guint       column,
         const char *path,
         const char *format,
         ...)
{
  g_autofree char *what = NULL;
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, JUPITER_CONFIG_ERROR, code, "%s:%u:%u: %s: %s",
               file, line, column, path != NULL ? path : "(root)", what);
  return FALSE;
}

/* The 1-based line and character column of byte @offset. @yaml_breaks:
 * count line breaks as libyaml does (CR, LF, CRLF, NEL, LS, PS), else as
 * json-glib does (LF). The text before @offset is valid UTF-8. */
static void
offset_to_position (const char *data,
                    gsize       offset,
                    gboolean    yaml_breaks,
                    guint      *line,
                    guint      *column)
{
  const guchar *p = (const guchar *) data;
  guint l = 1, c = 1;

  for (gsize i = 0; i < offset; i++)
    {
      if (p[i] == '\n')
        l++, c = 1;
      else if (yaml_breaks && p[i] == '\r')
        {
          if (i + 1 < offset && p[i + 1] == '\n')
            i++;
          l++, c = 1;
        }
      else if (yaml_breaks && i + 1 < offset && p[i] == 0xc2 && p[i + 1] == 0x85)
        i++, l++, c = 1;
      else if (yaml_breaks && i + 2 < offset && p[i] == 0xe2 && p[i + 1] == 0x80 &&
               (p[i + 2] == 0xa8 || p[i + 2] == 0xa9))
        i += 2, l++, c = 1;
      else if ((p[i] & 0xc0) != 0x80)
        c++;
    }
  *line = l;
  *column = c;
}

/* ------------------------------------------------------------------------ */
/* Builder: YAML events and JSON tokens become Nodes                        */

typedef struct {
  Node       *node;     /* the open mapping or sequence */
  char       *path;     /* its key path */
  char       *anchor;   /* registered once the node is complete */
  Node       *key;      /* mappings: the key whose value comes next */
  GHashTable *keys;     /* mappings with many keys: text -> key Node (borrowed) */
} Frame;

typedef struct {
  const char *file;
  GArray     *frames;   /* of Frame */
  GHashTable *anchors;  /* name -> Node */
  Node       *root;
  gsize       total;    /* nodes so far, aliases expanded */
} Builder;

#define KEYS_HASHED_AFTER 8

static void
frame_clear (gpointer data)
{
  Frame *frame = data;

  g_clear_pointer (&frame->node, node_unref);
  g_clear_pointer (&frame->path, g_free);
  g_clear_pointer (&frame->anchor, g_free);
  g_clear_pointer (&frame->key, node_unref);
  g_clear_pointer (&frame->keys, g_hash_table_unref);
}

static void
builder_init (Builder    *b,
              const char *file)
{
  b->file = file;
  b->frames = g_array_new (FALSE, TRUE, sizeof (Frame));
  g_array_set_clear_func (b->frames, frame_clear);
  b->anchors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, node_unref);
  b->root = NULL;
  b->total = 0;
}

static void
builder_clear (Builder *b)
{
  g_clear_pointer (&b->frames, g_array_unref);
  g_clear_pointer (&b->anchors, g_hash_table_unref);
  g_clear_pointer (&b->root, node_unref);
}

static Frame *
builder_top (Builder *b)
{
  if (b->frames->len == 0)
    return NULL;
  return &g_array_index (b->frames, Frame, b->frames->len - 1);
}

/* The key path of the node that comes next: for a mapping waiting for a
 * key, the mapping's own. */
static char *
builder_path (Builder *b)
{
  Frame *top = builder_top (b);

  if (top == NULL)
    return NULL;
  if (top->node->kind == NODE_SEQUENCE)
    return path_index (top->path, top->node->items->len);
  if (top->key != NULL)
    return path_member (top->path, node_resolve (top->key)->text);
  return g_strdup (top->path);
}

static gboolean builder_fail (Builder    *b,
                              GError    **error,
                              int         code,
                              guint       line,
                              guint       column,
                              const char *format,
                              ...) G_GNUC_PRINTF (6, 7);

static gboolean
builder_fail (Builder    *b,
              GError    **error,
              int         code,
              guint       line,
              guint       column,
              const char *format,
              ...)
{
  g_autofree char *path = builder_path (b);
  g_autofree char *what = NULL;
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  return fail_at (error, b->file, code, line, column, path, "%s", what);
}

static Node *
frame_find_key (Frame      *frame,
                const char *text)
{
  GPtrArray *items = frame->node->items;

  if (frame->keys != NULL)
    return g_hash_table_lookup (frame->keys, text);
  for (guint i = 0; i < items->len; i += 2)
    if (g_str_equal (node_resolve (items->pdata[i])->text, text))
      return items->pdata[i];
  return NULL;
}

static void
frame_add_key (Frame *frame,
               Node  *key)
{
  GPtrArray *items = frame->node->items;

  if (frame->keys == NULL && items->len / 2 >= KEYS_HASHED_AFTER)
    {
      frame->keys = g_hash_table_new (g_str_hash, g_str_equal);
      for (guint i = 0; i < items->len; i += 2)
        g_hash_table_insert (frame->keys, node_resolve (items->pdata[i])->text, items->pdata[i]);
    }
  if (frame->keys != NULL)
    g_hash_table_insert (frame->keys, node_resolve (key)->text, key);
}

/* Hangs a complete node (owned) on the open collection, as a key or a
 * value, or makes it the root. */
static gboolean
builder_attach (Builder *b,
                Node    *node,
                GError **error)
{
  g_autoptr(Node) owned = node;
  Frame *top = builder_top (b);
  Node *parent;

  if (top == NULL)
    {
      g_clear_pointer (&b->root, node_unref);
      b->root = g_steal_pointer (&owned);
      return TRUE;
    }

  parent = top->node;
  if (parent->kind == NODE_MAPPING && top->key == NULL)
    {
      Node *key = node_resolve (node);
      Node *first;

      if (key->kind == NODE_MAPPING || key->kind == NODE_SEQUENCE)
        {
          g_autofree char *what = describe (key);
          return builder_fail (b, error, JUPITER_CONFIG_ERROR_TYPE, node->line, node->column,
                               "a mapping key must be a scalar, got %s", what);
        }
      first = frame_find_key (top, key->text);
      if (first != NULL)
        {
          g_autofree char *path = path_member (top->path, key->text);
          g_autofree char *q = quote (key->text, MAX_QUOTED);

          return fail_at (error, b->file, JUPITER_CONFIG_ERROR_DUPLICATE_KEY,
                          node->line, node->column, path,
                          "duplicate key %s (first at %u:%u)", q, first->line, first->column);
        }
      top->key = g_steal_pointer (&owned);
      parent->size += node->size;
      return TRUE;
    }

  if (parent->kind == NODE_MAPPING)
    {
      frame_add_key (top, top->key);
      g_ptr_array_add (parent->items, g_steal_pointer (&top->key));
    }
  parent->size += node->size;
  parent->depth = MAX (parent->depth, node->depth + 1);
  g_ptr_array_add (parent->items, g_steal_pointer (&owned));
  return TRUE;
}

static gboolean
builder_count (Builder *b,
               gsize    nodes,
               guint    line,
               guint    column,
               GError **error)
{
  b->total += nodes;
  if (b->total > MAX_NODES)
    return builder_fail (b, error, JUPITER_CONFIG_ERROR_TOO_COMPLEX, line, column,
                         "the document holds more than %u nodes (aliases expanded)", MAX_NODES);
  return TRUE;
}

static gboolean
builder_begin (Builder    *b,
               NodeKind    kind,
               guint       line,
               guint       column,
               const char *anchor,
               GError    **error)
{
  Frame *top = builder_top (b);
  Frame frame = { 0, };

  if (top != NULL && top->node->kind == NODE_MAPPING && top->key == NULL)
    return builder_fail (b, error, JUPITER_CONFIG_ERROR_TYPE, line, column,
                         "a mapping key must be a scalar, got %s",
                         kind == NODE_MAPPING ? "a mapping" : "a list");
  if (b->frames->len >= MAX_DEPTH)
    return builder_fail (b, error, JUPITER_CONFIG_ERROR_TOO_COMPLEX, line, column,
                         "mappings and lists nest more than %u levels deep", MAX_DEPTH);
  if (!builder_count (b, 1, line, column, error))
    return FALSE;

  frame.node = node_new (kind, line, column);
  frame.path = builder_path (b);
  frame.anchor = g_strdup (anchor);
  g_array_append_val (b->frames, frame);
  return TRUE;
}

static gboolean
builder_end (Builder *b,
             GError **error)
{
  Frame *top = builder_top (b);
  Node *node;

  g_return_val_if_fail (top != NULL, FALSE);

  node = g_steal_pointer (&top->node);
  if (top->anchor != NULL)
    g_hash_table_replace (b->anchors, g_steal_pointer (&top->anchor), node_ref (node));
  g_array_set_size (b->frames, b->frames->len - 1);
  return builder_attach (b, node, error);
}

/* Takes @node, a new scalar. */
static gboolean
builder_scalar (Builder    *b,
                Node       *node,
                const char *anchor,
                GError    **error)
{
  g_autoptr(Node) owned = node;

  if (!builder_count (b, 1, node->line, node->column, error))
    return FALSE;
  if (node->kind == NODE_STRING && strlen (node->text) != node->text_len)
    return builder_fail (b, error, JUPITER_CONFIG_ERROR_VALUE, node->line, node->column,
                         "a string cannot hold a NUL character");
  if (anchor != NULL)
    g_hash_table_replace (b->anchors, g_strdup (anchor), node_ref (node));
  return builder_attach (b, g_steal_pointer (&owned), error);
}

static gboolean
builder_alias (Builder    *b,
               const char *name,
               guint       line,
               guint       column,
               GError    **error)
{
  g_autofree char *q = NULL;
  Node *target;
  Node *alias;

  for (guint i = 0; i < b->frames->len; i++)
    if (g_strcmp0 (g_array_index (b->frames, Frame, i).anchor, name) == 0)
      {
        q = escape_text (name, MAX_QUOTED, FALSE);
        return builder_fail (b, error, JUPITER_CONFIG_ERROR_TOO_COMPLEX, line, column,
                             "the alias *%s is inside the node it refers to; "
                             "recursive aliases are not allowed", q);
      }

  target = g_hash_table_lookup (b->anchors, name);
  if (target == NULL)
    {
      q = quote (name, MAX_QUOTED);
      return builder_fail (b, error, JUPITER_CONFIG_ERROR_SYNTAX, line, column,
                           "unknown anchor %s; an alias must come after its anchor (&name)", q);
    }
  if (b->frames->len + target->depth > MAX_DEPTH)
    return builder_fail (b, error, JUPITER_CONFIG_ERROR_TOO_COMPLEX, line, column,
                         "through this alias, mappings and lists nest more than %u levels deep",
                         MAX_DEPTH);
  if (!builder_count (b, target->size, line, column, error))
    return FALSE;

  alias = node_new (NODE_ALIAS, line, column);
  alias->target = node_ref (target);
  alias->size = target->size;
  alias->depth = target->depth;
  return builder_attach (b, alias, error);
}

/* ------------------------------------------------------------------------ */
/* Scalars: the YAML 1.2 core schema                                        */

static gboolean
all_digits (const char *s,
            gsize       len,
            const char *digits)
{
  if (len == 0)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (strchr (digits, s[i]) == NULL || s[i] == '\0')
      return FALSE;
  return TRUE;
}

/* Accumulates digits of @base into a magnitude; FALSE on overflow. */
static gboolean
parse_magnitude (const char *s,
                 gsize       len,
                 guint       base,
                 guint64     limit,
                 guint64    *out)
{
  guint64 value = 0;

  for (gsize i = 0; i < len; i++)
    {
      guint digit = g_ascii_xdigit_value (s[i]);

      if (value > (limit - digit) / base)
        return FALSE;
      value = value * base + digit;
    }
  *out = value;
  return TRUE;
}

static gboolean
match_float (const char *s,
             gsize       len)
{
  gsize i = 0, n;

  if (i < len && (s[i] == '+' || s[i] == '-'))
    i++;
  if (i < len && s[i] == '.')
    {
      i++;
      for (n = 0; i < len && g_ascii_isdigit (s[i]); i++, n++)
        ;
      if (n == 0)
        return FALSE;
    }
  else
    {
      for (n = 0; i < len && g_ascii_isdigit (s[i]); i++, n++)
        ;
      if (n == 0)
        return FALSE;
      if (i < len && s[i] == '.')
        for (i++; i < len && g_ascii_isdigit (s[i]); i++)
          ;
    }
  if (i < len && (s[i] == 'e' || s[i] == 'E'))
    {
      i++;
      if (i < len && (s[i] == '+' || s[i] == '-'))
        i++;
      for (n = 0; i < len && g_ascii_isdigit (s[i]); i++, n++)
        ;
      if (n == 0)
        return FALSE;
    }
  return i == len;
}

static gboolean
text_is_one_of (const char        *s,
                const char *const *words)
{
  return g_strv_contains (words, s);
}

typedef enum {
  RESOLVED,
  RESOLVED_OVERFLOW,  /* an integer that does not fit gint64 */
} Resolution;

/* Types the text of a plain scalar (no NULs) and fills node->kind and v. */
static Resolution
resolve_plain (Node *node)
{
  static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
  static const char *const trues[] = { "true", "True", "TRUE", NULL };
  static const char *const falses[] = { "false", "False", "FALSE", NULL };
  static const char *const infs[] = { ".inf", ".Inf", ".INF", NULL };
  static const char *const nans[] = { ".nan", ".NaN", ".NAN", NULL };
  const char *s = node->text;
  gsize len = node->text_len;

  if (text_is_one_of (s, nulls))
    node->kind = NODE_NULL;
  else if (text_is_one_of (s, trues) || text_is_one_of (s, falses))
    {
      node->kind = NODE_BOOL;
      node->v.b = text_is_one_of (s, trues);
    }
  else if (len > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x') &&
           all_digits (s + 2, len - 2, s[1] == 'o' ? "01234567" : "0123456789abcdefABCDEF"))
    {
      guint64 value;

      node->kind = NODE_INT;
      if (!parse_magnitude (s + 2, len - 2, s[1] == 'o' ? 8 : 16, G_MAXINT64, &value))
        return RESOLVED_OVERFLOW;
      node->v.i = (gint64) value;
    }
  else if (all_digits (s + (s[0] == '-' || s[0] == '+'), len - (s[0] == '-' || s[0] == '+'),
                       "0123456789"))
    {
      gboolean negative = s[0] == '-';
      gsize sign = s[0] == '-' || s[0] == '+';
      guint64 value;

      node->kind = NODE_INT;
      if (!parse_magnitude (s + sign, len - sign, 10,
                            negative ? (guint64) G_MAXINT64 + 1 : G_MAXINT64, &value))
        return RESOLVED_OVERFLOW;
      node->v.i = negative ? (gint64) (0 - value) : (gint64) value;
    }
  else if (match_float (s, len))
    {
      node->kind = NODE_FLOAT;
      node->v.d = g_ascii_strtod (s, NULL);
    }
  else if (text_is_one_of (s + (s[0] == '-' || s[0] == '+'), infs))
    {
      node->kind = NODE_FLOAT;
      node->v.d = s[0] == '-' ? -INFINITY : INFINITY;
    }
  else if (text_is_one_of (s, nans))
    {
      node->kind = NODE_FLOAT;
      node->v.d = NAN;
    }
  else
    node->kind = NODE_STRING;
  return RESOLVED;
}

/* "!!int" for the core schema's tags, else the tag as written */
static char *
tag_display (const char *tag)
{
  if (g_str_has_prefix (tag, YAML_TAG_PREFIX))
    return g_strconcat ("!!", tag + strlen (YAML_TAG_PREFIX), NULL);
  return g_strdup (tag);
}

static gboolean
unsupported_tag (Builder    *b,
                 const char *tag,
                 guint       line,
                 guint       column,
                 GError    **error)
{
  g_autofree char *shown = tag_display (tag);
  g_autofree char *q = quote (shown, MAX_QUOTED);

  return builder_fail (b, error, JUPITER_CONFIG_ERROR_TYPE, line, column,
                       "unsupported tag %s; expected one of the core schema's: "
                       "!!str, !!int, !!float, !!bool, !!null, !!map, !!seq", q);
}

/* ------------------------------------------------------------------------ */
/* YAML                                                                      */

static gboolean
yaml_scalar (Builder            *b,
             const yaml_event_t *event,
             GError            **error)
{
  const char *tag = (const char *) event->data.scalar.tag;
  guint line = event->start_mark.line + 1;
  guint column = event->start_mark.column + 1;
  g_autoptr(Node) node = node_new (NODE_STRING, line, column);
  Resolution resolution = RESOLVED;

  node->text = g_strndup ((const char *) event->data.scalar.value, event->data.scalar.length);
  node->text_len = event->data.scalar.length;

  if (tag == NULL || g_str_equal (tag, "!"))
    {
      if (tag == NULL && event->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
        resolution = resolve_plain (node);
    }
  else if (g_str_equal (tag, YAML_TAG_PREFIX "str"))
    ;
  else if (g_str_equal (tag, YAML_TAG_PREFIX "int") || g_str_equal (tag, YAML_TAG_PREFIX "float") ||
           g_str_equal (tag, YAML_TAG_PREFIX "bool") || g_str_equal (tag, YAML_TAG_PREFIX "null"))
    {
      const char *want = tag + strlen (YAML_TAG_PREFIX);
      gboolean fits;

      if (strlen (node->text) == node->text_len)
        resolution = resolve_plain (node);
      if (g_str_equal (want, "int"))
        fits = node->kind == NODE_INT;
      else if (g_str_equal (want, "float"))
        {
          fits = node->kind == NODE_FLOAT ||
                 (node->kind == NODE_INT && match_float (node->text, node->text_len));
          if (fits && node->kind == NODE_INT)
            {
              node->kind = NODE_FLOAT;
              node->v.d = g_ascii_strtod (node->text, NULL);
              resolution = RESOLVED;
            }
        }
      else if (g_str_equal (want, "bool"))
        fits = node->kind == NODE_BOOL;
      else
        fits = node->kind == NODE_NULL;

      if (!fits)
        {
          g_autofree char *q = quote (node->text, MAX_QUOTED);
          return builder_fail (b, error, JUPITER_CONFIG_ERROR_TYPE, line, column,
                               "the tag !!%s does not fit the value %s", want, q);
        }
    }
  else if (g_str_equal (tag, YAML_TAG_PREFIX "map") || g_str_equal (tag, YAML_TAG_PREFIX "seq"))
    return builder_fail (b, error, JUPITER_CONFIG_ERROR_TYPE, line, column,
                         "the tag !!%s does not fit a scalar", tag + strlen (YAML_TAG_PREFIX));
  else
    return unsupported_tag (b, tag, line, column, error);

  if (resolution == RESOLVED_OVERFLOW)
    {
      g_autofree char *q = quote (node->text, MAX_QUOTED);
      return builder_fail (b, error, JUPITER_CONFIG_ERROR_VALUE, line, column,
                           "expected an integer that fits in 64 bits, got %s", q);
    }

  return builder_scalar (b, g_steal_pointer (&node), (const char *) event->data.scalar.anchor,
                         error);
}

static gboolean
yaml_collection_tag (Builder    *b,
                     const char *tag,
                     const char *want,
                     guint       line,
                     guint       column,
                     GError    **error)
{
  g_autofree char *full = g_strconcat (YAML_TAG_PREFIX, want, NULL);

  if (tag == NULL || g_str_equal (tag, "!") || g_str_equal (tag, full))
    return TRUE;
  if (g_str_equal (tag, YAML_TAG_PREFIX "map") || g_str_equal (tag, YAML_TAG_PREFIX "seq") ||
      g_str_equal (tag, YAML_TAG_PREFIX "str") || g_str_equal (tag, YAML_TAG_PREFIX "int") ||
      g_str_equal (tag, YAML_TAG_PREFIX "float") || g_str_equal (tag, YAML_TAG_PREFIX "bool") ||
      g_str_equal (tag, YAML_TAG_PREFIX "null"))
    return builder_fail (b, error, JUPITER_CONFIG_ERROR_TYPE, line, column,
                         "the tag !!%s does not fit a %s", tag + strlen (YAML_TAG_PREFIX),
                         g_str_equal (want, "map") ? "mapping" : "list");
  return unsupported_tag (b, tag, line, column, error);
}

/* Byte offset of the character with index @index (libyaml's mark.index
 * counts characters); the text is valid UTF-8. */
static gsize
char_index_to_offset (const char *data,
                      gsize       len,
                      gsize       index)
{
  const char *p = data;

  for (gsize i = 0; i < index && p < data + len; i++)
    p = g_utf8_next_char (p);
  return MIN ((gsize) (p - data), len);
}

/* The key path a libyaml error is about. A scanner error is in the token
 * libyaml is scanning, which belongs to the node the builder expects next
 * (the value of the pending key, as for an unterminated quote after
 * `key:`, or the next item), unless the scanner had already scanned that
 * node and was looking past it: tokens wait in its queue, or a plain
 * scalar was complete and the error is on a later line, in the indentation
 * where libyaml looks for the scalar's continuation (the tab in
 * `a: 5s\n\tb: 1`, before `5s` is even parsed). That error, and a parser
 * error ("did not find expected ',' or ']'"), is about the innermost open
 * mapping or list; but a parser error "while parsing a node" is about the
 * node expected next. Reader errors (control characters) are found by
 * decoding ahead of everything, so they name no key. */
static char *
yaml_error_path (Builder             *b,
                 const yaml_parser_t *parser)
{
  Frame *top = builder_top (b);
  gboolean next_node;

  if (top == NULL || parser->error == YAML_READER_ERROR || parser->error == YAML_MEMORY_ERROR)
    return NULL;
  if (parser->error == YAML_SCANNER_ERROR)
    next_node = parser->tokens.head == parser->tokens.tail &&
                !(g_strcmp0 (parser->context, "while scanning a plain scalar") == 0 &&
                  parser->problem_mark.line > parser->context_mark.line);
  else
    next_node = parser->context != NULL && g_str_has_suffix (parser->context, " node");
  return next_node ? builder_path (b) : g_strdup (top->path);
}

static gboolean
yaml_syntax_error (Builder       *b,
                   yaml_parser_t *parser,
                   const char    *data,
                   gsize          len,
                   GError       **error)
{
  const char *problem = parser->problem != NULL ? parser->problem : "not well-formed";
  g_autofree char *path = yaml_error_path (b, parser);
  guint line, column;
  gsize offset;

  if (parser->error == YAML_MEMORY_ERROR)
    return fail_at (error, b->file, JUPITER_CONFIG_ERROR_TOO_COMPLEX, 1, 1, path,
                    "libyaml ran out of memory");
  if (parser->error == YAML_READER_ERROR)
    {
      offset_to_position (data, MIN (parser->problem_offset, len), TRUE, &line, &column);
      if (parser->problem_value != -1)
        return fail_at (error, b->file, JUPITER_CONFIG_ERROR_SYNTAX, line, column, path,
                        "%s (character U+%04X)", problem, (guint) parser->problem_value);
      return fail_at (error, b->file, JUPITER_CONFIG_ERROR_SYNTAX, line, column, path,
                      "%s", problem);
    }

  line = parser->problem_mark.line + 1;
  column = parser->problem_mark.column + 1;

  /* A tab where libyaml wants spaces. */
  offset = char_index_to_offset (data, len, parser->problem_mark.index);
  if (offset < len && data[offset] == '\t')
    {
      gsize start = offset;

      while (start > 0 && data[start - 1] != '\n' && data[start - 1] != '\r' &&
             (data[start - 1] == ' ' || data[start - 1] == '\t'))
        start--;
      if (start == 0 || data[start - 1] == '\n' || data[start - 1] == '\r')
        return fail_at (error, b->file, JUPITER_CONFIG_ERROR_SYNTAX, line, column, path,
                        "tabs cannot indent YAML; use spaces");
      return fail_at (error, b->file, JUPITER_CONFIG_ERROR_SYNTAX, line, column, path,
                      "a tab cannot be used here; use spaces (%s)", problem);
    }

  if (parser->context != NULL)
    return fail_at (error, b->file, JUPITER_CONFIG_ERROR_SYNTAX, line, column, path,
                    "%s (%s at %u:%u)", problem, parser->context,
                    (guint) parser->context_mark.line + 1,
                    (guint) parser->context_mark.column + 1);
  return fail_at (error, b->file, JUPITER_CONFIG_ERROR_SYNTAX, line, column, path, "%s", problem);
}

static Node *
parse_yaml (const char *file,
            const char *data,
            gsize       len,
            GError    **error)
{
  yaml_parser_t parser;
  Builder b;
  guint documents = 0;
  gboolean ok = TRUE;
  gboolean done = FALSE;
  Node *root = NULL;

  builder_init (&b, file);
  yaml_parser_initialize (&parser);
  yaml_parser_set_input_string (&parser, (const unsigned char *) data, len);
  yaml_parser_set_encoding (&parser, YAML_UTF8_ENCODING);

  while (ok && !done)
    {
      yaml_event_t event;
      guint line, column;

      if (!yaml_parser_parse (&parser, &event))
        {
          ok = yaml_syntax_error (&b, &parser, data, len, error);
          break;
        }

      line = event.start_mark.line + 1;
      column = event.start_mark.column + 1;
      switch (event.type)
        {
        case YAML_DOCUMENT_START_EVENT:
          if (documents++ > 0)
            ok = builder_fail (&b, error, JUPITER_CONFIG_ERROR_SYNTAX, line, column,
                               "a second YAML document starts here; a configuration file holds one");
          break;
        case YAML_MAPPING_START_EVENT:
          ok = yaml_collection_tag (&b, (const char *) event.data.mapping_start.tag, "map",
                                    line, column, error) &&
               builder_begin (&b, NODE_MAPPING, line, column,
                              (const char *) event.data.mapping_start.anchor, error);
          break;
        case YAML_SEQUENCE_START_EVENT:
          ok = yaml_collection_tag (&b, (const char *) event.data.sequence_start.tag, "seq",
                                    line, column, error) &&
               builder_begin (&b, NODE_SEQUENCE, line, column,
                              (const char *) event.data.sequence_start.anchor, error);
          break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
          ok = builder_end (&b, error);
          break;
        case YAML_SCALAR_EVENT:
          ok = yaml_scalar (&b, &event, error);
          break;
        case YAML_ALIAS_EVENT:
          ok = builder_alias (&b, (const char *) event.data.alias.anchor, line, column, error);
          break;
        case YAML_STREAM_END_EVENT:
          done = TRUE;
          break;
        case YAML_NO_EVENT:
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_END_EVENT:
        default:
          break;
        }
      yaml_event_delete (&event);
    }

  yaml_parser_delete (&parser);
  if (ok)
    {
      /* An empty stream has no document: a null root. */
      root = b.root != NULL ? g_steal_pointer (&b.root) : node_new (NODE_NULL, 1, 1);
    }
  builder_clear (&b);
  return root;
}

/* ------------------------------------------------------------------------ */
/* JSON                                                                      */

typedef struct {
  const char *data;
  gsize       len;
  gsize       pos;
  guint       line;
  guint       column;
  gsize       stop;     /* stop before a token that starts at or after this */
  Builder    *b;
  guint       end_line;     /* just after the last token */
  guint       end_column;
  guint       comma_line;   /* the last comma, for a trailing one */
  guint       comma_column;
} JsonScan;

static void
json_advance (JsonScan *s,
              gsize     n)
{
  for (gsize end = MIN (s->pos + n, s->len); s->pos < end; s->pos++)
    {
      guchar c = s->data[s->pos];

      if (c == '\n')
        s->line++, s->column = 1;
      else if ((c & 0xc0) != 0x80)
        s->column++;
    }
}

static void
json_skip_space (JsonScan *s)
{
  while (s->pos < s->len && strchr (" \t\r\n", s->data[s->pos]) != NULL && s->data[s->pos] != '\0')
    json_advance (s, 1);
}

static gboolean json_fail (JsonScan   *s,
                           GError    **error,
                           const char *format,
                           ...) G_GNUC_PRINTF (3, 4);

/* A syntax error at the scanner, in the node that comes next. */
static gboolean
json_fail (JsonScan   *s,
           GError    **error,
           const char *format,
           ...)
{
  g_autofree char *what = NULL;
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  return builder_fail (s->b, error, JUPITER_CONFIG_ERROR_SYNTAX, s->line, s->column, "%s", what);
}

static gboolean json_fail_in (JsonScan   *s,
                              GError    **error,
                              guint       line,
                              guint       column,
                              const char *format,
                              ...) G_GNUC_PRINTF (5, 6);

/* A syntax error at @line:@column in the structure of the innermost open
 * object or array (a missing comma or colon, a trailing comma), which the
 * key path names. */
static gboolean
json_fail_in (JsonScan   *s,
              GError    **error,
              guint       line,
              guint       column,
              const char *format,
              ...)
{
  Frame *top = builder_top (s->b);
  g_autofree char *what = NULL;
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  return fail_at (error, s->b->file, JUPITER_CONFIG_ERROR_SYNTAX, line, column,
                  top != NULL ? top->path : NULL, "%s", what);
}

/* What stands at the scanner, for messages. */
static char *
json_here (JsonScan *s)
{
  gsize end = s->pos;
  g_autofree char *text = NULL;

  if (s->pos >= s->len)
    return g_strdup ("the end of the input");
  if (s->data[s->pos] == '"')
    {
      /* a string up to its closing quote, if that is on the same line */
      for (end++; end < s->len && end - s->pos < 64 && s->data[end] != '"' && s->data[end] != '\n';
           end++)
        if (s->data[end] == '\\' && end + 1 < s->len && s->data[end + 1] != '\n')
          end++;
      if (end < s->len && s->data[end] == '"')
        end++;
    }
  else if (strchr ("{}[],:", s->data[s->pos]) == NULL)
    while (end < s->len && end - s->pos < 64 && strchr (" \t\r\n{}[],:\"", s->data[end]) == NULL)
      end++;
  if (end == s->pos)
    end = g_utf8_next_char (s->data + s->pos) - s->data;
  end = MIN (end, s->len);
  /* cut at a character boundary */
  while (end > s->pos && end < s->len && (s->data[end] & 0xc0) == 0x80)
    end--;
  text = g_strndup (s->data + s->pos, end - s->pos);
  return quote (text, 20);
}

static int
json_hex4 (const char *p)
{
  int value = 0;

  for (int i = 0; i < 4; i++)
    {
      if (!g_ascii_isxdigit (p[i]))
        return -1;
      value = value * 16 + g_ascii_xdigit_value (p[i]);
    }
  return value;
}

/* A string at the scanner (at its opening quote) into @out. */
static gboolean
json_string (JsonScan *s,
             GString  *out,
             GError  **error)
{
  guint line = s->line, column = s->column;

  json_advance (s, 1);
  for (;;)
    {
      guchar c;

      if (s->pos >= s->len)
        return builder_fail (s->b, error, JUPITER_CONFIG_ERROR_SYNTAX, line, column,
                             "unterminated string; the file ends before its closing quote");
      c = s->data[s->pos];
      if (c == '"')
        {
          json_advance (s, 1);
          return TRUE;
        }
      if (c == '\n')
        return json_fail (s, error, "a line break in a JSON string must be escaped as \\n; "
                          "is the string's closing quote missing?");
      if (c < 0x20)
        return json_fail (s, error, "a control character (U+%04X) in a JSON string must be escaped",
                          (guint) c);
      if (c != '\\')
        {
          gsize n = g_utf8_next_char (s->data + s->pos) - (s->data + s->pos);

          g_string_append_len (out, s->data + s->pos, n);
          json_advance (s, n);
          continue;
        }

      if (s->pos + 1 >= s->len)
        return builder_fail (s->b, error, JUPITER_CONFIG_ERROR_SYNTAX, line, column,
                             "unterminated string; the file ends before its closing quote");
      switch (s->data[s->pos + 1])
        {
        case '"': g_string_append_c (out, '"'); break;
        case '\\': g_string_append_c (out, '\\'); break;
        case '/': g_string_append_c (out, '/'); break;
        case 'b': g_string_append_c (out, '\b'); break;
        case 'f': g_string_append_c (out, '\f'); break;
        case 'n': g_string_append_c (out, '\n'); break;
        case 'r': g_string_append_c (out, '\r'); break;
        case 't': g_string_append_c (out, '\t'); break;
        case 'u':
          {
            int unit = s->pos + 6 <= s->len ? json_hex4 (s->data + s->pos + 2) : -1;
            gunichar ch;

            if (unit < 0)
              return json_fail (s, error, "expected four hex digits after \\u");
            ch = unit;
            if (unit >= 0xdc00 && unit <= 0xdfff)
              return json_fail (s, error,
                                "\\u%04X is half of a UTF-16 surrogate pair without its first half",
                                unit);
            if (unit >= 0xd800 && unit <= 0xdbff)
              {
                int low = -1;

                if (s->pos + 12 <= s->len && s->data[s->pos + 6] == '\\' &&
                    s->data[s->pos + 7] == 'u')
                  low = json_hex4 (s->data + s->pos + 8);
                if (low < 0xdc00 || low > 0xdfff)
                  return json_fail (s, error,
                                    "\\u%04X is half of a UTF-16 surrogate pair without its second half",
                                    unit);
                ch = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
                json_advance (s, 6);
              }
            g_string_append_unichar (out, ch);
            json_advance (s, 4);
          }
          break;
        default:
          {
            g_autofree char *here = NULL;

            json_advance (s, 1);
            here = json_here (s);
            return json_fail (s, error, "unknown escape \\%s in a JSON string", here);
          }
        }
      json_advance (s, 2);
    }
}

static gboolean
json_number (JsonScan *s,
             GError  **error)
{
  const char *p = s->data + s->pos;
  gsize len = s->len - s->pos;
  gsize i = 0;
  gboolean is_int = TRUE;
  g_autoptr(Node) node = NULL;

  if (i < len && p[i] == '-')
    i++;
  if (i < len && p[i] == '0')
    {
      i++;
      if (i < len && g_ascii_isdigit (p[i]))
        return json_fail (s, error, "a JSON number cannot have a leading zero");
    }
  else if (i < len && g_ascii_isdigit (p[i]))
    while (i < len && g_ascii_isdigit (p[i]))
      i++;
  else
    {
      g_autofree char *here = json_here (s);
      return json_fail (s, error, "expected a JSON value, got %s", here);
    }
  if (i < len && p[i] == '.')
    {
      gsize digits = ++i;

      is_int = FALSE;
      while (i < len && g_ascii_isdigit (p[i]))
        i++;
      if (i == digits)
        return json_fail (s, error, "a JSON number needs digits after its decimal point");
    }
  if (i < len && (p[i] == 'e' || p[i] == 'E'))
    {
      gsize digits;

      is_int = FALSE;
      i++;
      if (i < len && (p[i] == '+' || p[i] == '-'))
        i++;
      digits = i;
      while (i < len && g_ascii_isdigit (p[i]))
        i++;
      if (i == digits)
        return json_fail (s, error, "a JSON number needs digits in its exponent");
    }
  if (i < len && (g_ascii_isalnum (p[i]) || p[i] == '_' || p[i] == '.'))
    {
      g_autofree char *here = json_here (s);
      return json_fail (s, error, "expected a JSON number, got %s", here);
    }

  node = node_new (is_int ? NODE_INT : NODE_FLOAT, s->line, s->column);
  node->text = g_strndup (p, i);
  node->text_len = i;
  if (is_int)
    {
      gboolean negative = p[0] == '-';
      guint64 value;

      if (!parse_magnitude (node->text + negative, i - negative, 10,
                            negative ? (guint64) G_MAXINT64 + 1 : G_MAXINT64, &value))
        {
          g_autofree char *q = quote (node->text, MAX_QUOTED);
          return builder_fail (s->b, error, JUPITER_CONFIG_ERROR_VALUE, s->line, s->column,
                               "expected an integer that fits in 64 bits, got %s", q);
        }
      node->v.i = negative ? (gint64) (0 - value) : (gint64) value;
    }
  else
    node->v.d = g_ascii_strtod (node->text, NULL);

  json_advance (s, i);
  return builder_scalar (s->b, g_steal_pointer (&node), NULL, error);
}

/* 1: read a literal; 0: none here; -1: failed, @error set */
static int
json_word (JsonScan *s,
           GError  **error)
{
  static const char *const words[] = { "true", "false", "null" };
  const char *p = s->data + s->pos;
  gsize len = s->len - s->pos;

  for (guint i = 0; i < G_N_ELEMENTS (words); i++)
    {
      gsize n = strlen (words[i]);

      if (len >= n && memcmp (p, words[i], n) == 0 &&
          (len == n || !g_ascii_isalnum (p[n])))
        {
          g_autoptr(Node) node = node_new (i == 2 ? NODE_NULL : NODE_BOOL, s->line, s->column);

          node->text = g_strdup (words[i]);
          node->text_len = n;
          node->v.b = i == 0;
          json_advance (s, n);
          return builder_scalar (s->b, g_steal_pointer (&node), NULL, error) ? 1 : -1;
        }
    }
  return 0;
}

typedef enum {
  J_VALUE,          /* at the start or after a :, a value */
  J_ITEM,           /* after a , in an array: a value */
  J_FIRST_ITEM,     /* after [: a value or ] */
  J_FIRST_KEY,      /* after {: a key or } */
  J_KEY,            /* after a , in an object: a key */
  J_COLON,          /* after a key */
  J_AFTER,          /* after a value: , or the closing bracket, or the end */
} JsonExpect;

typedef enum {
  JSON_DONE,
  JSON_FAILED,
  JSON_STOPPED,     /* reached JsonScan.stop */
} JsonResult;

/* "object opened at 1:1", for an open container */
static char *
json_describe_open (Frame *frame)
{
  Node *open = frame->node;

  return g_strdup_printf ("%s opened at %u:%u", open->kind == NODE_MAPPING ? "object" : "array",
                          open->line, open->column);
}

/* A strict (RFC 8259) JSON reader feeding the builder. Errors in a value
 * name the value's key path; errors between values (a missing comma or
 * colon, a trailing comma, the end of the file) name the innermost open
 * object or array, at the offending token, or at the comma for a trailing
 * comma, or just after the last token for the end of the file. */
static JsonResult
json_scan (JsonScan *s,
           GError  **error)
{
  JsonExpect expect = J_VALUE;

  for (;;)
    {
      Frame *top;
      char c;

      s->end_line = s->line;
      s->end_column = s->column;
      json_skip_space (s);
      if (s->pos >= s->stop)
        return JSON_STOPPED;
      top = builder_top (s->b);

      if (s->pos >= s->len)
        {
          g_autofree char *open = NULL;

          if (expect == J_AFTER && top == NULL)
            return JSON_DONE;
          if (top == NULL)
            {
              json_fail (s, error, "the file ends where a JSON value was expected");
              return JSON_FAILED;
            }
          open = json_describe_open (top);
          json_fail_in (s, error, s->end_line, s->end_column, "the file ends inside an %s", open);
          return JSON_FAILED;
        }

      c = s->data[s->pos];

      if (c == '/' && s->pos + 1 < s->len &&
          (s->data[s->pos + 1] == '*' || s->data[s->pos + 1] == '/'))
        {
          if (expect == J_VALUE || expect == J_ITEM || expect == J_FIRST_ITEM)
            json_fail (s, error, "JSON has no comments");
          else
            json_fail_in (s, error, s->line, s->column, "JSON has no comments");
          return JSON_FAILED;
        }

      if (expect == J_AFTER && top == NULL)
        {
          g_autofree char *here = json_here (s);

          json_fail_in (s, error, s->line, s->column,
                        "expected the end of the input after the JSON value, got %s", here);
          return JSON_FAILED;
        }

      switch (expect)
        {
        case J_FIRST_ITEM:
        case J_FIRST_KEY:
          if (c == (expect == J_FIRST_ITEM ? ']' : '}'))
            {
              json_advance (s, 1);
              if (!builder_end (s->b, error))
                return JSON_FAILED;
              expect = J_AFTER;
              break;
            }
          if (expect == J_FIRST_ITEM)
            goto value;
          G_GNUC_FALLTHROUGH;

        case J_KEY:
          if (c == '}' && expect == J_KEY)
            {
              json_fail_in (s, error, s->comma_line, s->comma_column, "trailing comma before “}”");
              return JSON_FAILED;
            }
          if (c != '"')
            {
              g_autofree char *here = json_here (s);

              json_fail_in (s, error, s->line, s->column, c == '\'' ?
                            "JSON strings take double quotes, got %s" :
                            "expected a string key in double quotes, got %s", here);
              return JSON_FAILED;
            }
          goto value;

        case J_COLON:
          if (c != ':')
            {
              g_autofree char *key = quote (node_resolve (top->key)->text, MAX_QUOTED);
              g_autofree char *here = json_here (s);

              json_fail_in (s, error, s->line, s->column, "expected “:” after the key %s, got %s",
                            key, here);
              return JSON_FAILED;
            }
          json_advance (s, 1);
          expect = J_VALUE;
          break;

        case J_AFTER:
          {
            gboolean object = top->node->kind == NODE_MAPPING;
            char close = object ? '}' : ']';

            if (c == ',')
              {
                s->comma_line = s->line;
                s->comma_column = s->column;
                json_advance (s, 1);
                expect = object ? J_KEY : J_ITEM;
              }
            else if (c == close)
              {
                json_advance (s, 1);
                if (!builder_end (s->b, error))
                  return JSON_FAILED;
                expect = J_AFTER;
              }
            else if (c == '}' || c == ']')
              {
                g_autofree char *open = json_describe_open (top);

                json_fail_in (s, error, s->line, s->column,
                              "“%c” does not close the %s; expected “,” or “%c”", c, open, close);
                return JSON_FAILED;
              }
            else
              {
                g_autofree char *here = json_here (s);

                json_fail_in (s, error, s->line, s->column, "expected “,” or “%c” after %s, got %s",
                              close, object ? "a member" : "an item", here);
                return JSON_FAILED;
              }
          }
          break;

        case J_ITEM:
          if (c == ']')
            {
              json_fail_in (s, error, s->comma_line, s->comma_column, "trailing comma before “]”");
              return JSON_FAILED;
            }
          G_GNUC_FALLTHROUGH;

        case J_VALUE:
        value:
          {
            gboolean key = top != NULL && top->node->kind == NODE_MAPPING && top->key == NULL;

            if (c == '{' || c == '[')
              {
                if (!builder_begin (s->b, c == '{' ? NODE_MAPPING : NODE_SEQUENCE,
                                    s->line, s->column, NULL, error))
                  return JSON_FAILED;
                json_advance (s, 1);
                expect = c == '{' ? J_FIRST_KEY : J_FIRST_ITEM;
              }
            else if (c == '"')
              {
                g_autoptr(GString) text = g_string_new (NULL);
                g_autoptr(Node) node = node_new (NODE_STRING, s->line, s->column);

                if (!json_string (s, text, error))
                  return JSON_FAILED;
                node->text_len = text->len;
                node->text = g_string_free (g_steal_pointer (&text), FALSE);
                if (!builder_scalar (s->b, g_steal_pointer (&node), NULL, error))
                  return JSON_FAILED;
                expect = key ? J_COLON : J_AFTER;
              }
            else if (c == '-' || g_ascii_isdigit (c))
              {
                if (!json_number (s, error))
                  return JSON_FAILED;
                expect = J_AFTER;
              }
            else
              {
                g_autofree char *here = NULL;
                int word = json_word (s, error);

                if (word != 0)
                  {
                    if (word < 0)
                      return JSON_FAILED;
                    expect = J_AFTER;
                    break;
                  }
                here = json_here (s);
                json_fail (s, error, c == '\'' ?
                           "JSON strings take double quotes, got %s" :
                           "expected a JSON value (an object, array, string, number, "
                           "true, false or null), got %s",
                           here);
                return JSON_FAILED;
              }
          }
          break;

        default:
          g_assert_not_reached ();
        }
    }
}

typedef struct {
  guint line;
  guint pos;
} JsonGlibWhere;

static void
on_json_glib_error (JsonParser   *parser,
                    gpointer      error,
                    JsonGlibWhere *where)
{
  where->line = json_parser_get_current_line (parser);
  where->pos = json_parser_get_current_pos (parser);
}

/*
 * json-glib 1.6.6 judges the syntax of a document our scanner accepted: so
 * it sees only strict JSON, nested no deeper than MAX_DEPTH (its parser
 * recurses once per bracket, and it leaks on some malformed input: a second
 * top-level container, a lone surrogate escape). No such document is known
 * that it rejects; should one be, its own message is reported. What it
 * reports, measured: the line is right (1-based, counting \n); the column
 * is the 1-based *byte* index of the last byte of the last token its
 * scanner read, which is the offending token or the one before it. So the
 * position reported is just after that token: the byte column turned into
 * characters, plus one; the key path is our scanner's up to there.
 */
static gboolean
json_glib_judge (const char *file,
                 const char *data,
                 gsize       len,
                 GError    **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) local = NULL;
  JsonGlibWhere where = { 0, 0 };
  g_autofree char *path = NULL;
  const char *what, *p;
  guint line = 1, column = 1;
  gsize offset = 0;
  Builder b;
  JsonScan s;

  g_signal_connect (parser, "error", G_CALLBACK (on_json_glib_error), &where);
  if (json_parser_load_from_data (parser, data, len, &local))
    return TRUE;

  what = local->message;
  p = strstr (what, "Parse error: ");
  if (p != NULL)
    what = p + strlen ("Parse error: ");
  if (g_str_has_prefix (what, "scanner: "))
    what += strlen ("scanner: ");

  if (where.line > 0)
    {
      guint l = 1;

      while (l < where.line && offset < len)
        if (data[offset++] == '\n')
          l++;
      for (gsize end = MIN (offset + where.pos, len); offset < end && data[offset] != '\n'; offset++)
        ;
    }
  offset_to_position (data, offset, FALSE, &line, &column);

  /* The key path: our own scanner up to that point. */
  builder_init (&b, file);
  s = (JsonScan) { data, len, 0, 1, 1, offset, &b };
  {
    g_autoptr(GError) ignored = NULL;
    json_scan (&s, &ignored);
  }
  path = builder_path (&b);
  builder_clear (&b);

  /* json-glib quotes string constants whole, line breaks and all */
  {
    g_autofree char *valid = g_utf8_make_valid (what, -1);
    g_autofree char *text = escape_text (valid, MAX_JSON_GLIB_MESSAGE, FALSE);

    fail_at (error, file, JUPITER_CONFIG_ERROR_SYNTAX, line, column, path, "%s", text);
  }
  return FALSE;
}

static Node *
parse_json (const char *file,
            const char *data,
            gsize       len,
            GError    **error)
{
  Builder b;
  JsonScan s;
  Node *root = NULL;

  builder_init (&b, file);
  s = (JsonScan) { data, len, 0, 1, 1, G_MAXSIZE, &b };
  json_skip_space (&s);
  if (s.pos == len)
    root = node_new (NODE_NULL, 1, 1);
  else if (json_scan (&s, error) == JSON_DONE)
    root = g_steal_pointer (&b.root);
  builder_clear (&b);

  if (root != NULL && !json_glib_judge (file, data, len, error))
    g_clear_pointer (&root, node_unref);
  return root;
}

/* ------------------------------------------------------------------------ */
/* Schema                                                                    */

typedef struct {
  const char    *file;
  const char    *base_dir;       /* absolute */
  JupiterConfig *config;
  GHashTable    *plugin_ids;     /* id -> its value Node (borrowed) */
  GPtrArray     *job_plugins;    /* per job: its plugin value Node (borrowed) */
} Schema;

static gboolean schema_fail (Schema     *s,
                             GError    **error,
                             int         code,
                             Node       *at,
                             const char *path,
                             const char *format,
                             ...) G_GNUC_PRINTF (6, 7);

static gboolean
schema_fail (Schema     *s,
             GError    **error,
             int         code,
             Node       *at,
             const char *path,
             const char *format,
             ...)
{
  g_autofree char *what = NULL;
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  return fail_at (error, s->file, code, at->line, at->column, path, "%s", what);
}

static int
key_index (const char        *key,
           const char *const *keys)
{
  for (int i = 0; keys[i] != NULL; i++)
    if (g_str_equal (keys[i], key))
      return i;
  return -1;
}

static gboolean
unknown_key (Schema            *s,
             Node              *key,
             const char        *path,
             const char *const *keys,
             GError           **error)
{
  g_autofree char *q = quote (node_resolve (key)->text, MAX_QUOTED);
  g_autofree char *known = g_strjoinv (", ", (char **) keys);

  return schema_fail (s, error, JUPITER_CONFIG_ERROR_UNKNOWN_KEY, key, path,
                      "unknown key %s; expected one of: %s", q, known);
}

static gboolean
want_kind (Schema     *s,
           Node       *value,
           const char *path,
           NodeKind    kind,
           const char *expected,
           GError    **error)
{
  g_autofree char *got = NULL;

  if (node_resolve (value)->kind == kind)
    return TRUE;
  got = describe (value);
  return schema_fail (s, error, JUPITER_CONFIG_ERROR_TYPE, value, path,
                      "expected %s, got %s", expected, got);
}

/* An optional mapping or list: null counts as empty. */
static gboolean
want_section (Schema     *s,
              Node       *value,
              const char *path,
              NodeKind    kind,
              GError    **error)
{
  if (node_resolve (value)->kind == NODE_NULL)
    return TRUE;
  return want_kind (s, value, path, kind, kind == NODE_MAPPING ? "a mapping" : "a list", error);
}

static gboolean
want_count (Schema     *s,
            Node       *value,
            const char *path,
            guint64     max,
            guint      *out,
            GError    **error)
{
  Node *n = node_resolve (value);

  if (!want_kind (s, value, path, NODE_INT, "a positive integer", error))
    return FALSE;
  if (n->v.i <= 0)
    {
      g_autofree char *text = escape_text (n->text, MAX_QUOTED, FALSE);
      return schema_fail (s, error, JUPITER_CONFIG_ERROR_VALUE, value, path,
                          "expected a positive integer, got %s", text);
    }
  if ((guint64) n->v.i > max)
    {
      g_autofree char *text = escape_text (n->text, MAX_QUOTED, FALSE);
      return schema_fail (s, error, JUPITER_CONFIG_ERROR_VALUE, value, path,
                          "expected a positive integer no greater than %" G_GUINT64_FORMAT
                          ", got %s", max, text);
    }
  *out = (guint) n->v.i;
  return TRUE;
}

static gboolean
want_bool (Schema     *s,
           Node       *value,
           const char *path,
           gboolean   *out,
           GError    **error)
{
  if (!want_kind (s, value, path, NODE_BOOL, "a boolean (true or false)", error))
    return FALSE;
  *out = node_resolve (value)->v.b;
  return TRUE;
}

static gboolean
want_string (Schema      *s,
             Node        *value,
             const char  *path,
             const char **out,
             GError     **error)
{
  if (!want_kind (s, value, path, NODE_STRING, "a string", error))
    return FALSE;
  *out = node_resolve (value)->text;
  return TRUE;
}

static gboolean
want_duration (Schema     *s,
               Node       *value,
               const char *path,
               gboolean    allow_zero,
               GTimeSpan  *out,
               GError    **error)
{
  static const struct {
    const char *unit;
    GTimeSpan   usec;
  } units[] = {
    { "ms", G_TIME_SPAN_MILLISECOND },
    { "s", G_TIME_SPAN_SECOND },
    { "m", G_TIME_SPAN_MINUTE },
    { "h", G_TIME_SPAN_HOUR },
  };
  Node *n = node_resolve (value);
  g_autofree char *q = NULL;
  const char *text;
  gsize digits;
  guint64 number;

  if (!want_kind (s, value, path, NODE_STRING, DURATION_EXAMPLE, error))
    return FALSE;

  text = n->text;
  q = quote (text, MAX_QUOTED);
  digits = strspn (text, "0123456789");
  for (guint i = 0; digits > 0 && i < G_N_ELEMENTS (units); i++)
    {
      if (!g_str_equal (text + digits, units[i].unit))
        continue;
      if (!parse_magnitude (text, digits, 10, G_MAXINT64 / units[i].usec, &number))
        return schema_fail (s, error, JUPITER_CONFIG_ERROR_VALUE, value, path,
                            "the duration %s is too long", q);
      if (number == 0 && !allow_zero)
        return schema_fail (s, error, JUPITER_CONFIG_ERROR_VALUE, value, path,
                            "expected a duration greater than 0, got %s", q);
      *out = (GTimeSpan) number * units[i].usec;
      return TRUE;
    }
  return schema_fail (s, error, JUPITER_CONFIG_ERROR_VALUE, value, path,
                      "expected " DURATION_EXAMPLE ", got %s%s", q,
                      text[0] == '-' ? "; a duration cannot be negative" : "");
}

/* A path from the file: absolute, relative ones against base_dir. */
static gboolean
want_path (Schema     *s,
           Node       *value,
           const char *path,
           char      **out,
           GError    **error)
{
  const char *text;

  if (!want_string (s, value, path, &text, error))
    return FALSE;
  if (*text == '\0')
    return schema_fail (s, error, JUPITER_CONFIG_ERROR_VALUE, value, path,
                        "expected a file path, got an empty string");
  *out = g_canonicalize_filename (text, s->base_dir);
  return TRUE;
}

static const char *const breaker_keys[] = {
  "failure_threshold", "cooldown", "half_open_max_calls", "success_threshold", NULL
};

static gboolean
schema_breaker (Schema                      *s,
                Node                        *value,
                const char                  *path,
                JupiterCircuitBreakerConfig *out,
                GError                     **error)
{
  Node *map = node_resolve (value);

  if (!want_section (s, value, path, NODE_MAPPING, error))
    return FALSE;
  if (map->kind == NODE_NULL)
    return TRUE;

  for (guint i = 0; i < map->items->len; i += 2)
    {
      Node *key = map->items->pdata[i];
      Node *v = map->items->pdata[i + 1];
      const char *name = node_resolve (key)->text;
      g_autofree char *vpath = path_member (path, name);
      gboolean ok;

      switch (key_index (name, breaker_keys))
        {
        case 0:
          ok = want_count (s, v, vpath, G_MAXUINT, &out->failure_threshold, error);
          break;
        case 1:
          ok = want_duration (s, v, vpath, FALSE, &out->cooldown, error);
          break;
        case 2:
          ok = want_count (s, v, vpath, G_MAXUINT, &out->half_open_max_calls, error);
          break;
        case 3:
          ok = want_count (s, v, vpath, G_MAXUINT, &out->success_threshold, error);
          break;
        default:
          ok = unknown_key (s, key, vpath, breaker_keys, error);
          break;
        }
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

static const char *const export_keys[] = { "path", "format", "include_results", NULL };

static gboolean
schema_export (Schema     *s,
               Node       *value,
               const char *path,
               GError    **error)
{
  JupiterConfig *config = s->config;
  Node *map = node_resolve (value);
  Node *path_node = NULL;
  const char *format = NULL;
  g_autofree char *export_path = NULL;

  if (!want_section (s, value, path, NODE_MAPPING, error))
    return FALSE;
  if (map->kind == NODE_NULL)
    return TRUE;

  for (guint i = 0; i < map->items->len; i += 2)
    {
      Node *key = map->items->pdata[i];
      Node *v = map->items->pdata[i + 1];
      const char *name = node_resolve (key)->text;
      g_autofree char *vpath = path_member (path, name);
      gboolean ok;

      switch (key_index (name, export_keys))
        {
        case 0:
          g_clear_pointer (&export_path, g_free);
          ok = want_path (s, v, vpath, &export_path, error);
          path_node = v;
          break;
        case 1:
          ok = want_string (s, v, vpath, &format, error);
          if (ok && !g_str_equal (format, "json") && !g_str_equal (format, "yaml"))
            {
              g_autofree char *q = quote (format, MAX_QUOTED);
              ok = schema_fail (s, error, JUPITER_CONFIG_ERROR_VALUE, v, vpath,
                                "expected json or yaml, got %s", q);
            }
          break;
        case 2:
          ok = want_bool (s, v, vpath, &config->export_include_results, error);
          break;
        default:
          ok = unknown_key (s, key, vpath, export_keys, error);
          break;
        }
      if (!ok)
        return FALSE;
    }

  if (path_node == NULL)
    {
      g_autofree char *vpath = path_member (path, "path");
      return schema_fail (s, error, JUPITER_CONFIG_ERROR_MISSING_KEY, value, vpath,
                          "required key is missing");
    }
  if (format == NULL)
    {
      const char *text = node_resolve (path_node)->text;
      const char *dot = strrchr (text, '.');

      if (dot != NULL && strchr (dot, '/') == NULL && g_ascii_strcasecmp (dot, ".json") == 0)
        format = "json";
      else if (dot != NULL && strchr (dot, '/') == NULL &&
               (g_ascii_strcasecmp (dot, ".yaml") == 0 || g_ascii_strcasecmp (dot, ".yml") == 0))
        format = "yaml";
      else
        {
          g_autofree char *vpath = path_member (path, "path");
          g_autofree char *q = quote (text, MAX_QUOTED_PATH);

          return schema_fail (s, error, JUPITER_CONFIG_ERROR_VALUE, path_node, vpath,
                              "cannot tell the export format from %s; "
                              "name the file .json, .yaml or .yml, or set format", q);
        }
    }

  config->export_path = g_steal_pointer (&export_path);
  config->export_format = g_strdup (format);
  return TRUE;
}

static gboolean
schema_plugin_paths (Schema     *s,
                     Node       *value,
                     const char *path,
                     GError    **error)
{
  Node *list = node_resolve (value);
  g_autoptr(GStrvBuilder) dirs = g_strv_builder_new ();

  if (!want_section (s, value, path, NODE_SEQUENCE, error))
    return FALSE;

  for (guint i = 0; list->kind == NODE_SEQUENCE && i < list->items->len; i++)
    {
      Node *item = list->items->pdata[i];
      g_autofree char *ipath = path_index (path, i);
      g_autofree char *dir = NULL;

      if (!want_path (s, item, ipath, &dir, error))
        return FALSE;
      if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
        {
          g_autofree char *q = quote (dir, MAX_QUOTED_PATH);

          return schema_fail (s, error, JUPITER_CONFIG_ERROR_NOT_FOUND, item, ipath,
                              g_file_test (dir, G_FILE_TEST_EXISTS) ?
                              "expected a plugin directory, but %s is not a directory" :
                              "expected a plugin directory, but %s does not exist", q);
        }
      g_strv_builder_add (dirs, dir);
    }

  g_strfreev (s->config->plugin_paths);
  s->config->plugin_paths = g_strv_builder_end (dirs);
  return TRUE;
}

static const char *const host_keys[] = {
  "max_concurrent", "max_pending", "history_limit", "plugin_paths", "allow_unsafe",
  "shutdown_grace", "export_on_exit", NULL
};

static gboolean
schema_host (Schema     *s,
             Node       *value,
             const char *path,
             GError    **error)
{
  JupiterConfig *config = s->config;
  Node *map = node_resolve (value);

  if (!want_section (s, value, path, NODE_MAPPING, error))
    return FALSE;
  if (map->kind == NODE_NULL)
    return TRUE;

  for (guint i = 0; i < map->items->len; i += 2)
    {
      Node *key = map->items->pdata[i];
      Node *v = map->items->pdata[i + 1];
      const char *name = node_resolve (key)->text;
      g_autofree char *vpath = path_member (path, name);
      gboolean ok;

      switch (key_index (name, host_keys))
        {
        case 0:
          ok = want_count (s, v, vpath, MAX_HOST_CONCURRENT, &config->max_concurrent, error);
          break;
        case 1:
          ok = want_count (s, v, vpath, G_MAXUINT, &config->max_pending, error);
          break;
        case 2:
          ok = want_count (s, v, vpath, G_MAXUINT, &config->history_limit, error);
          break;
        case 3:
          ok = schema_plugin_paths (s, v, vpath, error);
          break;
        case 4:
          ok = want_bool (s, v, vpath, &config->allow_unsafe, error);
          break;
        case 5:
          ok = want_duration (s, v, vpath, TRUE, &config->shutdown_grace, error);
          break;
        case 6:
          ok = schema_export (s, v, vpath, error);
          break;
        default:
          ok = unknown_key (s, key, vpath, host_keys, error);
          break;
        }
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

/* A value of any shape as a JsonNode (aliases copied). */
static JsonNode *
node_to_json (Node *node)
{
  JsonNode *json = json_node_alloc ();

  node = node_resolve (node);
  switch (node->kind)
    {
    case NODE_NULL:
      return json_node_init_null (json);
    case NODE_BOOL:
      return json_node_init_boolean (json, node->v.b);
    case NODE_INT:
      return json_node_init_int (json, node->v.i);
    case NODE_FLOAT:
      return json_node_init_double (json, node->v.d);
    case NODE_STRING:
      return json_node_init_string (json, node->text);
    case NODE_MAPPING:
      {
        g_autoptr(JsonObject) object = json_object_new ();

        for (guint i = 0; i < node->items->len; i += 2)
          json_object_set_member (object, node_resolve (node->items->pdata[i])->text,
                                  node_to_json (node->items->pdata[i + 1]));
        return json_node_init_object (json, object);
      }
    case NODE_SEQUENCE:
      {
        g_autoptr(JsonArray) array = json_array_sized_new (node->items->len);

        for (guint i = 0; i < node->items->len; i++)
          json_array_add_element (array, node_to_json (node->items->pdata[i]));
        return json_node_init_array (json, array);
      }
    case NODE_ALIAS:
    default:
      g_assert_not_reached ();
    }
}

static JsonNode *
node_to_sealed_json (Node *node)
{
  JsonNode *json = node_to_json (node);

  json_node_seal (json);
  return json;
}

static gboolean
id_is_valid (const char *id)
{
  static const char first[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  static const char rest[] = "abcdefghijklmnopqrstuvwxyz0123456789_-";

  return id[0] != '\0' && strchr (first, id[0]) != NULL &&
         strspn (id, rest) == strlen (id);
}

static void
plugin_free (gpointer data)
{
  JupiterConfigPlugin *plugin = data;

  g_free (plugin->id);
  g_free (plugin->path);
  g_clear_pointer (&plugin->config, json_node_unref);
  g_free (plugin->where);
  g_free (plugin);
}

static void
job_free (gpointer data)
{
  JupiterConfigJob *job = data;

  g_free (job->name);
  g_free (job->plugin);
  g_free (job->entry);
  g_clear_pointer (&job->args, json_node_unref);
  g_free (job->where);
  g_free (job);
}

static const char *const plugin_keys[] = {
  "id", "path", "enabled", "config", "circuit_breaker", "timeout", "max_concurrent", NULL
};

static gboolean
schema_plugin (Schema     *s,
               Node       *item,
               const char *path,
               guint       index,
               GError    **error)
{
  Node *map = node_resolve (item);
  JupiterConfigPlugin *plugin;
  Node *id_node = NULL;

  if (!want_kind (s, item, path, NODE_MAPPING, "a mapping with the plugin's id", error))
    return FALSE;

  plugin = g_new0 (JupiterConfigPlugin, 1);
  plugin->enabled = TRUE;
  plugin->where = g_strdup_printf ("%s:%u:%u: %s", s->file, item->line, item->column, path);
  g_ptr_array_add (s->config->plugins, plugin);

  for (guint i = 0; i < map->items->len; i += 2)
    {
      Node *key = map->items->pdata[i];
      Node *v = map->items->pdata[i + 1];
      const char *name = node_resolve (key)->text;
      g_autofree char *vpath = path_member (path, name);
      const char *text;
      gboolean ok;

      switch (key_index (name, plugin_keys))
        {
        case 0:
          ok = want_string (s, v, vpath, &text, error);
          if (ok && !id_is_valid (text))
            {
              g_autofree char *q = quote (text, MAX_QUOTED);
              ok = schema_fail (s, error, JUPITER_CONFIG_ERROR_VALUE, v, vpath,
                                "expected an id of lower-case letters, digits, “_” and “-” "
                                "that starts with a letter or digit, got %s", q);
            }
          if (ok && g_hash_table_contains (s->plugin_ids, text))
            {
              Node *first = g_hash_table_lookup (s->plugin_ids, text);
              g_autofree char *q = quote (text, MAX_QUOTED);

              ok = schema_fail (s, error, JUPITER_CONFIG_ERROR_DUPLICATE_ID, v, vpath,
                                "duplicate plugin id %s (first at %u:%u)", q,
                                first->line, first->column);
            }
          if (ok)
            {
              plugin->id = g_strdup (text);
              g_hash_table_insert (s->plugin_ids, plugin->id, v);
              id_node = v;
            }
          break;
        case 1:
          g_clear_pointer (&plugin->path, g_free);
          ok = want_path (s, v, vpath, &plugin->path, error);
          if (ok && !g_file_test (plugin->path, G_FILE_TEST_IS_REGULAR))
            {
              g_autofree char *q = quote (plugin->path, MAX_QUOTED_PATH);

              ok = schema_fail (s, error, JUPITER_CONFIG_ERROR_NOT_FOUND, v, vpath,
                                g_file_test (plugin->path, G_FILE_TEST_EXISTS) ?
                                "expected a plugin file, but %s is not a regular file" :
                                "expected a plugin file, but %s does not exist", q);
            }
          break;
        case 2:
          ok = want_bool (s, v, vpath, &plugin->enabled, error);
          break;
        case 3:
          g_clear_pointer (&plugin->config, json_node_unref);
          plugin->config = node_to_sealed_json (v);
          ok = TRUE;
          break;
        case 4:
          ok = schema_breaker (s, v, vpath, &plugin->breaker, error);
          break;
        case 5:
          ok = want_duration (s, v, vpath, FALSE, &plugin->timeout, error);
          break;
        case 6:
          ok = want_count (s, v, vpath, G_MAXUINT, &plugin->max_concurrent, error);
          break;
        default:
          ok = unknown_key (s, key, vpath, plugin_keys, error);
          break;
        }
      if (!ok)
        return FALSE;
    }

  if (id_node == NULL)
    {
      g_autofree char *vpath = path_member (path, "id");
      return schema_fail (s, error, JUPITER_CONFIG_ERROR_MISSING_KEY, item, vpath,
                          "required key is missing");
    }
  return TRUE;
}

static const char *const job_keys[] = { "name", "plugin", "entry", "args", "every", NULL };

static gboolean
schema_job (Schema     *s,
            Node       *item,
            const char *path,
            guint       index,
            GError    **error)
{
  Node *map = node_resolve (item);
  JupiterConfigJob *job;
  Node *plugin_node = NULL;

  if (!want_kind (s, item, path, NODE_MAPPING, "a mapping with the job's plugin and entry", error))
    return FALSE;

  job = g_new0 (JupiterConfigJob, 1);
  job->where = g_strdup_printf ("%s:%u:%u: %s", s->file, item->line, item->column, path);
  g_ptr_array_add (s->config->jobs, job);

  for (guint i = 0; i < map->items->len; i += 2)
    {
      Node *key = map->items->pdata[i];
      Node *v = map->items->pdata[i + 1];
      const char *name = node_resolve (key)->text;
      g_autofree char *vpath = path_member (path, name);
      const char *text;
      gboolean ok;

      switch (key_index (name, job_keys))
        {
        case 0:
          ok = want_string (s, v, vpath, &text, error);
          if (ok)
            {
              g_free (job->name);
              job->name = g_strdup (text);
            }
          break;
        case 1:
          ok = want_string (s, v, vpath, &text, error);
          if (ok)
            {
              g_free (job->plugin);
              job->plugin = g_strdup (text);
              plugin_node = v;
            }
          break;
        case 2:
          ok = want_string (s, v, vpath, &text, error);
          if (ok && *text == '\0')
            ok = schema_fail (s, error, JUPITER_CONFIG_ERROR_VALUE, v, vpath,
                              "expected the name of an entry point, got an empty string");
          if (ok)
            {
              g_free (job->entry);
              job->entry = g_strdup (text);
            }
          break;
        case 3:
          g_clear_pointer (&job->args, json_node_unref);
          job->args = node_to_sealed_json (v);
          ok = TRUE;
          break;
        case 4:
          ok = want_duration (s, v, vpath, FALSE, &job->every, error);
          break;
        default:
          ok = unknown_key (s, key, vpath, job_keys, error);
          break;
        }
      if (!ok)
        return FALSE;
    }

  if (plugin_node == NULL || job->entry == NULL)
    {
      g_autofree char *vpath = path_member (path, plugin_node == NULL ? "plugin" : "entry");
      return schema_fail (s, error, JUPITER_CONFIG_ERROR_MISSING_KEY, item, vpath,
                          "required key is missing");
    }
  g_ptr_array_add (s->job_plugins, plugin_node);
  return TRUE;
}

static gboolean
schema_list (Schema     *s,
             Node       *value,
             const char *path,
             gboolean  (*item_func) (Schema *, Node *, const char *, guint, GError **),
             GError    **error)
{
  Node *list = node_resolve (value);

  if (!want_section (s, value, path, NODE_SEQUENCE, error))
    return FALSE;
  for (guint i = 0; list->kind == NODE_SEQUENCE && i < list->items->len; i++)
    {
      g_autofree char *ipath = path_index (path, i);

      if (!item_func (s, list->items->pdata[i], ipath, i, error))
        return FALSE;
    }
  return TRUE;
}

static const char *const root_keys[] = { "host", "circuit_breaker", "plugins", "jobs", NULL };

static gboolean
schema_root (Schema  *s,
             Node    *root,
             GError **error)
{
  Node *map = node_resolve (root);

  if (map->kind == NODE_NULL)
    return fail_at (error, s->file, JUPITER_CONFIG_ERROR_EMPTY, 1, 1, NULL,
                    "the file is empty; expected " ROOT_EXPECTED);
  if (!want_kind (s, root, NULL, NODE_MAPPING, ROOT_EXPECTED, error))
    return FALSE;

  for (guint i = 0; i < map->items->len; i += 2)
    {
      Node *key = map->items->pdata[i];
      Node *v = map->items->pdata[i + 1];
      const char *name = node_resolve (key)->text;
      g_autofree char *vpath = path_member (NULL, name);
      gboolean ok;

      switch (key_index (name, root_keys))
        {
        case 0:
          ok = schema_host (s, v, vpath, error);
          break;
        case 1:
          ok = schema_breaker (s, v, vpath, &s->config->breaker, error);
          break;
        case 2:
          ok = schema_list (s, v, vpath, schema_plugin, error);
          break;
        case 3:
          ok = schema_list (s, v, vpath, schema_job, error);
          break;
        default:
          ok = unknown_key (s, key, vpath, root_keys, error);
          break;
        }
      if (!ok)
        return FALSE;
    }

  /* Jobs name plugins that may come later in the file. */
  for (guint i = 0; i < s->job_plugins->len; i++)
    {
      Node *v = s->job_plugins->pdata[i];
      const char *id = node_resolve (v)->text;

      if (!g_hash_table_contains (s->plugin_ids, id))
        {
          g_autofree char *ipath = path_index ("jobs", i);
          g_autofree char *vpath = path_member (ipath, "plugin");
          g_autofree char *q = quote (id, MAX_QUOTED);

          return schema_fail (s, error, JUPITER_CONFIG_ERROR_UNKNOWN_PLUGIN, v, vpath,
                              "no plugin with the id %s is configured under plugins", q);
        }
    }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Loading                                                                   */

static JupiterConfigFormat
format_from_name (const char *name)
{
  const char *base = strrchr (name, '/');
  const char *dot = strrchr (base != NULL ? base : name, '.');

  if (dot == NULL)
    return JUPITER_CONFIG_FORMAT_AUTO;
  if (g_ascii_strcasecmp (dot, ".yaml") == 0 || g_ascii_strcasecmp (dot, ".yml") == 0)
    return JUPITER_CONFIG_FORMAT_YAML;
  if (g_ascii_strcasecmp (dot, ".json") == 0)
    return JUPITER_CONFIG_FORMAT_JSON;
  return JUPITER_CONFIG_FORMAT_AUTO;
}

static gboolean
fail_format (const char *name,
             GError    **error)
{
  g_set_error (error, JUPITER_CONFIG_ERROR, JUPITER_CONFIG_ERROR_FORMAT,
               "%s: cannot tell the configuration format from the file name; "
               "expected a name ending in .yaml, .yml or .json", name);
  return FALSE;
}

static gboolean
fail_too_large (const char *name,
                GError    **error)
{
  return fail_at (error, name, JUPITER_CONFIG_ERROR_TOO_COMPLEX, 1, 1, NULL,
                  "the file is larger than the limit of %u MiB", MAX_INPUT_SIZE / (1024 * 1024));
}

static JupiterConfig *
config_new (const char *name)
{
  JupiterConfig *config = g_new0 (JupiterConfig, 1);

  config->path = g_strdup (name);
  config->plugin_paths = g_new0 (char *, 1);
  config->shutdown_grace = -1;
  config->export_include_results = TRUE;
  config->plugins = g_ptr_array_new_with_free_func (plugin_free);
  config->jobs = g_ptr_array_new_with_free_func (job_free);
  return config;
}

/**
 * jupiter_config_load_from_data:
 * @data: (array length=length): the configuration text
 * @length: its length in bytes, or -1 if it is nul-terminated
 * @display_name: the name errors give for the file, and JupiterConfig.path
 * @format: the format, or %JUPITER_CONFIG_FORMAT_AUTO to choose it by the
 *   extension of @display_name
 * @base_dir: (nullable): the directory relative paths in the configuration
 *   are resolved against; %NULL for the current directory
 * @error: return location for a %JUPITER_CONFIG_ERROR
 *
 * Parses and validates a configuration held in memory. Does not keep @data.
 *
 * Returns: (transfer full) (nullable): the configuration, or %NULL with
 *   @error set
 */
JupiterConfig *
jupiter_config_load_from_data (const char          *data,
                               gssize               length,
                               const char          *display_name,
                               JupiterConfigFormat  format,
                               const char          *base_dir,
                               GError             **error)
{
  g_autoptr(JupiterConfig) config = NULL;
  g_autoptr(Node) root = NULL;
  g_autofree char *abs_base = NULL;
  const char *end = NULL;
  gsize len;
  Schema s;
  gboolean ok;

  g_return_val_if_fail (data != NULL || length == 0, NULL);
  g_return_val_if_fail (display_name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (format == JUPITER_CONFIG_FORMAT_AUTO)
    format = format_from_name (display_name);
  if (format == JUPITER_CONFIG_FORMAT_AUTO)
    {
      fail_format (display_name, error);
      return NULL;
    }

  len = length < 0 ? strlen (data) : (gsize) length;
  if (len > MAX_INPUT_SIZE)
    {
      fail_too_large (display_name, error);
      return NULL;
    }

  /* A UTF-8 byte order mark is no character of line 1. */
  if (len >= 3 && memcmp (data, "\xef\xbb\xbf", 3) == 0)
    data += 3, len -= 3;

  if (!g_utf8_validate_len (data, len, &end))
    {
      guint line, column;

      offset_to_position (data, end - data, format == JUPITER_CONFIG_FORMAT_YAML, &line, &column);
      fail_at (error, display_name, JUPITER_CONFIG_ERROR_SYNTAX, line, column, NULL,
               *end == '\0' ? "a NUL byte; the file must be UTF-8 text" :
                              "invalid UTF-8 (byte 0x%02X); the file must be UTF-8 text",
               (guint) (guchar) *end);
      return NULL;
    }

  if (format == JUPITER_CONFIG_FORMAT_YAML)
    root = parse_yaml (display_name, data, len, error);
  else
    root = parse_json (display_name, data, len, error);
  if (root == NULL)
    return NULL;

  abs_base = g_canonicalize_filename (base_dir != NULL ? base_dir : ".", NULL);
  config = config_new (display_name);
  s.file = display_name;
  s.base_dir = abs_base;
  s.config = config;
  s.plugin_ids = g_hash_table_new (g_str_hash, g_str_equal);
  s.job_plugins = g_ptr_array_new ();
  ok = schema_root (&s, root, error);
  g_hash_table_unref (s.plugin_ids);
  g_ptr_array_unref (s.job_plugins);
  if (!ok)
    return NULL;
  return g_steal_pointer (&config);
}

/* Reads at most MAX_INPUT_SIZE + 1 bytes of @path. */
static char *
read_config_file (const char *path,
                  gsize      *length,
                  GError    **error)
{
  g_autoptr(GByteArray) bytes = g_byte_array_new ();
  struct stat st;
  int fd;

  fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0)
    {
      int saved = errno;

      g_set_error (error, JUPITER_CONFIG_ERROR, JUPITER_CONFIG_ERROR_READ,
                   "%s: cannot read the configuration file: %s", path, g_strerror (saved));
      return NULL;
    }
  if (fstat (fd, &st) == 0 && S_ISDIR (st.st_mode))
    {
      g_set_error (error, JUPITER_CONFIG_ERROR, JUPITER_CONFIG_ERROR_READ,
                   "%s: cannot read the configuration file: %s", path, g_strerror (EISDIR));
      g_close (fd, NULL);
      return NULL;
    }

  while (bytes->len <= MAX_INPUT_SIZE)
    {
      guint8 buf[65536];
      gssize n = read (fd, buf, sizeof buf);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;

          g_set_error (error, JUPITER_CONFIG_ERROR, JUPITER_CONFIG_ERROR_READ,
                       "%s: cannot read the configuration file: %s", path, g_strerror (saved));
          g_close (fd, NULL);
          return NULL;
        }
      if (n == 0)
        break;
      g_byte_array_append (bytes, buf, n);
    }
  g_close (fd, NULL);

  *length = bytes->len;
  g_byte_array_append (bytes, (const guint8 *) "", 1);
  return (char *) g_byte_array_free (g_steal_pointer (&bytes), FALSE);
}

/**
 * jupiter_config_load:
 * @path: the configuration file; `.yaml`/`.yml` for YAML, `.json` for JSON
 * @error: return location for a %JUPITER_CONFIG_ERROR
 *
 * Reads, parses and validates a configuration file. Relative paths in it
 * are resolved against the file's directory.
 *
 * Returns: (transfer full) (nullable): the configuration, or %NULL with
 *   @error set
 */
JupiterConfig *
jupiter_config_load (const char *path,
                     GError    **error)
{
  g_autofree char *data = NULL;
  g_autofree char *dir = NULL;
  JupiterConfigFormat format;
  gsize length = 0;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  format = format_from_name (path);
  if (format == JUPITER_CONFIG_FORMAT_AUTO)
    {
      fail_format (path, error);
      return NULL;
    }

  data = read_config_file (path, &length, error);
  if (data == NULL)
    return NULL;
  if (length > MAX_INPUT_SIZE)
    {
      fail_too_large (path, error);
      return NULL;
    }

  dir = g_path_get_dirname (path);
  return jupiter_config_load_from_data (data, length, path, format, dir, error);
}

/**
 * jupiter_config_free:
 * @config: (nullable) (transfer full): a configuration
 *
 * Frees @config and everything it holds.
 */
void
jupiter_config_free (JupiterConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->path);
  g_strfreev (config->plugin_paths);
  g_free (config->export_path);
  g_free (config->export_format);
  g_clear_pointer (&config->plugins, g_ptr_array_unref);
  g_clear_pointer (&config->jobs, g_ptr_array_unref);
  g_free (config);
}
