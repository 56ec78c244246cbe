/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include <jupiter/jupiter.h>
#include <glib/gstdio.h>

#include <errno.h>
#include <math.h>
#include <string.h>

#include "jupiter-config-private.h"

/* A scratch directory, made in main(): plugins/ and other/ (directories),
 * plugins/echo.so (a file: the config only checks that it exists). Error
 * cases use it as their base_dir. */
static char *scratch;

static char *
scratch_path (const char *name)
{
  return g_build_filename (scratch, name, NULL);
}

static void
write_scratch (const char *name,
               const char *text)
{
  g_autofree char *path = scratch_path (name);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
}

/* Asserts @error is @code with a message that starts with @prefix
 * ("FILE:LINE:COLUMN: key.path:") and is one line. */
static void
assert_config_error (const GError *error,
                     int           code,
                     const char   *prefix,
                     const char   *contains)
{
  g_autofree char *head = NULL;

  g_assert_nonnull (error);
  g_test_message ("error: %s", error->message);
  g_assert_error (error, JUPITER_CONFIG_ERROR, code);
  head = g_strndup (error->message, strlen (prefix));
  g_assert_cmpstr (head, ==, prefix);
  g_assert_null (strchr (error->message, '\n'));
  if (contains != NULL && strstr (error->message, contains) == NULL)
    g_assert_cmpstr (error->message, ==, contains);
}

static JupiterConfig *
load_text (const char *name,
           const char *text,
           GError    **error)
{
  return jupiter_config_load_from_data (text, -1, name, JUPITER_CONFIG_FORMAT_AUTO, scratch,
                                        error);
}

/* ------------------------------------------------------------------------ */
/* Wrong configurations, one test each                                       */

typedef struct {
  const char *name;       /* the test is /config/error/NAME */
  const char *file;       /* display name; its extension picks the format */
  const char *text;
  int         code;
  const char *prefix;
  const char *contains;   /* nullable: a part of the message after the prefix */
  const char *summary;    /* nullable: what a regression test guards */
} ErrorCase;

static const ErrorCase error_cases[] = {
  /* YAML syntax */
  { "yaml-syntax/bad-indentation", "c.yaml",
    "host:\n  max_pending: 3\n   max_concurrent: 4\n",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.yaml:3:18: host: ", "mapping values are not allowed" },
  { "yaml-syntax/unclosed-flow-list", "c.yaml",
    "host:\n  plugin_paths: [plugins, other\n",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.yaml:3:1: host.plugin_paths: ",
    "did not find expected ',' or ']' (while parsing a flow sequence at 2:17)" },
  { "yaml-syntax/bad-list-item", "c.yaml",
    "plugins:\n  - id: echo\n  enabled: true\n  - id: x\n",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.yaml:3:3: plugins: ", "expected '-' indicator" },
  { "yaml-syntax/unterminated-quote", "c.yaml",
    "host:\n  shutdown_grace: \"5s\n",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.yaml:3:1: host.shutdown_grace: ",
    "while scanning a quoted scalar at 2:19" },
  { "yaml-syntax/tab-indent", "c.yaml",
    "host:\n\tmax_concurrent: 4\n",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.yaml:2:1: host: tabs cannot indent YAML; use spaces", NULL },
  { "yaml-syntax/tab-indent-nested", "c.yaml",
    "plugins:\n  - id: echo\n  \t enabled: true\n",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.yaml:3:3: plugins[0]: tabs cannot indent YAML; use spaces",
    NULL },
  { "yaml-syntax/tab-after-complete-value", "4b-tab.yaml",
    "host:\n  max_concurrent: 4\n  shutdown_grace: 5s\n  \tallow_unsafe: true\n",
    JUPITER_CONFIG_ERROR_SYNTAX, "4b-tab.yaml:4:3: host: tabs cannot indent YAML; use spaces", NULL,
    "A tab found while libyaml looks past a complete plain scalar names the mapping being "
    "built, not the key whose value is complete" },
  { "yaml-syntax/tab-after-empty-value", "c.yaml",
    "host:\n  max_pending:\n  \tmax_concurrent: 4\n",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.yaml:3:3: host.max_pending: tabs cannot indent YAML", NULL },
  { "yaml-syntax/unclosed-flow-list-no-index", "14-syntax.yaml",
    "host: [1, 2\n",
    JUPITER_CONFIG_ERROR_SYNTAX,
    "14-syntax.yaml:2:1: host: did not find expected ',' or ']' "
    "(while parsing a flow sequence at 1:7)", NULL,
    "A list left open names the list, not an index past its last item" },
  { "yaml-syntax/unterminated-quote-in-list", "c.yaml",
    "host: [1, \"abc\n",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.yaml:2:1: host[1]: found unexpected end of stream", NULL },
  { "yaml-syntax/bad-node-content", "c.yaml",
    "host:\n  max_pending: ]\n",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.yaml:2:16: host.max_pending: did not find expected node content",
    NULL },
  { "yaml-syntax/two-documents", "c.yaml",
    "host: {}\n---\njobs: []\n",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.yaml:2:1: (root): ", "second YAML document" },
  { "yaml-syntax/unknown-anchor", "c.yaml",
    "circuit_breaker: *defaults\n",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.yaml:1:18: circuit_breaker: ", "unknown anchor “defaults”" },
  { "yaml-syntax/control-character", "c.yaml",
    "host:\n  max_pending: 1\x01\n",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.yaml:2:17: (root): ", "control characters are not allowed" },
  { "yaml-syntax/invalid-utf8", "c.yaml",
    "plugins:\n  - id: \"ab\xff\"\n",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.yaml:2:12: (root): ", "invalid UTF-8" },

  /* JSON syntax (our scanner's first error: at the offending token, naming
   * the value it is in, or the object or array whose structure is wrong) */
  { "json-syntax/missing-comma", "c.json",
    "{\"host\": {\"max_concurrent\": 4 \"max_pending\": 3}}",
    JUPITER_CONFIG_ERROR_SYNTAX,
    "c.json:1:31: host: expected “,” or “}” after a member, got “\"max_pending\"”", NULL },
  { "json-syntax/trailing-comma-list", "c.json",
    "{\"plugins\": [{\"id\": \"echo\"},]}",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.json:1:28: plugins: trailing comma before “]”", NULL },
  { "json-syntax/trailing-comma-object", "c.json",
    "{\"host\": {\"max_pending\": 3,\n}}",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.json:1:27: host: trailing comma before “}”", NULL },
  { "json-syntax/trailing-comma-object-multiline", "c.json",
    "{\n  \"host\": {\n    \"max_concurrent\": 4,\n  }\n}\n",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.json:3:24: host: trailing comma before “}”", NULL,
    "A trailing comma in an object is reported at the comma, naming “}” (json-glib "
    "reports the end of the line and names “]”)" },
  { "json-syntax/trailing-comma-in-list-item", "c.json",
    "{\"plugins\": [{\"id\": \"echo\",}]}",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.json:1:27: plugins[0]: trailing comma before “}”", NULL,
    "A trailing comma in an object inside a list is reported at the comma, naming “}”" },
  { "json-syntax/missing-colon", "c.json",
    "{\n  \"host\": {\n    \"history_limit\" 5\n  }\n}\n",
    JUPITER_CONFIG_ERROR_SYNTAX,
    "c.json:3:21: host: expected “:” after the key “history_limit”, got “5”", NULL,
    "A missing colon is reported at the token where it belongs, without blaming the key" },
  { "json-syntax/missing-comma-after-string", "c.json",
    "{\"jobs\": [{\"name\": \"ééé\" \"plugin\": \"echo\", \"entry\": \"run\"}]}",
    JUPITER_CONFIG_ERROR_SYNTAX,
    "c.json:1:26: jobs[0]: expected “,” or “}” after a member, got “\"plugin\"”", NULL,
    "A missing comma is reported at the next member, not at the valid string before it" },
  { "json-syntax/unclosed-object", "c.json",
    "{\"host\": {\"max_concurrent\": 4}",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.json:1:31: (root): the file ends inside an object opened at 1:1",
    NULL, "A file that ends inside an object says so, naming where the object opened" },
  { "json-syntax/unclosed-nested", "c.json",
    "{\"host\": {\"plugin_paths\": [\"plugins\"\n\n",
    JUPITER_CONFIG_ERROR_SYNTAX,
    "c.json:1:37: host.plugin_paths: the file ends inside an array opened at 1:27", NULL },
  { "json-syntax/line-comment", "c.json",
    "{\"host\": // hi",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.json:1:10: host: JSON has no comments", NULL,
    "A // comment is reported as a comment, at its start" },
  { "json-syntax/trailing-line-comment", "c.json",
    "{\"host\": {\"max_concurrent\": 4}} // c\n",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.json:1:33: (root): JSON has no comments", NULL,
    "A // comment after the document is reported at its start, within the line" },
  { "json-syntax/mismatched-bracket", "c.json",
    "{\"host\": {\"plugin_paths\": [\"plugins\"}}",
    JUPITER_CONFIG_ERROR_SYNTAX,
    "c.json:1:37: host.plugin_paths: “}” does not close the array opened at 1:27; "
    "expected “,” or “]”", NULL },
  { "json-syntax/double-comma", "c.json",
    "{\"host\": {\"plugin_paths\": [\"plugins\",,\"other\"]}}",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.json:1:38: host.plugin_paths[1]: expected a JSON value", NULL },
  { "json-syntax/unterminated-string", "c.json",
    "{\"host\": {\"shutdown_grace\": \"5s}}",
    JUPITER_CONFIG_ERROR_SYNTAX,
    "c.json:1:29: host.shutdown_grace: unterminated string; the file ends before its closing quote",
    NULL },
  { "json-syntax/missing-colon-line-5", "c.json",
    "{\n"
    "  \"host\": {\n"
    "    \"max_concurrent\": 4,\n"
    "    \"max_pending\": 10,\n"
    "    \"history_limit\" 100\n"
    "  }\n"
    "}\n",
    JUPITER_CONFIG_ERROR_SYNTAX,
    "c.json:5:21: host: expected “:” after the key “history_limit”, got “100”", NULL },
  { "json-syntax/multibyte-column", "c.json",
    "{\"plugins\": [{\"id\": \"echo\", \"config\": {\"名前\": \"ŝŝŝ\" \"x\": 1}}]}",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.json:1:52: plugins[0].config: ", "got “\"x\"”" },
  { "json-syntax/message-one-line", "c.json",
    "{\"host\": {\"max_pending\": 3 \"multi\nline\nkey\": 4}}",
    JUPITER_CONFIG_ERROR_SYNTAX,
    "c.json:1:28: host: expected “,” or “}” after a member, got “\"multi”", NULL },
  { "json-syntax/message-one-line-2", "c.json",
    "{\"host\": {\"max_pending\": 3, \"a\nb\" 4}}",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.json:1:31: host: ",
    "a line break in a JSON string must be escaped as \\n; is the string's closing quote missing?" },
  { "json-syntax/two-documents", "c.json",
    "{\"host\": {}}\n{\"jobs\": []}\n",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.json:2:1: (root): ",
    "expected the end of the input after the JSON value, got “{”" },
  { "json-syntax/comment", "c.json",
    "{\"host\": /* no comments in JSON */ {}}",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.json:1:10: host: ", "JSON has no comments" },
  { "json-syntax/single-quotes", "c.json",
    "{\"plugins\": [{'id': 'echo'}]}",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.json:1:15: plugins[0]: ", "double quotes" },
  { "json-syntax/hex-number", "c.json",
    "{\"host\": {\"max_pending\": 0x10}}",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.json:1:26: host.max_pending: ", "expected a JSON number, got “0x10”" },
  { "json-syntax/lone-surrogate", "c.json",
    "{\"plugins\": [{\"id\": \"echo\", \"config\": {\"s\": \"\\ud83d!\"}}]}",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.json:1:46: plugins[0].config.s: ",
    "\\uD83D is half of a UTF-16 surrogate pair without its second half" },
  { "json-syntax/lone-surrogate-at-end", "c.json",
    "{\"plugins\": [{\"id\": \"echo\", \"config\": {\"s\": \"\\ud83d\"}}]}",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.json:1:46: plugins[0].config.s: ", "surrogate pair" },
  { "json-syntax/surrogate-then-other-escape", "c.json",
    "{\"plugins\": [{\"id\": \"echo\", \"config\": {\"s\": \"\\ud83d\\u0041\"}}]}",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.json:1:46: plugins[0].config.s: ", "without its second half" },
  { "json-syntax/lone-low-surrogate", "c.json",
    "{\"plugins\": [{\"id\": \"echo\", \"config\": {\"s\": \"ab\\udE00\"}}]}",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.json:1:48: plugins[0].config.s: ", "without its first half" },
  { "json-syntax/short-unicode-escape", "c.json",
    "{\"plugins\": [{\"id\": \"echo\", \"config\": {\"s\": \"\\ud83l\\u0041\"}}]}",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.json:1:46: plugins[0].config.s: ",
    "expected four hex digits after \\u" },
  { "json-syntax/raw-newline-in-string", "c.json",
    "{\"plugins\": [{\"id\": \"echo\", \"config\": {\"s\": \"a\nb\"}}]}",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.json:1:47: plugins[0].config.s: ", "must be escaped" },
  { "json-syntax/raw-tab-in-string", "c.json",
    "{\"plugins\": [{\"id\": \"echo\", \"config\": {\"s\": \"a\tb\"}}]}",
    JUPITER_CONFIG_ERROR_SYNTAX, "c.json:1:47: plugins[0].config.s: ",
    "a control character (U+0009) in a JSON string must be escaped" },

  /* Types */
  { "type/string-for-count", "c.yaml",
    "host:\n  max_pending: \"10\"\n",
    JUPITER_CONFIG_ERROR_TYPE, "c.yaml:2:16: host.max_pending: ",
    "expected a positive integer, got the string “10”" },
  { "type/list-for-mapping", "c.yaml",
    "host: [max_pending, 3]\n",
    JUPITER_CONFIG_ERROR_TYPE, "c.yaml:1:7: host: ", "expected a mapping, got a list" },
  { "type/mapping-for-list", "c.yaml",
    "plugins:\n  id: echo\n",
    JUPITER_CONFIG_ERROR_TYPE, "c.yaml:2:3: plugins: ", "expected a list, got a mapping" },
  { "type/float-for-count", "c.yaml",
    "host: {max_concurrent: 4.0}\n",
    JUPITER_CONFIG_ERROR_TYPE, "c.yaml:1:24: host.max_concurrent: ", "got the number 4.0" },
  { "type/yes-for-boolean", "c.yaml",
    "host:\n  allow_unsafe: yes\n",
    JUPITER_CONFIG_ERROR_TYPE, "c.yaml:2:17: host.allow_unsafe: ",
    "expected a boolean (true or false), got the string “yes”" },
  { "type/root-list", "c.yaml",
    "- host: {}\n",
    JUPITER_CONFIG_ERROR_TYPE, "c.yaml:1:1: (root): ", "got a list" },
  { "type/root-scalar", "c.json",
    "\"host\"",
    JUPITER_CONFIG_ERROR_TYPE, "c.json:1:1: (root): ", "got the string “host”" },
  { "type/bad-tag", "c.yaml",
    "host: !settings {max_pending: 3}\n",
    JUPITER_CONFIG_ERROR_TYPE, "c.yaml:1:7: host: ", "unsupported tag “!settings”" },
  { "type/tag-mismatch", "c.yaml",
    "host: {max_pending: !!int ten}\n",
    JUPITER_CONFIG_ERROR_TYPE, "c.yaml:1:21: host.max_pending: ", "!!int does not fit" },
  { "type/str-tag", "c.yaml",
    "host: {max_pending: !!str 10}\n",
    JUPITER_CONFIG_ERROR_TYPE, "c.yaml:1:21: host.max_pending: ", "got the string “10”" },
  { "type/duration-number", "c.yaml",
    "jobs: [{plugin: echo, entry: echo, every: 30}]\n",
    JUPITER_CONFIG_ERROR_TYPE, "c.yaml:1:43: jobs[0].every: ",
    "expected a duration such as 250ms, 30s or 5m, got the number 30" },
  { "type/json-string-for-boolean", "c.json",
    "{\"host\": {\"allow_unsafe\": \"true\"}}",
    JUPITER_CONFIG_ERROR_TYPE, "c.json:1:27: host.allow_unsafe: ", "got the string “true”" },
  { "type/mapping-key", "c.yaml",
    "plugins:\n  - id: echo\n    config: {[1, 2]: x}\n",
    JUPITER_CONFIG_ERROR_TYPE, "c.yaml:3:14: plugins[0].config: ", "a mapping key must be a scalar" },
  { "type/id-number", "c.yaml",
    "plugins: [{id: 42}]\n",
    JUPITER_CONFIG_ERROR_TYPE, "c.yaml:1:16: plugins[0].id: ", "expected a string, got the number 42" },

  /* Values */
  { "value/negative", "c.yaml",
    "host:\n  max_concurrent: -3\n",
    JUPITER_CONFIG_ERROR_VALUE, "c.yaml:2:19: host.max_concurrent: ",
    "expected a positive integer, got -3" },
  { "value/zero-threshold", "c.yaml",
    "circuit_breaker:\n  failure_threshold: 0\n",
    JUPITER_CONFIG_ERROR_VALUE, "c.yaml:2:22: circuit_breaker.failure_threshold: ",
    "expected a positive integer, got 0" },
  { "value/too-concurrent", "c.yaml",
    "host: {max_concurrent: 5000}\n",
    JUPITER_CONFIG_ERROR_VALUE, "c.yaml:1:24: host.max_concurrent: ", "no greater than 4096" },
  { "value/int-overflow", "c.yaml",
    "host: {max_pending: 99999999999999999999}\n",
    JUPITER_CONFIG_ERROR_VALUE, "c.yaml:1:21: host.max_pending: ", "fits in 64 bits" },
  { "value/count-overflow", "c.yaml",
    "host: {history_limit: 0x100000000}\n",
    JUPITER_CONFIG_ERROR_VALUE, "c.yaml:1:23: host.history_limit: ", "no greater than 4294967295" },
  { "value/json-int-overflow", "c.json",
    "{\"plugins\": [{\"id\": \"echo\", \"config\": [18446744073709551616]}]}",
    JUPITER_CONFIG_ERROR_VALUE, "c.json:1:40: plugins[0].config[0]: ", "fits in 64 bits" },
  { "value/duration-words", "c.yaml",
    "host:\n  shutdown_grace: 5 minutes\n",
    JUPITER_CONFIG_ERROR_VALUE, "c.yaml:2:19: host.shutdown_grace: ",
    "expected a duration such as 250ms, 30s or 5m, got “5 minutes”" },
  { "value/duration-negative", "c.yaml",
    "plugins: [{id: echo, timeout: -1s}]\n",
    JUPITER_CONFIG_ERROR_VALUE, "c.yaml:1:31: plugins[0].timeout: ", "cannot be negative" },
  { "value/duration-unit", "c.yaml",
    "circuit_breaker: {cooldown: 10x}\n",
    JUPITER_CONFIG_ERROR_VALUE, "c.yaml:1:29: circuit_breaker.cooldown: ", "got “10x”" },
  { "value/duration-overflow", "c.yaml",
    "circuit_breaker: {cooldown: 9999999999999999999h}\n",
    JUPITER_CONFIG_ERROR_VALUE, "c.yaml:1:29: circuit_breaker.cooldown: ", "is too long" },
  { "value/duration-zero", "c.yaml",
    "plugins:\n  - id: echo\n    circuit_breaker:\n      cooldown: 0s\n",
    JUPITER_CONFIG_ERROR_VALUE, "c.yaml:4:17: plugins[0].circuit_breaker.cooldown: ",
    "greater than 0" },
  { "value/export-format", "c.yaml",
    "host:\n  export_on_exit:\n    path: out/jobs.json\n    format: xml\n",
    JUPITER_CONFIG_ERROR_VALUE, "c.yaml:4:13: host.export_on_exit.format: ",
    "expected json or yaml, got “xml”" },
  { "value/export-extension", "c.yaml",
    "host:\n  export_on_exit:\n    path: out/jobs.txt\n",
    JUPITER_CONFIG_ERROR_VALUE, "c.yaml:3:11: host.export_on_exit.path: ",
    "cannot tell the export format from “out/jobs.txt”" },
  { "value/bad-id", "c.yaml",
    "plugins:\n  - id: Echo!\n",
    JUPITER_CONFIG_ERROR_VALUE, "c.yaml:2:9: plugins[0].id: ", "got “Echo!”" },
  { "value/id-leading-dash", "c.json",
    "{\"plugins\": [{\"id\": \"-echo\"}]}",
    JUPITER_CONFIG_ERROR_VALUE, "c.json:1:21: plugins[0].id: ", "got “-echo”" },
  { "value/nul-in-string", "c.yaml",
    "plugins: [{id: \"ec\\0ho\"}]\n",
    JUPITER_CONFIG_ERROR_VALUE, "c.yaml:1:16: plugins[0].id: ", "NUL" },
  { "value/multibyte-column", "c.yaml",
    "plugins: [{config: {名前: ŝŝŝ}, id: echo, enabled: yes}]\n",
    JUPITER_CONFIG_ERROR_TYPE, "c.yaml:1:50: plugins[0].enabled: ", "the string “yes”" },
  { "value/multibyte-column-json", "c.json",
    "{\"plugins\": [{\"config\": {\"名前\": \"ŝŝŝ\"}, \"id\": \"echo\", \"enabled\": \"yes\"}]}",
    JUPITER_CONFIG_ERROR_TYPE, "c.json:1:65: plugins[0].enabled: ", "the string “yes”" },
  { "value/multibyte-key-path", "c.yaml",
    "名前: {x: 1}\n",
    JUPITER_CONFIG_ERROR_UNKNOWN_KEY, "c.yaml:1:1: 名前: ", "unknown key “名前”" },

  /* Unknown keys */
  { "unknown-key/top-level", "c.yaml",
    "host: {}\nplugin:\n  - id: echo\n",
    JUPITER_CONFIG_ERROR_UNKNOWN_KEY, "c.yaml:2:1: plugin: ",
    "unknown key “plugin”; expected one of: host, circuit_breaker, plugins, jobs" },
  { "unknown-key/host", "c.yaml",
    "host:\n  max_concurent: 4\n",
    JUPITER_CONFIG_ERROR_UNKNOWN_KEY, "c.yaml:2:3: host.max_concurent: ",
    "unknown key “max_concurent”; expected one of: max_concurrent, max_pending, " },
  { "unknown-key/plugin-breaker", "c.yaml",
    "plugins:\n  - id: echo\n  - id: exec\n    circuit_breaker:\n      failure_treshold: 2\n",
    JUPITER_CONFIG_ERROR_UNKNOWN_KEY,
    "c.yaml:5:7: plugins[1].circuit_breaker.failure_treshold: ", "failure_threshold, cooldown" },
  { "unknown-key/job", "c.yaml",
    "plugins: [{id: echo}]\njobs:\n  - plugin: echo\n    entry: echo\n    interval: 5s\n",
    JUPITER_CONFIG_ERROR_UNKNOWN_KEY, "c.yaml:5:5: jobs[0].interval: ",
    "expected one of: name, plugin, entry, args, every" },
  { "unknown-key/colon-in-key", "c.json",
    "{\"host: x\": {}}",
    JUPITER_CONFIG_ERROR_UNKNOWN_KEY, "c.json:1:2: [“host: x”]: unknown key “host: x”", NULL,
    "A key with a colon is quoted in the key path, which then cannot be taken for its end" },
  { "unknown-key/export", "c.json",
    "{\"host\": {\"export_on_exit\": {\"path\": \"a.json\", \"results\": true}}}",
    JUPITER_CONFIG_ERROR_UNKNOWN_KEY, "c.json:1:48: host.export_on_exit.results: ", NULL },

  /* Duplicate keys */
  { "duplicate-key/yaml", "c.yaml",
    "host:\n  max_pending: 1\n  max_pending: 2\n",
    JUPITER_CONFIG_ERROR_DUPLICATE_KEY, "c.yaml:3:3: host.max_pending: ",
    "duplicate key “max_pending” (first at 2:3)" },
  { "duplicate-key/yaml-flow", "c.yaml",
    "plugins: [{id: echo, config: {a: 1, b: 2, a: 3}}]\n",
    JUPITER_CONFIG_ERROR_DUPLICATE_KEY, "c.yaml:1:43: plugins[0].config.a: ", "(first at 1:31)" },
  { "duplicate-key/json", "c.json",
    "{\"host\": {\"max_pending\": 1, \"max_pending\": 2}}",
    JUPITER_CONFIG_ERROR_DUPLICATE_KEY, "c.json:1:29: host.max_pending: ",
    "duplicate key “max_pending” (first at 1:11)" },
  { "duplicate-key/many", "c.yaml",
    "plugins: [{id: echo, config: {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9, "
    "j: 10, k: 11, b: 12}}]\n",
    JUPITER_CONFIG_ERROR_DUPLICATE_KEY, "c.yaml:1:99: plugins[0].config.b: ", "(first at 1:37)" },

  /* Missing keys */
  { "missing-key/plugin-id", "c.yaml",
    "plugins:\n  - id: echo\n  - enabled: false\n    timeout: 5s\n",
    JUPITER_CONFIG_ERROR_MISSING_KEY, "c.yaml:3:5: plugins[1].id: required key is missing", NULL },
  { "missing-key/job-entry", "c.yaml",
    "plugins: [{id: echo}]\njobs:\n  - {plugin: echo}\n",
    JUPITER_CONFIG_ERROR_MISSING_KEY, "c.yaml:3:5: jobs[0].entry: required key is missing", NULL },
  { "missing-key/export-path", "c.json",
    "{\"host\": {\"export_on_exit\": {\"format\": \"json\"}}}",
    JUPITER_CONFIG_ERROR_MISSING_KEY, "c.json:1:29: host.export_on_exit.path: ", NULL },

  /* Plugins and jobs */
  { "unknown-plugin/in-job", "c.yaml",
    "plugins: [{id: echo}]\njobs:\n  - plugin: ecko\n    entry: echo\n",
    JUPITER_CONFIG_ERROR_UNKNOWN_PLUGIN, "c.yaml:3:13: jobs[0].plugin: ", "“ecko”" },
  { "unknown-plugin/declared-later", "c.yaml",
    "jobs:\n  - {plugin: echo, entry: echo}\n  - {plugin: exec, entry: run}\nplugins: [{id: echo}]\n",
    JUPITER_CONFIG_ERROR_UNKNOWN_PLUGIN, "c.yaml:3:14: jobs[1].plugin: ", NULL },
  { "duplicate-id/plugins", "c.yaml",
    "plugins:\n  - id: echo\n  - id: exec\n  - id: echo\n",
    JUPITER_CONFIG_ERROR_DUPLICATE_ID, "c.yaml:4:9: plugins[2].id: ",
    "duplicate plugin id “echo” (first at 2:9)" },
  { "not-found/plugin-file", "c.yaml",
    "plugins:\n  - id: echo\n    path: plugins/missing.so\n",
    JUPITER_CONFIG_ERROR_NOT_FOUND, "c.yaml:3:11: plugins[0].path: ", "missing.so” does not exist" },
  { "not-found/plugin-file-is-dir", "c.yaml",
    "plugins:\n  - id: echo\n    path: plugins\n",
    JUPITER_CONFIG_ERROR_NOT_FOUND, "c.yaml:3:11: plugins[0].path: ", "is not a regular file" },
  { "not-found/plugin-dir", "c.yaml",
    "host:\n  plugin_paths: [plugins, missing-dir, other]\n",
    JUPITER_CONFIG_ERROR_NOT_FOUND, "c.yaml:2:27: host.plugin_paths[1]: ",
    "missing-dir” does not exist" },
  { "not-found/plugin-dir-is-file", "c.json",
    "{\"host\": {\"plugin_paths\": [\"plugins/echo.so\"]}}",
    JUPITER_CONFIG_ERROR_NOT_FOUND, "c.json:1:28: host.plugin_paths[0]: ", "is not a directory" },

  /* Empty */
  { "empty/yaml", "c.yaml", "",
    JUPITER_CONFIG_ERROR_EMPTY,
    "c.yaml:1:1: (root): the file is empty; expected a mapping with host, circuit_breaker, "
    "plugins or jobs", NULL },
  { "empty/yaml-comments", "c.yaml", "# nothing yet\n\n   # still nothing\n",
    JUPITER_CONFIG_ERROR_EMPTY, "c.yaml:1:1: (root): the file is empty", NULL },
  { "empty/yaml-null", "c.yaml", "---\n~\n",
    JUPITER_CONFIG_ERROR_EMPTY, "c.yaml:1:1: (root): the file is empty", NULL },
  { "empty/json", "c.json", " \n\t\n",
    JUPITER_CONFIG_ERROR_EMPTY, "c.json:1:1: (root): the file is empty", NULL },
  { "empty/json-null", "c.json", "null",
    JUPITER_CONFIG_ERROR_EMPTY, "c.json:1:1: (root): the file is empty", NULL },

  /* Complexity */
  { "too-complex/recursive-alias", "c.yaml",
    "plugins:\n  - &p\n    id: echo\n    config: [*p]\n",
    JUPITER_CONFIG_ERROR_TOO_COMPLEX, "c.yaml:4:14: plugins[0].config[0]: ", "recursive" },
};

static void
test_error_case (gconstpointer data)
{
  const ErrorCase *c = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JupiterConfig) config = NULL;

  if (c->summary != NULL)
    g_test_summary (c->summary);
  config = load_text (c->file, c->text, &error);
  g_assert_null (config);
  assert_config_error (error, c->code, c->prefix, c->contains);
}

/* ------------------------------------------------------------------------ */
/* Limits                                                                    */

/* The classic billion laughs: 9 levels of 9 aliases, 10^9 nodes expanded.
 * Nodes are counted as they are added, aliases by the size of what they
 * name: lol1..lol5 hold 74 737 nodes in all, and the first *lol5 in lol6
 * (66 430 more) crosses 100 000, so that alias is where the load stops; it
 * never expands anything. */
static void
test_limits_billion_laughs (void)
{
  static const char bomb[] =
    "lol1: &lol1 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    "lol2: &lol2 [*lol1, *lol1, *lol1, *lol1, *lol1, *lol1, *lol1, *lol1, *lol1]\n"
    "lol3: &lol3 [*lol2, *lol2, *lol2, *lol2, *lol2, *lol2, *lol2, *lol2, *lol2]\n"
    "lol4: &lol4 [*lol3, *lol3, *lol3, *lol3, *lol3, *lol3, *lol3, *lol3, *lol3]\n"
    "lol5: &lol5 [*lol4, *lol4, *lol4, *lol4, *lol4, *lol4, *lol4, *lol4, *lol4]\n"
    "lol6: &lol6 [*lol5, *lol5, *lol5, *lol5, *lol5, *lol5, *lol5, *lol5, *lol5]\n"
    "lol7: &lol7 [*lol6, *lol6, *lol6, *lol6, *lol6, *lol6, *lol6, *lol6, *lol6]\n"
    "lol8: &lol8 [*lol7, *lol7, *lol7, *lol7, *lol7, *lol7, *lol7, *lol7, *lol7]\n"
    "lol9: &lol9 [*lol8, *lol8, *lol8, *lol8, *lol8, *lol8, *lol8, *lol8, *lol8]\n";
  g_autoptr(GError) error = NULL;
  g_autoptr(JupiterConfig) config = load_text ("bomb.yaml", bomb, &error);

  g_assert_null (config);
  assert_config_error (error, JUPITER_CONFIG_ERROR_TOO_COMPLEX, "bomb.yaml:6:14: lol6[0]: ",
                       "more than 100000 nodes");
}

/* The same bomb inside a plugin's config, where any value is allowed. */
static void
test_limits_billion_laughs_in_config (void)
{
  GString *text = g_string_new ("plugins:\n  - id: echo\n    config:\n      l0: &l0 lol\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(JupiterConfig) config = NULL;

  for (guint level = 1; level <= 9; level++)
    {
      g_string_append_printf (text, "      l%u: &l%u [", level, level);
      for (guint i = 0; i < 10; i++)
        g_string_append_printf (text, "%s*l%u", i > 0 ? ", " : "", level - 1);
      g_string_append (text, "]\n");
    }
  config = load_text ("bomb.yaml", text->str, &error);
  g_string_free (text, TRUE);
  g_assert_null (config);
  g_assert_error (error, JUPITER_CONFIG_ERROR, JUPITER_CONFIG_ERROR_TOO_COMPLEX);
  g_assert_true (g_str_has_prefix (error->message, "bomb.yaml:"));
  g_assert_nonnull (strstr (error->message, ": plugins[0].config.l"));
}

/* Aliases that nest deeper at each step: depth is counted like size. */
static void
test_limits_alias_depth (void)
{
  GString *text = g_string_new ("plugins:\n  - id: echo\n    config:\n      - &a0 [x]\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(JupiterConfig) config = NULL;

  for (guint i = 1; i < 70; i++)
    g_string_append_printf (text, "      - &a%u [*a%u]\n", i, i - 1);
  config = load_text ("deep.yaml", text->str, &error);
  g_string_free (text, TRUE);
  g_assert_null (config);
  /* The root mapping, plugins, its item and config hold 4 levels; a<n>
   * nests n + 1 lists, so *a59 (60 lists) inside a60's list (the 5th
   * level) makes 65. */
  assert_config_error (error, JUPITER_CONFIG_ERROR_TOO_COMPLEX,
                       "deep.yaml:64:15: plugins[0].config[60][0]: ", "64 levels");
}

static void
test_limits_deep_yaml (void)
{
  g_autofree char *open = g_strnfill (100, '[');
  g_autofree char *close = g_strnfill (100, ']');
  g_autofree char *text = g_strdup_printf ("plugins: [{id: echo, config: %s%s}]\n", open, close);
  g_autoptr(GError) error = NULL;
  g_autoptr(JupiterConfig) config = load_text ("deep.yaml", text, &error);

  g_assert_null (config);
  /* the root mapping, plugins and its item, then config's lists: the
   * 62nd list is the 65th level; it starts at column 30 + 61 */
  assert_config_error (error, JUPITER_CONFIG_ERROR_TOO_COMPLEX, "deep.yaml:1:91: plugins[0].config",
                       "nest more than 64 levels deep");
}

/* Far too deep for json-glib's recursive parser: refused before it runs. */
static void
test_limits_deep_json (void)
{
  gsize depth = 1000000;
  g_autofree char *open = g_strnfill (depth, '[');
  g_autofree char *text = g_strdup_printf ("{\"plugins\": [{\"id\": \"echo\", \"config\": %s}]}", open);
  g_autoptr(GError) error = NULL;
  g_autoptr(JupiterConfig) config = load_text ("deep.json", text, &error);

  g_assert_null (config);
  /* as above: the 62nd list, at column 39 + 61 */
  assert_config_error (error, JUPITER_CONFIG_ERROR_TOO_COMPLEX, "deep.json:1:100: plugins[0].config",
                       "nest more than 64 levels deep");
}

/* 60 levels are allowed, and json-glib still judges such a document; a
 * missing comma in it is reported at the token after the gap. */
static void
test_limits_deep_json_allowed (void)
{
  g_autofree char *open = g_strnfill (57, '[');
  g_autofree char *close = g_strnfill (57, ']');
  g_autofree char *text = NULL;
  g_autoptr(GString) prefix = g_string_new ("deep.json:1:98: plugins[0].config");
  g_autoptr(GError) error = NULL;
  g_autoptr(JupiterConfig) config = NULL;

  text = g_strdup_printf ("{\"plugins\": [{\"id\": \"echo\", \"config\": %s1%s}]}", open, close);
  config = load_text ("deep.json", text, &error);
  g_assert_no_error (error);
  g_clear_pointer (&config, jupiter_config_free);

  g_clear_pointer (&text, g_free);
  text = g_strdup_printf ("{\"plugins\": [{\"id\": \"echo\", \"config\": %s1 2%s}]}", open, close);
  config = load_text ("deep.json", text, &error);
  g_assert_null (config);
  /* at the 2, column 39 + 57 + 2, in the innermost list */
  for (guint i = 1; i < 57; i++)
    g_string_append (prefix, "[0]");
  g_string_append (prefix, ": expected “,” or “]” after an item, got “2”");
  assert_config_error (error, JUPITER_CONFIG_ERROR_SYNTAX, prefix->str, NULL);
}

static void
test_limits_many_nodes (void)
{
  GString *text = g_string_new ("{\"plugins\": [{\"id\": \"echo\", \"config\": [0");
  g_autoptr(GError) error = NULL;
  g_autoptr(JupiterConfig) config = NULL;

  for (guint i = 1; i < 200000; i++)
    g_string_append (text, ",0");
  g_string_append (text, "]}]}");
  config = load_text ("big.json", text->str, &error);
  g_string_free (text, TRUE);
  g_assert_null (config);
  g_assert_error (error, JUPITER_CONFIG_ERROR, JUPITER_CONFIG_ERROR_TOO_COMPLEX);
  g_assert_true (g_str_has_prefix (error->message, "big.json:1:"));
  g_assert_nonnull (strstr (error->message, ": plugins[0].config[999"));
}

static void
test_limits_input_size (void)
{
  gsize size = 4 * 1024 * 1024 + 1;
  g_autofree char *text = g_malloc (size);
  g_autoptr(GError) error = NULL;
  g_autoptr(JupiterConfig) config = NULL;
  g_autofree char *path = scratch_path ("huge.yaml");

  memset (text, ' ', size);
  memcpy (text, "host: {}", 8);
  config = jupiter_config_load_from_data (text, size, "huge.yaml", JUPITER_CONFIG_FORMAT_AUTO,
                                          NULL, &error);
  g_assert_null (config);
  assert_config_error (error, JUPITER_CONFIG_ERROR_TOO_COMPLEX, "huge.yaml:1:1: (root): ", "4 MiB");
  g_clear_error (&error);

  /* one byte less is fine */
  config = jupiter_config_load_from_data (text, size - 1, "huge.yaml", JUPITER_CONFIG_FORMAT_AUTO,
                                          NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (config);
  g_clear_pointer (&config, jupiter_config_free);

  /* and the same from a file */
  g_file_set_contents (path, text, size, &error);
  g_assert_no_error (error);
  config = jupiter_config_load (path, &error);
  g_assert_null (config);
  g_assert_error (error, JUPITER_CONFIG_ERROR, JUPITER_CONFIG_ERROR_TOO_COMPLEX);
  g_assert_true (g_str_has_prefix (error->message, path));
  g_assert_cmpint (g_unlink (path), ==, 0);
}

/* ------------------------------------------------------------------------ */
/* Files                                                                     */

static void
test_load_read_errors (void)
{
  g_autofree char *missing = scratch_path ("missing.yaml");
  g_autofree char *dir = scratch_path ("a-dir.yaml");
  g_autofree char *txt = scratch_path ("host.txt");
  g_autofree char *expected = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JupiterConfig) config = NULL;

  config = jupiter_config_load (missing, &error);
  g_assert_null (config);
  g_assert_error (error, JUPITER_CONFIG_ERROR, JUPITER_CONFIG_ERROR_READ);
  expected = g_strdup_printf ("%s: cannot read the configuration file: %s", missing,
                              g_strerror (ENOENT));
  g_assert_cmpstr (error->message, ==, expected);
  g_clear_error (&error);

  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  config = jupiter_config_load (dir, &error);
  g_assert_null (config);
  g_assert_error (error, JUPITER_CONFIG_ERROR, JUPITER_CONFIG_ERROR_READ);
  g_assert_true (g_str_has_prefix (error->message, dir));
  g_clear_error (&error);
  g_assert_cmpint (g_rmdir (dir), ==, 0);

  /* the extension is judged before the file is opened */
  config = jupiter_config_load (txt, &error);
  g_assert_null (config);
  g_assert_error (error, JUPITER_CONFIG_ERROR, JUPITER_CONFIG_ERROR_FORMAT);
  g_assert_true (g_str_has_prefix (error->message, txt));
  g_assert_nonnull (strstr (error->message, ".yaml, .yml or .json"));
  g_clear_error (&error);

  config = load_text ("config", "host: {}\n", &error);
  g_assert_null (config);
  g_assert_error (error, JUPITER_CONFIG_ERROR, JUPITER_CONFIG_ERROR_FORMAT);
  g_clear_error (&error);

  /* a format given explicitly needs no extension */
  config = jupiter_config_load_from_data ("{\"host\": {}}", -1, "config", JUPITER_CONFIG_FORMAT_JSON,
                                          NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (config);
}

static void
test_load_extensions (void)
{
  static const char *const names[] = { "a.yaml", "b.yml", "c.json", "d.YAML" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = scratch_path (names[i]);
      g_autoptr(GError) error = NULL;
      g_autoptr(JupiterConfig) config = NULL;

      /* JSON is YAML too, so the same text works for both; YAML-only syntax
       * tells which reader ran */
      write_scratch (names[i], "{\"host\": {\"max_pending\": 7}}\n");
      config = jupiter_config_load (path, &error);
      g_assert_no_error (error);
      g_assert_nonnull (config);
      g_assert_cmpstr (config->path, ==, path);
      g_assert_cmpuint (config->max_pending, ==, 7);
      g_clear_pointer (&config, jupiter_config_free);

      write_scratch (names[i], "host:\n  max_pending: 8\n");
      config = jupiter_config_load (path, &error);
      if (g_str_has_suffix (names[i], ".json"))
        {
          g_assert_null (config);
          g_assert_error (error, JUPITER_CONFIG_ERROR, JUPITER_CONFIG_ERROR_SYNTAX);
          g_assert_true (g_str_has_prefix (error->message, path));
        }
      else
        {
          g_assert_no_error (error);
          g_assert_cmpuint (config->max_pending, ==, 8);
        }
      g_assert_cmpint (g_unlink (path), ==, 0);
    }
}

/* Errors from a file name the file as given, with 1-based positions. */
static void
test_load_error_position (void)
{
  g_autofree char *path = scratch_path ("bad.yaml");
  g_autofree char *expected = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JupiterConfig) config = NULL;

  write_scratch ("bad.yaml",
                 "# comment\n"
                 "plugins:\n"
                 "  - id: echo\n"
                 "  - id: exec\n"
                 "    circuit_breaker:\n"
                 "      failure_threshold: -2\n");
  config = jupiter_config_load (path, &error);
  g_assert_null (config);
  expected = g_strdup_printf ("%s:6:26: plugins[1].circuit_breaker.failure_threshold: "
                              "expected a positive integer, got -2", path);
  g_assert_error (error, JUPITER_CONFIG_ERROR, JUPITER_CONFIG_ERROR_VALUE);
  g_assert_cmpstr (error->message, ==, expected);
  g_assert_cmpint (g_unlink (path), ==, 0);
}

static void
test_load_bom (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JupiterConfig) config = NULL;

  config = load_text ("c.yaml", "\xef\xbb\xbfhost: {max_pending: x}\n", &error);
  assert_config_error (error, JUPITER_CONFIG_ERROR_TYPE, "c.yaml:1:21: host.max_pending: ", NULL);
  g_clear_error (&error);
  config = load_text ("c.json", "\xef\xbb\xbf{\"host\": {\"max_pending\": \"x\"}}", &error);
  assert_config_error (error, JUPITER_CONFIG_ERROR_TYPE, "c.json:1:26: host.max_pending: ", NULL);
  g_clear_error (&error);
  config = load_text ("c.yaml", "\xef\xbb\xbfhost: {max_pending: 3}\n", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (config->max_pending, ==, 3);
}

/* ------------------------------------------------------------------------ */
/* Valid configurations                                                      */

static const char full_yaml[] =
  "# every key\n"
  "host:\n"
  "  max_concurrent: 8\n"
  "  max_pending: 500\n"
  "  history_limit: 250\n"
  "  plugin_paths: [plugins, other]\n"
  "  allow_unsafe: true\n"
  "  shutdown_grace: 1500ms\n"
  "  export_on_exit:\n"
  "    path: out/jobs.yml\n"
  "    include_results: false\n"
  "circuit_breaker:\n"
  "  failure_threshold: 5\n"
  "  cooldown: 30s\n"
  "  half_open_max_calls: 2\n"
  "  success_threshold: 3\n"
  "plugins:\n"
  "  - id: echo\n"
  "    path: plugins/echo.so\n"
  "    config:\n"
  "      greeting: héllo\n"
  "      limits: {depth: 3, ratio: 0.5, tags: [a, b], none: null, on: true}\n"
  "    circuit_breaker:\n"
  "      failure_threshold: 2\n"
  "      cooldown: 1m\n"
  "      half_open_max_calls: 1\n"
  "      success_threshold: 1\n"
  "    timeout: 5s\n"
  "    max_concurrent: 2\n"
  "  - id: exec_2\n"
  "    enabled: false\n"
  "jobs:\n"
  "  - name: greet\n"
  "    plugin: echo\n"
  "    entry: echo\n"
  "    args: {who: world, n: 3}\n"
  "  - plugin: exec_2\n"
  "    entry: run\n"
  "    args: [ls, -l]\n"
  "    every: 2h\n";

static const char full_json[] =
  "{\n"
  "  \"host\": {\n"
  "    \"max_concurrent\": 8,\n"
  "    \"max_pending\": 500,\n"
  "    \"history_limit\": 250,\n"
  "    \"plugin_paths\": [\"plugins\", \"other\"],\n"
  "    \"allow_unsafe\": true,\n"
  "    \"shutdown_grace\": \"1500ms\",\n"
  "    \"export_on_exit\": {\"path\": \"out/jobs.yml\", \"include_results\": false}\n"
  "  },\n"
  "  \"circuit_breaker\": {\"failure_threshold\": 5, \"cooldown\": \"30s\",\n"
  "                      \"half_open_max_calls\": 2, \"success_threshold\": 3},\n"
  "  \"plugins\": [\n"
  "    {\n"
  "      \"id\": \"echo\",\n"
  "      \"path\": \"plugins/echo.so\",\n"
  "      \"config\": {\"greeting\": \"h\\u00e9llo\",\n"
  "                 \"limits\": {\"depth\": 3, \"ratio\": 0.5, \"tags\": [\"a\", \"b\"],\n"
  "                            \"none\": null, \"on\": true}},\n"
  "      \"circuit_breaker\": {\"failure_threshold\": 2, \"cooldown\": \"1m\",\n"
  "                          \"half_open_max_calls\": 1, \"success_threshold\": 1},\n"
  "      \"timeout\": \"5s\",\n"
  "      \"max_concurrent\": 2\n"
  "    },\n"
  "    {\"id\": \"exec_2\", \"enabled\": false}\n"
  "  ],\n"
  "  \"jobs\": [\n"
  "    {\"name\": \"greet\", \"plugin\": \"echo\", \"entry\": \"echo\",\n"
  "     \"args\": {\"who\": \"world\", \"n\": 3}},\n"
  "    {\"plugin\": \"exec_2\", \"entry\": \"run\", \"args\": [\"ls\", \"-l\"], \"every\": \"2h\"}\n"
  "  ]\n"
  "}\n";

static void
assert_same_breaker (const JupiterCircuitBreakerConfig *a,
                     const JupiterCircuitBreakerConfig *b)
{
  g_assert_cmpuint (a->failure_threshold, ==, b->failure_threshold);
  g_assert_cmpint (a->cooldown, ==, b->cooldown);
  g_assert_cmpuint (a->half_open_max_calls, ==, b->half_open_max_calls);
  g_assert_cmpuint (a->success_threshold, ==, b->success_threshold);
}

static void
assert_same_json (JsonNode *a,
                  JsonNode *b)
{
  if (a == NULL || b == NULL)
    {
      g_assert_true (a == b);
      return;
    }
  g_assert_true (json_node_is_immutable (a));
  g_assert_true (json_node_is_immutable (b));
  g_assert_true (json_node_equal (a, b));
}

/* "FILE:L:C: plugins[N]" without FILE:L:C */
static const char *
where_path (const char *where)
{
  const char *p = strstr (where, ": ");

  g_assert_nonnull (p);
  return p + 2;
}

static void
assert_same_config (const JupiterConfig *a,
                    const JupiterConfig *b)
{
  g_assert_cmpuint (a->max_concurrent, ==, b->max_concurrent);
  g_assert_cmpuint (a->max_pending, ==, b->max_pending);
  g_assert_cmpuint (a->history_limit, ==, b->history_limit);
  g_assert_cmpstrv (a->plugin_paths, b->plugin_paths);
  g_assert_cmpint (a->allow_unsafe, ==, b->allow_unsafe);
  g_assert_cmpint (a->shutdown_grace, ==, b->shutdown_grace);
  g_assert_cmpstr (a->export_path, ==, b->export_path);
  g_assert_cmpstr (a->export_format, ==, b->export_format);
  g_assert_cmpint (a->export_include_results, ==, b->export_include_results);
  assert_same_breaker (&a->breaker, &b->breaker);

  g_assert_cmpuint (a->plugins->len, ==, b->plugins->len);
  for (guint i = 0; i < a->plugins->len; i++)
    {
      const JupiterConfigPlugin *pa = a->plugins->pdata[i];
      const JupiterConfigPlugin *pb = b->plugins->pdata[i];

      g_assert_cmpstr (pa->id, ==, pb->id);
      g_assert_cmpstr (pa->path, ==, pb->path);
      g_assert_cmpint (pa->enabled, ==, pb->enabled);
      assert_same_json (pa->config, pb->config);
      assert_same_breaker (&pa->breaker, &pb->breaker);
      g_assert_cmpint (pa->timeout, ==, pb->timeout);
      g_assert_cmpuint (pa->max_concurrent, ==, pb->max_concurrent);
      g_assert_cmpstr (where_path (pa->where), ==, where_path (pb->where));
    }

  g_assert_cmpuint (a->jobs->len, ==, b->jobs->len);
  for (guint i = 0; i < a->jobs->len; i++)
    {
      const JupiterConfigJob *ja = a->jobs->pdata[i];
      const JupiterConfigJob *jb = b->jobs->pdata[i];

      g_assert_cmpstr (ja->name, ==, jb->name);
      g_assert_cmpstr (ja->plugin, ==, jb->plugin);
      g_assert_cmpstr (ja->entry, ==, jb->entry);
      assert_same_json (ja->args, jb->args);
      g_assert_cmpint (ja->every, ==, jb->every);
      g_assert_cmpstr (where_path (ja->where), ==, where_path (jb->where));
    }
}

static void
test_full_yaml_and_json (void)
{
  g_autofree char *yaml_path = scratch_path ("full.yaml");
  g_autofree char *json_path = scratch_path ("full.json");
  g_autofree char *echo = scratch_path ("plugins/echo.so");
  g_autofree char *plugins = scratch_path ("plugins");
  g_autofree char *other = scratch_path ("other");
  g_autofree char *export = scratch_path ("out/jobs.yml");
  g_autofree char *where = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JupiterConfig) y = NULL;
  g_autoptr(JupiterConfig) j = NULL;
  const JupiterConfigPlugin *p;
  const JupiterConfigJob *job;
  JsonObject *limits;

  write_scratch ("full.yaml", full_yaml);
  write_scratch ("full.json", full_json);
  y = jupiter_config_load (yaml_path, &error);
  g_assert_no_error (error);
  j = jupiter_config_load (json_path, &error);
  g_assert_no_error (error);
  assert_same_config (y, j);

  /* and the values themselves */
  g_assert_cmpstr (y->path, ==, yaml_path);
  g_assert_cmpuint (y->max_concurrent, ==, 8);
  g_assert_cmpuint (y->max_pending, ==, 500);
  g_assert_cmpuint (y->history_limit, ==, 250);
  g_assert_cmpuint (g_strv_length (y->plugin_paths), ==, 2);
  g_assert_cmpstr (y->plugin_paths[0], ==, plugins);
  g_assert_cmpstr (y->plugin_paths[1], ==, other);
  g_assert_true (y->allow_unsafe);
  g_assert_cmpint (y->shutdown_grace, ==, 1500 * G_TIME_SPAN_MILLISECOND);
  g_assert_cmpstr (y->export_path, ==, export);
  g_assert_cmpstr (y->export_format, ==, "yaml");
  g_assert_false (y->export_include_results);
  g_assert_cmpuint (y->breaker.failure_threshold, ==, 5);
  g_assert_cmpint (y->breaker.cooldown, ==, 30 * G_TIME_SPAN_SECOND);
  g_assert_cmpuint (y->breaker.half_open_max_calls, ==, 2);
  g_assert_cmpuint (y->breaker.success_threshold, ==, 3);

  g_assert_cmpuint (y->plugins->len, ==, 2);
  p = y->plugins->pdata[0];
  g_assert_cmpstr (p->id, ==, "echo");
  g_assert_cmpstr (p->path, ==, echo);
  g_assert_true (p->enabled);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (p->config), "greeting"),
                   ==, "héllo");
  limits = json_object_get_object_member (json_node_get_object (p->config), "limits");
  g_assert_cmpint (json_object_get_int_member (limits, "depth"), ==, 3);
  g_assert_cmpfloat (json_object_get_double_member (limits, "ratio"), ==, 0.5);
  g_assert_true (json_object_get_null_member (limits, "none"));
  g_assert_true (json_object_get_boolean_member (limits, "on"));
  g_assert_cmpuint (p->breaker.failure_threshold, ==, 2);
  g_assert_cmpint (p->breaker.cooldown, ==, G_TIME_SPAN_MINUTE);
  g_assert_cmpint (p->timeout, ==, 5 * G_TIME_SPAN_SECOND);
  g_assert_cmpuint (p->max_concurrent, ==, 2);
  where = g_strdup_printf ("%s:18:5: plugins[0]", yaml_path);
  g_assert_cmpstr (p->where, ==, where);
  g_clear_pointer (&where, g_free);
  where = g_strdup_printf ("%s:14:5: plugins[0]", json_path);
  g_assert_cmpstr (((JupiterConfigPlugin *) j->plugins->pdata[0])->where, ==, where);
  g_clear_pointer (&where, g_free);

  p = y->plugins->pdata[1];
  g_assert_cmpstr (p->id, ==, "exec_2");
  g_assert_null (p->path);
  g_assert_false (p->enabled);
  g_assert_null (p->config);
  g_assert_cmpuint (p->breaker.failure_threshold, ==, 0);
  g_assert_cmpint (p->timeout, ==, 0);
  g_assert_cmpuint (p->max_concurrent, ==, 0);

  g_assert_cmpuint (y->jobs->len, ==, 2);
  job = y->jobs->pdata[0];
  g_assert_cmpstr (job->name, ==, "greet");
  g_assert_cmpstr (job->plugin, ==, "echo");
  g_assert_cmpstr (job->entry, ==, "echo");
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (job->args), "n"), ==, 3);
  g_assert_cmpint (job->every, ==, 0);
  where = g_strdup_printf ("%s:33:5: jobs[0]", yaml_path);
  g_assert_cmpstr (job->where, ==, where);
  g_clear_pointer (&where, g_free);
  job = y->jobs->pdata[1];
  g_assert_null (job->name);
  g_assert_cmpint (job->every, ==, 2 * G_TIME_SPAN_HOUR);
  g_assert_cmpuint (json_array_get_length (json_node_get_array (job->args)), ==, 2);

  g_assert_cmpint (g_unlink (yaml_path), ==, 0);
  g_assert_cmpint (g_unlink (json_path), ==, 0);
}

static void
test_defaults (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JupiterConfig) config = NULL;
  const JupiterConfigPlugin *p;
  const JupiterConfigJob *job;

  config = load_text ("c.yaml",
                      "plugins:\n  - id: echo\njobs:\n  - plugin: echo\n    entry: echo\n"
                      "host:\n  export_on_exit: {path: /tmp/x.json}\n", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (config->path, ==, "c.yaml");
  g_assert_cmpuint (config->max_concurrent, ==, 0);
  g_assert_cmpuint (config->max_pending, ==, 0);
  g_assert_cmpuint (config->history_limit, ==, 0);
  g_assert_nonnull (config->plugin_paths);
  g_assert_cmpuint (g_strv_length (config->plugin_paths), ==, 0);
  g_assert_false (config->allow_unsafe);
  g_assert_cmpint (config->shutdown_grace, ==, -1);
  g_assert_cmpstr (config->export_path, ==, "/tmp/x.json");
  g_assert_cmpstr (config->export_format, ==, "json");
  g_assert_true (config->export_include_results);
  g_assert_cmpuint (config->breaker.failure_threshold, ==, 0);
  g_assert_cmpint (config->breaker.cooldown, ==, 0);

  p = config->plugins->pdata[0];
  g_assert_true (p->enabled);
  g_assert_null (p->path);
  g_assert_null (p->config);
  g_assert_cmpstr (p->where, ==, "c.yaml:2:5: plugins[0]");
  job = config->jobs->pdata[0];
  g_assert_null (job->name);
  g_assert_null (job->args);
  g_assert_cmpint (job->every, ==, 0);
  g_assert_cmpstr (job->where, ==, "c.yaml:4:5: jobs[0]");
  g_clear_pointer (&config, jupiter_config_free);

  /* an empty mapping, and empty sections */
  config = load_text ("c.json", "{}", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (config->plugins->len, ==, 0);
  g_assert_cmpuint (config->jobs->len, ==, 0);
  g_assert_null (config->export_path);
  g_assert_null (config->export_format);
  g_clear_pointer (&config, jupiter_config_free);

  config = load_text ("c.yaml", "host:\ncircuit_breaker:\nplugins:\njobs:\n", &error);
  g_assert_no_error (error);
  g_assert_cmpint (config->shutdown_grace, ==, -1);
  g_clear_pointer (&config, jupiter_config_free);

  config = load_text ("c.yaml", "host: {shutdown_grace: 0s, export_on_exit: {path: a.b/x.YML}}\n",
                      &error);
  g_assert_no_error (error);
  g_assert_cmpint (config->shutdown_grace, ==, 0);
  g_assert_cmpstr (config->export_format, ==, "yaml");
}

static void
test_relative_paths (void)
{
  g_autofree char *sub = scratch_path ("sub");
  g_autofree char *path = scratch_path ("sub/c.yaml");
  g_autofree char *plugins = scratch_path ("plugins");
  g_autofree char *echo = scratch_path ("plugins/echo.so");
  g_autofree char *export = scratch_path ("sub/out/jobs.json");
  g_autofree char *cwd = g_get_current_dir ();
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JupiterConfig) config = NULL;

  g_assert_cmpint (g_mkdir (sub, 0700), ==, 0);
  text = g_strdup_printf ("host:\n"
                          "  plugin_paths: [../plugins, ./../other/, /]\n"
                          "  export_on_exit: {path: out/jobs.json}\n"
                          "plugins:\n"
                          "  - {id: echo, path: ../plugins/./echo.so}\n"
                          "  - {id: abs, path: \"%s\"}\n", echo);
  write_scratch ("sub/c.yaml", text);
  config = jupiter_config_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (config->plugin_paths[0], ==, plugins);
  g_assert_true (g_str_has_suffix (config->plugin_paths[1], "/other"));
  g_assert_true (g_path_is_absolute (config->plugin_paths[1]));
  g_assert_cmpstr (config->plugin_paths[2], ==, "/");
  g_assert_cmpstr (config->export_path, ==, export);
  g_assert_cmpstr (((JupiterConfigPlugin *) config->plugins->pdata[0])->path, ==, echo);
  g_assert_cmpstr (((JupiterConfigPlugin *) config->plugins->pdata[1])->path, ==, echo);
  g_clear_pointer (&config, jupiter_config_free);

  /* a relative config path: the file's directory, made absolute */
  g_assert_cmpint (g_chdir (scratch), ==, 0);
  config = jupiter_config_load ("sub/c.yaml", &error);
  g_assert_cmpint (g_chdir (cwd), ==, 0);
  g_assert_no_error (error);
  g_assert_cmpstr (config->path, ==, "sub/c.yaml");
  g_assert_cmpstr (config->plugin_paths[0], ==, plugins);
  g_assert_cmpstr (config->export_path, ==, export);
  g_clear_pointer (&config, jupiter_config_free);

  /* from data: base_dir */
  config = jupiter_config_load_from_data ("host: {plugin_paths: [plugins]}", -1, "c.yaml",
                                          JUPITER_CONFIG_FORMAT_AUTO, scratch, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (config->plugin_paths[0], ==, plugins);

  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_cmpint (g_rmdir (sub), ==, 0);
}

/* Plain scalars by the YAML 1.2 core schema, inside a plugin's config. */
static void
test_core_schema_scalars (void)
{
  static const char text[] =
    "plugins:\n"
    "  - id: echo\n"
    "    config:\n"
    "      yes: yes\n"
    "      no: No\n"
    "      on: off\n"
    "      hex: 0x1F\n"
    "      oct: 0o17\n"
    "      dec: -0042\n"
    "      plus: +12\n"
    "      min: -9223372036854775808\n"
    "      inf: .inf\n"
    "      ninf: -.Inf\n"
    "      nan: .NaN\n"
    "      tilde: ~\n"
    "      null_word: Null\n"
    "      empty:\n"
    "      quoted_int: \"123\"\n"
    "      single: 'true'\n"
    "      float: 1e3\n"
    "      point: .5\n"
    "      trailing: 3.\n"
    "      underscore: 1_000\n"
    "      sexagesimal: 1:30\n"
    "      bools: [true, True, TRUE, false, False, FALSE]\n"
    "      tagged_str: !!str 123\n"
    "      tagged_float: !!float 1\n"
    "      tagged_null: !!null ''\n"
    "      tagged_bool: !!bool \"true\"\n"
    "      tagged_map: !!map {a: 1}\n"
    "      nonspecific: ! 12\n"
    "      literal: |\n"
    "        two\n"
    "        lines\n"
    "      folded: >-\n"
    "        one\n"
    "        line\n"
    "      1: integer key\n"
    "      ? [not, here]\n"
    "      : x\n";
  g_autoptr(GError) error = NULL;
  g_autoptr(JupiterConfig) config = NULL;
  g_autoptr(JsonNode) expected = NULL;
  JsonObject *o;
  JsonArray *bools;

  config = load_text ("c.yaml", text, &error);
  /* a list is no key: the last entry is refused */
  assert_config_error (error, JUPITER_CONFIG_ERROR_TYPE, "c.yaml:39:9: plugins[0].config: ",
                       "a mapping key must be a scalar, got a list");
  g_clear_error (&error);

  config = jupiter_config_load_from_data (text, strstr (text, "      ? [") - text, "c.yaml",
                                          JUPITER_CONFIG_FORMAT_YAML, NULL, &error);
  g_assert_no_error (error);
  o = json_node_get_object (((JupiterConfigPlugin *) config->plugins->pdata[0])->config);
  g_assert_cmpstr (json_object_get_string_member (o, "yes"), ==, "yes");
  g_assert_cmpstr (json_object_get_string_member (o, "no"), ==, "No");
  g_assert_cmpstr (json_object_get_string_member (o, "on"), ==, "off");
  g_assert_cmpint (json_object_get_int_member (o, "hex"), ==, 31);
  g_assert_cmpint (json_object_get_int_member (o, "oct"), ==, 15);
  g_assert_cmpint (json_object_get_int_member (o, "dec"), ==, -42);
  g_assert_cmpint (json_object_get_int_member (o, "plus"), ==, 12);
  g_assert_cmpint (json_object_get_int_member (o, "min"), ==, G_MININT64);
  g_assert_true (isinf (json_object_get_double_member (o, "inf")));
  g_assert_cmpfloat (json_object_get_double_member (o, "inf"), >, 0);
  g_assert_cmpfloat (json_object_get_double_member (o, "ninf"), <, 0);
  g_assert_true (isinf (json_object_get_double_member (o, "ninf")));
  g_assert_true (isnan (json_object_get_double_member (o, "nan")));
  g_assert_true (json_object_get_null_member (o, "tilde"));
  g_assert_true (json_object_get_null_member (o, "null_word"));
  g_assert_true (json_object_get_null_member (o, "empty"));
  g_assert_cmpstr (json_object_get_string_member (o, "quoted_int"), ==, "123");
  g_assert_cmpstr (json_object_get_string_member (o, "single"), ==, "true");
  g_assert_cmpint (json_node_get_value_type (json_object_get_member (o, "float")), ==, G_TYPE_DOUBLE);
  g_assert_cmpfloat (json_object_get_double_member (o, "float"), ==, 1000.0);
  g_assert_cmpfloat (json_object_get_double_member (o, "point"), ==, 0.5);
  g_assert_cmpfloat (json_object_get_double_member (o, "trailing"), ==, 3.0);
  g_assert_cmpstr (json_object_get_string_member (o, "underscore"), ==, "1_000");
  g_assert_cmpstr (json_object_get_string_member (o, "sexagesimal"), ==, "1:30");
  bools = json_object_get_array_member (o, "bools");
  for (guint i = 0; i < 6; i++)
    g_assert_cmpint (json_array_get_boolean_element (bools, i), ==, i < 3);
  g_assert_cmpstr (json_object_get_string_member (o, "tagged_str"), ==, "123");
  g_assert_cmpint (json_node_get_value_type (json_object_get_member (o, "tagged_float")), ==,
                   G_TYPE_DOUBLE);
  g_assert_cmpfloat (json_object_get_double_member (o, "tagged_float"), ==, 1.0);
  g_assert_true (json_object_get_null_member (o, "tagged_null"));
  g_assert_true (json_object_get_boolean_member (o, "tagged_bool"));
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (o, "tagged_map"), "a"),
                   ==, 1);
  g_assert_cmpstr (json_object_get_string_member (o, "nonspecific"), ==, "12");
  g_assert_cmpstr (json_object_get_string_member (o, "literal"), ==, "two\nlines\n");
  g_assert_cmpstr (json_object_get_string_member (o, "folded"), ==, "one line");
  g_assert_cmpstr (json_object_get_string_member (o, "1"), ==, "integer key");
}

/* JSON read by our scanner: escapes, surrogate pairs, numbers, tabs,
 * no spaces at all. */
static void
test_json_details (void)
{
  static const char text[] =
    "{\"plugins\":[{\"id\":\"echo\",\"config\":{\t\"e\":\t\"\\u00e9\\u00E9\",\n"
    "\t\t\"emoji\": \"\\ud83d\\ude00\", \"raw\": \"ŝ😀\",\n"
    "\t\t\"esc\": \"\\\"\\\\\\/\\b\\f\\n\\r\\t\",\n"
    "\t\t\"big\": 9223372036854775807, \"small\": -9223372036854775808,\n"
    "\t\t\"f\": -1.5e-3, \"g\": 1E2, \"z\": 0, \"nz\": -0, \"t\": true, \"n\": null,\n"
    "\t\t\"yes\": \"yes\", \"list\": [], \"map\": {}}}]}";
  g_autoptr(GError) error = NULL;
  g_autoptr(JupiterConfig) config = load_text ("c.json", text, &error);
  JsonObject *o;

  g_assert_no_error (error);
  o = json_node_get_object (((JupiterConfigPlugin *) config->plugins->pdata[0])->config);
  g_assert_cmpstr (json_object_get_string_member (o, "e"), ==, "éé");
  g_assert_cmpstr (json_object_get_string_member (o, "emoji"), ==, "😀");
  g_assert_cmpstr (json_object_get_string_member (o, "raw"), ==, "ŝ😀");
  g_assert_cmpstr (json_object_get_string_member (o, "esc"), ==, "\"\\/\b\f\n\r\t");
  g_assert_cmpint (json_object_get_int_member (o, "big"), ==, G_MAXINT64);
  g_assert_cmpint (json_object_get_int_member (o, "small"), ==, G_MININT64);
  g_assert_cmpfloat (json_object_get_double_member (o, "f"), ==, -1.5e-3);
  g_assert_cmpfloat (json_object_get_double_member (o, "g"), ==, 100.0);
  g_assert_cmpint (json_object_get_int_member (o, "z"), ==, 0);
  g_assert_cmpint (json_node_get_value_type (json_object_get_member (o, "nz")), ==, G_TYPE_INT64);
  g_assert_true (json_object_get_boolean_member (o, "t"));
  g_assert_true (json_object_get_null_member (o, "n"));
  g_assert_cmpstr (json_object_get_string_member (o, "yes"), ==, "yes");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (o, "list")), ==, 0);
  g_assert_cmpuint (json_object_get_size (json_object_get_object_member (o, "map")), ==, 0);
  g_clear_pointer (&config, jupiter_config_free);

  /* positions after tabs and escapes count characters */
  config = load_text ("c.json", "{\"host\":\t{\"max_pending\": \"\\u00e9\"}}", &error);
  assert_config_error (error, JUPITER_CONFIG_ERROR_TYPE, "c.json:1:26: host.max_pending: ",
                       "the string “é”");
}

static void
test_anchors_shared_breaker (void)
{
  static const char text[] =
    "circuit_breaker: &strict\n"
    "  failure_threshold: 2\n"
    "  cooldown: 1m\n"
    "plugins:\n"
    "  - id: echo\n"
    "    circuit_breaker: *strict\n"
    "    config: &cfg {mode: fast, list: [1, 2]}\n"
    "  - id: exec\n"
    "    circuit_breaker: *strict\n"
    "    config: *cfg\n"
    "jobs:\n"
    "  - &job {plugin: echo, entry: echo, every: 5s}\n"
    "  - *job\n";
  g_autoptr(GError) error = NULL;
  g_autoptr(JupiterConfig) config = load_text ("c.yaml", text, &error);
  const JupiterConfigPlugin *a, *b;

  g_assert_no_error (error);
  a = config->plugins->pdata[0];
  b = config->plugins->pdata[1];
  g_assert_cmpuint (config->breaker.failure_threshold, ==, 2);
  g_assert_cmpuint (a->breaker.failure_threshold, ==, 2);
  g_assert_cmpint (a->breaker.cooldown, ==, G_TIME_SPAN_MINUTE);
  g_assert_cmpuint (b->breaker.failure_threshold, ==, 2);
  g_assert_cmpint (b->breaker.cooldown, ==, G_TIME_SPAN_MINUTE);
  g_assert_true (json_node_equal (a->config, b->config));
  g_assert_true (a->config != b->config);
  g_assert_cmpuint (config->jobs->len, ==, 2);
  g_assert_cmpint (((JupiterConfigJob *) config->jobs->pdata[1])->every, ==, 5 * G_TIME_SPAN_SECOND);
  /* an aliased item is where the alias is */
  g_assert_cmpstr (((JupiterConfigJob *) config->jobs->pdata[1])->where, ==, "c.yaml:13:5: jobs[1]");
  g_clear_pointer (&config, jupiter_config_free);

  /* a wrong value met through an alias: the path is where it is used */
  config = load_text ("c.yaml",
                      "x-defaults: &d {failure_threshold: 0}\n", &error);
  g_assert_error (error, JUPITER_CONFIG_ERROR, JUPITER_CONFIG_ERROR_UNKNOWN_KEY);
  g_clear_error (&error);
  config = load_text ("c.yaml",
                      "plugins:\n  - id: echo\n    config: &d {failure_threshold: 0}\n"
                      "  - id: exec\n    circuit_breaker: *d\n", &error);
  assert_config_error (error, JUPITER_CONFIG_ERROR_VALUE,
                       "c.yaml:3:36: plugins[1].circuit_breaker.failure_threshold: ", "got 0");
}

/* Keys are their scalar text; ids and paths in messages are quoted. */
static void
test_key_paths (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JupiterConfig) config = NULL;

  config = load_text ("c.yaml", "plugins: [{id: echo, config: {a.b: {\"\": [1, {x: *nope}]}}}]\n",
                      &error);
  assert_config_error (error, JUPITER_CONFIG_ERROR_SYNTAX,
                       "c.yaml:1:49: plugins[0].config[“a.b”][“”][1].x: ", NULL);
  g_clear_error (&error);

  config = load_text ("c.yaml", "\"host \": {}\n", &error);
  assert_config_error (error, JUPITER_CONFIG_ERROR_UNKNOWN_KEY, "c.yaml:1:1: [“host ”]: ", NULL);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autofree char *plugins = NULL;
  g_autofree char *other = NULL;
  g_autofree char *echo = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);

  scratch = g_dir_make_tmp ("jupiter-config-XXXXXX", &error);
  g_assert_no_error (error);
  plugins = scratch_path ("plugins");
  other = scratch_path ("other");
  echo = scratch_path ("plugins/echo.so");
  g_assert_cmpint (g_mkdir (plugins, 0700), ==, 0);
  g_assert_cmpint (g_mkdir (other, 0700), ==, 0);
  write_scratch ("plugins/echo.so", "not really a plugin\n");

  for (guint i = 0; i < G_N_ELEMENTS (error_cases); i++)
    {
      g_autofree char *path = g_strconcat ("/config/error/", error_cases[i].name, NULL);
      g_test_add_data_func (path, &error_cases[i], test_error_case);
    }
  g_test_add_func ("/config/limits/billion-laughs", test_limits_billion_laughs);
  g_test_add_func ("/config/limits/billion-laughs-in-config", test_limits_billion_laughs_in_config);
  g_test_add_func ("/config/limits/alias-depth", test_limits_alias_depth);
  g_test_add_func ("/config/limits/deep-yaml", test_limits_deep_yaml);
  g_test_add_func ("/config/limits/deep-json", test_limits_deep_json);
  g_test_add_func ("/config/limits/deep-json-allowed", test_limits_deep_json_allowed);
  g_test_add_func ("/config/limits/many-nodes", test_limits_many_nodes);
  g_test_add_func ("/config/limits/input-size", test_limits_input_size);
  g_test_add_func ("/config/load/read-errors", test_load_read_errors);
  g_test_add_func ("/config/load/extensions", test_load_extensions);
  g_test_add_func ("/config/load/error-position", test_load_error_position);
  g_test_add_func ("/config/load/bom", test_load_bom);
  g_test_add_func ("/config/valid/full-yaml-and-json", test_full_yaml_and_json);
  g_test_add_func ("/config/valid/defaults", test_defaults);
  g_test_add_func ("/config/valid/relative-paths", test_relative_paths);
  g_test_add_func ("/config/valid/core-schema-scalars", test_core_schema_scalars);
  g_test_add_func ("/config/valid/json-details", test_json_details);
  g_test_add_func ("/config/valid/anchors", test_anchors_shared_breaker);
  g_test_add_func ("/config/valid/key-paths", test_key_paths);

  status = g_test_run ();

  g_assert_cmpint (g_unlink (echo), ==, 0);
  g_assert_cmpint (g_rmdir (plugins), ==, 0);
  g_assert_cmpint (g_rmdir (other), ==, 0);
  g_assert_cmpint (g_rmdir (scratch), ==, 0);
  g_clear_pointer (&scratch, g_free);
  return status;
}
