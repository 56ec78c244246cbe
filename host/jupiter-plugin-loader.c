/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "jupiter-job-manager-private.h"
#include "jupiter-plugin-loader-private.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/**
 * JupiterPlugin:
 *
 * One plugin file as the [class@Jupiter.PluginLoader] found it: its
 * descriptor's id, name, version, description, license and entry points
 * once loaded, or the reason it failed. Failed plugins stay listed.
 *
 * Immutable once the loader returns it; safe to read from any thread.
 *
 * Since: 0.1
 */

/**
 * JupiterPluginLoader:
 *
 * Finds, checks and loads plugins, and runs their entry points as jobs of a
 * [class@Jupiter.JobManager].
 *
 * Loading a file checks, in order, each failure a %JUPITER_PLUGIN_ERROR
 * whose message names the file: that it is a regular file and not a
 * symbolic link, owned by root or the host's user, and that neither it nor
 * its directory is writable by group or others (opened with `O_NOFOLLOW`,
 * checked with `fstat()` on the very descriptor, the directory through a
 * directory descriptor); then it loads that very file through
 * `/proc/self/fd/N` with `RTLD_NOW | RTLD_LOCAL`; that the library was not
 * loaded before in this process, by this or another loader, whether or
 * not that load succeeded (glibc hands back the loaded copy for the same
 * device and inode, and none of a plugin's code may run twice: a failure
 * after loading is final for the process); then the descriptor: the
 * `jupiter_plugin_describe` symbol, the SDK ABI (major equal, minor not
 * newer), the struct sizes, the id, name and version, each entry (size,
 * unique name, exactly one function); when loaded by id (load or
 * discovery), that the id is the file's name without `.so`; a duplicate id
 * (reserved before `init` runs, so two loads of one id cannot both run
 * it); finally the plugin's `init`. The descriptor stays open and the
 * library is never unloaded, for the life of the process (glibc matches
 * loaded objects by name, so a reused descriptor number would hand back an
 * earlier plugin).
 *
 * #JupiterPluginLoader:allow-unsafe skips the ownership and permission
 * checks, for development, and logs a warning for each file it lets
 * through.
 *
 * ## Threads
 *
 * Load and shut down plugins from the host's main thread: plugins' `init`
 * and `shutdown` run in the calling thread. Loads from several threads at
 * once are safe (of two loads of one library or one id, the second is
 * refused before any of its code runs), but none may overlap
 * jupiter_plugin_loader_shutdown(); a load after it fails. Lookups and
 * jupiter_plugin_loader_submit() are safe from any thread.
 *
 * Since: 0.1
 */

#define PLUGIN_ID_CHARS "abcdefghijklmnopqrstuvwxyz0123456789-_"
#define MIN_DESCRIPTOR_SIZE (G_STRUCT_OFFSET (JupiterPluginDescriptor, max_concurrent) + sizeof (guint))
#define MIN_ENTRY_SIZE (G_STRUCT_OFFSET (JupiterPluginEntry, timeout) + sizeof (gint64))
#define MAX_ENTRIES 4096

struct _JupiterPlugin
{
  GObject                        parent_instance;
  char                          *path;
  JupiterPluginState             state;
  GError                        *error;
  const JupiterPluginDescriptor *desc;      /* loaded: valid for the process */
  GPtrArray                     *entries;   /* of const JupiterPluginEntry* */
  char                          *id;        /* the descriptor's, or NULL */
  void                          *handle;
  int                            fd;
  dev_t                          dev;       /* of the file, once known */
  ino_t                          ino;
  gboolean                       identified; /* dev, ino and ctime are set */
  gboolean                       opened;    /* fd holds the file open */
  gint64                         ctime_ns;  /* a record not held open may be reused */
  gboolean                       reserved;  /* its id is in loader->loading */
  gint                           shut_down; /* atomic */
};

/* Every library loaded in this process, dlopen() handle -> the path it was
 * first loaded from, recorded as soon as dlopen() returns and never
 * removed (nothing is dlclose()d): glibc hands back the same handle for a
 * file already loaded (by device and inode), so no loader may run that
 * plugin's code again, whether its first load succeeded or not. Guarded by
 * loaded_lock. */
static GMutex loaded_lock;
static GHashTable *loaded_handles;

G_DEFINE_FINAL_TYPE (JupiterPlugin, jupiter_plugin, G_TYPE_OBJECT)

G_DEFINE_QUARK (jupiter-plugin-error-quark, jupiter_plugin_error)

struct _JupiterPluginLoader
{
  GObject    parent_instance;
  GMutex     lock;          /* guards below */
  GPtrArray *plugins;       /* every file tried, in order */
  GHashTable*by_id;         /* id -> loaded JupiterPlugin */
  GHashTable*loading;       /* id -> path, reserved by loads under way */
  gboolean   shut_down;
  GStrv      search_path;
  gboolean   allow_unsafe;
};

enum {
  PROP_0,
  PROP_ALLOW_UNSAFE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (JupiterPluginLoader, jupiter_plugin_loader, G_TYPE_OBJECT)

/* ------------------------------------------------------------------------ */
/* JupiterPlugin                                                             */

static void
jupiter_plugin_finalize (GObject *object)
{
  JupiterPlugin *self = JUPITER_PLUGIN (object);

  /* A loaded library is never unloaded and its descriptor never closed
   * (see the loader's documentation); a file that failed before loading
   * gives its descriptor back. */
  if (self->handle == NULL && self->fd >= 0)
    close (self->fd);
  g_clear_pointer (&self->entries, g_ptr_array_unref);
  g_clear_error (&self->error);
  g_free (self->path);
  g_free (self->id);

  G_OBJECT_CLASS (jupiter_plugin_parent_class)->finalize (object);
}

static void
jupiter_plugin_class_init (JupiterPluginClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = jupiter_plugin_finalize;
}

static void
jupiter_plugin_init (JupiterPlugin *self)
{
  self->fd = -1;
  self->state = JUPITER_PLUGIN_STATE_FAILED;
  self->entries = g_ptr_array_new ();
}

/**
 * jupiter_plugin_get_id:
 * @self: a #JupiterPlugin
 *
 * Returns: (transfer none) (nullable): the plugin id, if its descriptor
 *   could be read
 */
const char *
jupiter_plugin_get_id (JupiterPlugin *self)
{
  g_return_val_if_fail (JUPITER_IS_PLUGIN (self), NULL);
  return self->id;
}

#define DESC_STRING_GETTER(field)                                              \
  const char *                                                                 \
  jupiter_plugin_get_##field (JupiterPlugin *self)                             \
  {                                                                            \
    g_return_val_if_fail (JUPITER_IS_PLUGIN (self), NULL);                     \
    return self->desc ? self->desc->field : NULL;                              \
  }

/**
 * jupiter_plugin_get_name:
 * @self: a #JupiterPlugin
 *
 * Returns: (transfer none) (nullable): the plugin's name, once loaded
 */
DESC_STRING_GETTER (name)

/**
 * jupiter_plugin_get_version:
 * @self: a #JupiterPlugin
 *
 * Returns: (transfer none) (nullable): the plugin's version, once loaded
 */
DESC_STRING_GETTER (version)

/**
 * jupiter_plugin_get_description:
 * @self: a #JupiterPlugin
 *
 * Returns: (transfer none) (nullable): the plugin's description
 */
DESC_STRING_GETTER (description)

/**
 * jupiter_plugin_get_license:
 * @self: a #JupiterPlugin
 *
 * Returns: (transfer none) (nullable): the plugin's license
 */
DESC_STRING_GETTER (license)

/**
 * jupiter_plugin_get_path:
 * @self: a #JupiterPlugin
 *
 * Returns: (transfer none) (type filename): the file the plugin came from
 */
const char *
jupiter_plugin_get_path (JupiterPlugin *self)
{
  g_return_val_if_fail (JUPITER_IS_PLUGIN (self), NULL);
  return self->path;
}

/**
 * jupiter_plugin_get_state:
 * @self: a #JupiterPlugin
 *
 * Returns: the plugin's state
 */
JupiterPluginState
jupiter_plugin_get_state (JupiterPlugin *self)
{
  g_return_val_if_fail (JUPITER_IS_PLUGIN (self), JUPITER_PLUGIN_STATE_FAILED);
  return self->state;
}

/**
 * jupiter_plugin_get_error:
 * @self: a #JupiterPlugin
 *
 * Returns: (transfer none) (nullable): why the plugin failed
 */
const GError *
jupiter_plugin_get_error (JupiterPlugin *self)
{
  g_return_val_if_fail (JUPITER_IS_PLUGIN (self), NULL);
  return self->error;
}

/**
 * jupiter_plugin_dup_entry_names:
 * @self: a #JupiterPlugin
 *
 * Returns: (transfer full): the names of the plugin's entry points, in the
 *   descriptor's order (empty unless loaded)
 */
GStrv
jupiter_plugin_dup_entry_names (JupiterPlugin *self)
{
  GStrvBuilder *builder;
  GStrv names;

  g_return_val_if_fail (JUPITER_IS_PLUGIN (self), NULL);

  builder = g_strv_builder_new ();
  for (guint i = 0; i < self->entries->len; i++)
    g_strv_builder_add (builder, ((const JupiterPluginEntry *) self->entries->pdata[i])->name);
  names = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return names;
}

static const JupiterPluginEntry *
find_entry (JupiterPlugin *self,
            const char    *name)
{
  for (guint i = 0; i < self->entries->len; i++)
    {
      const JupiterPluginEntry *entry = self->entries->pdata[i];
      if (g_str_equal (entry->name, name))
        return entry;
    }
  return NULL;
}

/**
 * jupiter_plugin_get_entry_description:
 * @self: a #JupiterPlugin
 * @entry_name: an entry point's name
 *
 * Returns: (transfer none) (nullable): the entry's description
 */
const char *
jupiter_plugin_get_entry_description (JupiterPlugin *self,
                                      const char    *entry_name)
{
  const JupiterPluginEntry *entry;

  g_return_val_if_fail (JUPITER_IS_PLUGIN (self), NULL);
  g_return_val_if_fail (entry_name != NULL, NULL);

  entry = find_entry (self, entry_name);
  return entry ? entry->description : NULL;
}

/* ------------------------------------------------------------------------ */
/* Checks                                                                    */

static gboolean
fail (GError    **error,
      int         code,
      const char *path,
      const char *format,
      ...) G_GNUC_PRINTF (4, 5);

static gboolean
fail (GError    **error,
      int         code,
      const char *path,
      const char *format,
      ...)
{
  g_autofree char *what = NULL;
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, JUPITER_PLUGIN_ERROR, code, "%s: %s", path, what);
  return FALSE;
}

static gboolean
check_owner_and_mode (const struct stat *st,
                      const char        *path,
                      const char        *what,
                      GError           **error)
{
  if (st->st_uid != 0 && st->st_uid != geteuid ())
    return fail (error, JUPITER_PLUGIN_ERROR_UNSAFE, path,
                 "%s is owned by user %u, neither root nor this process's user %u",
                 what, (guint) st->st_uid, (guint) geteuid ());
  if (st->st_mode & (S_IWGRP | S_IWOTH))
    return fail (error, JUPITER_PLUGIN_ERROR_UNSAFE, path,
                 "%s is writable by %s (mode %04o)", what,
                 (st->st_mode & S_IWOTH) ? "everyone" : "its group",
                 (guint) (st->st_mode & 07777));
  return TRUE;
}

/* Opens @path for loading: the file itself, never a link to it, checked
 * through the descriptor that will be loaded. Returns the descriptor. */
static int
open_checked (const char  *path,
              gboolean     allow_unsafe,
              struct stat *out_st,
              GError     **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  struct stat st;
  int dirfd, fd;

  dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    {
      fail (error, errno == ENOENT ? JUPITER_PLUGIN_ERROR_NOT_FOUND : JUPITER_PLUGIN_ERROR_LOAD,
            path, "cannot open its directory: %s", g_strerror (errno));
      return -1;
    }
  if (!allow_unsafe && fstat (dirfd, &st) != 0)
    {
      fail (error, JUPITER_PLUGIN_ERROR_LOAD, path, "cannot inspect its directory: %s",
            g_strerror (errno));
      close (dirfd);
      return -1;
    }
  if (!allow_unsafe && !check_owner_and_mode (&st, path, "its directory", error))
    {
      close (dirfd);
      return -1;
    }

  /* O_NONBLOCK: a FIFO or a device must not hang the host in open(); the
   * type is checked right after (it changes nothing for regular files). */
  fd = openat (dirfd, base, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY |
                            (allow_unsafe ? 0 : O_NOFOLLOW));
  close (dirfd);
  if (fd < 0)
    {
      int errsv = errno;

      if (errsv == ELOOP)
        fail (error, JUPITER_PLUGIN_ERROR_UNSAFE, path,
              "is a symbolic link; plugins are loaded from real files only");
      else
        fail (error, errsv == ENOENT ? JUPITER_PLUGIN_ERROR_NOT_FOUND : JUPITER_PLUGIN_ERROR_LOAD,
              path, "cannot open: %s", g_strerror (errsv));
      return -1;
    }

  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      fail (error, JUPITER_PLUGIN_ERROR_UNSAFE, path, "is not a regular file");
      close (fd);
      return -1;
    }
  if (!allow_unsafe && !check_owner_and_mode (&st, path, "the file", error))
    {
      close (fd);
      return -1;
    }
  *out_st = st;
  return fd;
}

static gboolean
check_descriptor (const JupiterPluginDescriptor *desc,
                  const char                    *path,
                  GPtrArray                     *entries,
                  GError                       **error)
{
  const guint8 *base;
  guint32 stride;

  if (desc->abi_major != JUPITER_SDK_ABI_MAJOR)
    return fail (error, JUPITER_PLUGIN_ERROR_ABI, path,
                 "built for SDK ABI %u.%u, this host has %u.%u: the major version differs",
                 desc->abi_major, desc->abi_minor, JUPITER_SDK_ABI_MAJOR, JUPITER_SDK_ABI_MINOR);
  if (desc->abi_minor > JUPITER_SDK_ABI_MINOR)
    return fail (error, JUPITER_PLUGIN_ERROR_ABI, path,
                 "built for SDK ABI %u.%u, newer than this host's %u.%u",
                 desc->abi_major, desc->abi_minor, JUPITER_SDK_ABI_MAJOR, JUPITER_SDK_ABI_MINOR);
  if (desc->struct_size < MIN_DESCRIPTOR_SIZE)
    return fail (error, JUPITER_PLUGIN_ERROR_INVALID, path,
                 "its descriptor is %u bytes, smaller than the %u of ABI %u.0",
                 desc->struct_size, (guint) MIN_DESCRIPTOR_SIZE, JUPITER_SDK_ABI_MAJOR);
  if (desc->id == NULL || *desc->id == '\0')
    return fail (error, JUPITER_PLUGIN_ERROR_INVALID, path, "its descriptor has no id");
  if (strspn (desc->id, PLUGIN_ID_CHARS) != strlen (desc->id))
    return fail (error, JUPITER_PLUGIN_ERROR_INVALID, path,
                 "its id “%s” may hold only lower-case letters, digits, - and _", desc->id);
  if (desc->name == NULL || *desc->name == '\0')
    return fail (error, JUPITER_PLUGIN_ERROR_INVALID, path, "plugin “%s” has no name", desc->id);
  if (desc->version == NULL || *desc->version == '\0')
    return fail (error, JUPITER_PLUGIN_ERROR_INVALID, path, "plugin “%s” has no version", desc->id);
  if (desc->entries == NULL || desc->n_entries == 0)
    return fail (error, JUPITER_PLUGIN_ERROR_INVALID, path, "plugin “%s” has no entry points", desc->id);
  if (desc->n_entries > MAX_ENTRIES)
    return fail (error, JUPITER_PLUGIN_ERROR_INVALID, path, "plugin “%s” claims %u entry points, more than %u",
                 desc->id, desc->n_entries, MAX_ENTRIES);

  /* The array's stride is the entry size the plugin was built with. */
  base = (const guint8 *) desc->entries;
  stride = desc->entries[0].struct_size;
  /* Entries only grow with newer minor versions, which are refused above:
   * a larger entry than the host's cannot be right, and would make the
   * host read past the plugin's array. */
  if (stride < MIN_ENTRY_SIZE || stride > sizeof (JupiterPluginEntry))
    return fail (error, JUPITER_PLUGIN_ERROR_INVALID, path,
                 "plugin “%s”: its entries are %u bytes, expected from %u to %u",
                 desc->id, stride, (guint) MIN_ENTRY_SIZE, (guint) sizeof (JupiterPluginEntry));
  for (guint i = 0; i < desc->n_entries; i++)
    {
      const JupiterPluginEntry *entry = (const JupiterPluginEntry *) (base + (gsize) i * stride);

      if (entry->struct_size != stride)
        return fail (error, JUPITER_PLUGIN_ERROR_INVALID, path,
                     "plugin “%s”: entry %u is %u bytes, entry 0 is %u", desc->id, i,
                     entry->struct_size, stride);
      if (entry->name == NULL || *entry->name == '\0')
        return fail (error, JUPITER_PLUGIN_ERROR_INVALID, path,
                     "plugin “%s”: entry %u has no name", desc->id, i);
      if ((entry->func == NULL) == (entry->async_func == NULL))
        return fail (error, JUPITER_PLUGIN_ERROR_INVALID, path,
                     "plugin “%s”: entry “%s” must have exactly one function, sync or async",
                     desc->id, entry->name);
      for (guint j = 0; j < entries->len; j++)
        if (g_str_equal (((const JupiterPluginEntry *) entries->pdata[j])->name, entry->name))
          return fail (error, JUPITER_PLUGIN_ERROR_INVALID, path,
                       "plugin “%s”: two entries are named “%s”", desc->id, entry->name);
      g_ptr_array_add (entries, (gpointer) entry);
    }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Loading                                                                   */

static gboolean
load_into (JupiterPluginLoader *self,
           JupiterPlugin       *plugin,
           JsonNode            *config,
           const char          *expected_id,
           GError             **error)
{
  const char *path = plugin->path;
  char fd_path[64];
  JupiterPluginDescribeFunc describe;
  const JupiterPluginDescriptor *desc;
  JupiterPlugin *other;
  const char *first_path;
  g_autofree char *loading_path = NULL;
  gboolean allow_unsafe, reserved;
  g_autoptr(GError) init_error = NULL;
  struct stat st;

  g_mutex_lock (&self->lock);
  allow_unsafe = self->allow_unsafe;
  g_mutex_unlock (&self->lock);

  plugin->fd = open_checked (path, allow_unsafe, &st, error);
  if (plugin->fd < 0)
    return FALSE;
  plugin->dev = st.st_dev;
  plugin->ino = st.st_ino;
  plugin->identified = TRUE;
  plugin->opened = TRUE;
  if (allow_unsafe)
    g_warning ("Loading plugin %s without the ownership and permission checks (allow-unsafe)", path);

  /* Loaded through the descriptor that was checked, so the file cannot be
   * swapped between the check and the load. */
  g_snprintf (fd_path, sizeof fd_path, "/proc/self/fd/%d", plugin->fd);
  dlerror ();
  plugin->handle = dlopen (fd_path, RTLD_NOW | RTLD_LOCAL);
  if (plugin->handle == NULL)
    return fail (error, JUPITER_PLUGIN_ERROR_LOAD, path, "cannot be loaded: %s", dlerror ());
  /* The real path costs a lookup per path component: only when debugging. */
  if (!g_log_writer_default_would_drop (G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN))
    {
      g_autofree char *real = realpath (fd_path, NULL);
      g_debug ("plugin %s (really %s) loaded as %s", path, real ? real : "?", fd_path);
    }

  /* glibc returns the handle it already has for a file it loaded (by
   * device and inode), in any loader of this process: checked and
   * recorded in one step, so that of two concurrent loads only one goes
   * on, and no plugin code runs twice over one library's state. */
  g_mutex_lock (&loaded_lock);
  if (loaded_handles == NULL)
    loaded_handles = g_hash_table_new (NULL, NULL);
  first_path = g_hash_table_lookup (loaded_handles, plugin->handle);
  if (first_path == NULL)
    g_hash_table_insert (loaded_handles, plugin->handle, g_strdup (path));
  g_mutex_unlock (&loaded_lock);
  if (first_path)
    return fail (error, JUPITER_PLUGIN_ERROR_DUPLICATE, path,
                 "this library is already loaded in this process (from %s)", first_path);

  describe = (JupiterPluginDescribeFunc) dlsym (plugin->handle, JUPITER_PLUGIN_SYMBOL);
  if (describe == NULL)
    return fail (error, JUPITER_PLUGIN_ERROR_NO_DESCRIPTOR, path,
                 "has no %s symbol: not a Jupiter plugin (JUPITER_PLUGIN_DEFINE writes it)",
                 JUPITER_PLUGIN_SYMBOL);
  desc = describe (jupiter_job_manager_get_host_funcs ());
  if (desc == NULL)
    return fail (error, JUPITER_PLUGIN_ERROR_NO_DESCRIPTOR, path, "%s returned no descriptor",
                 JUPITER_PLUGIN_SYMBOL);
  if (!check_descriptor (desc, path, plugin->entries, error))
    {
      g_ptr_array_set_size (plugin->entries, 0);
      return FALSE;
    }
  plugin->id = g_strdup (desc->id);
  if (expected_id && !g_str_equal (expected_id, desc->id))
    {
      g_ptr_array_set_size (plugin->entries, 0);
      return fail (error, JUPITER_PLUGIN_ERROR_INVALID, path,
                   "the file is named for plugin “%s” but holds plugin “%s”", expected_id, desc->id);
    }

  /* The id is reserved before init runs: of two loads of one id, the
   * second is refused before any of its code runs. */
  g_mutex_lock (&self->lock);
  other = g_hash_table_lookup (self->by_id, desc->id);
  if (other == NULL)
    loading_path = g_strdup (g_hash_table_lookup (self->loading, desc->id));
  reserved = other == NULL && loading_path == NULL && !self->shut_down;
  if (reserved)
    g_hash_table_insert (self->loading, plugin->id, plugin->path);
  g_mutex_unlock (&self->lock);
  if (!reserved)
    {
      g_ptr_array_set_size (plugin->entries, 0);
      if (other)
        return fail (error, JUPITER_PLUGIN_ERROR_DUPLICATE, path,
                     "plugin id “%s” is already provided by %s", desc->id, other->path);
      if (loading_path == NULL)
        return fail (error, JUPITER_PLUGIN_ERROR_NOT_LOADED, path,
                     "not loaded: the plugin loader has been shut down");
      return fail (error, JUPITER_PLUGIN_ERROR_DUPLICATE, path,
                   "plugin id “%s” is being loaded from %s at this moment", desc->id, loading_path);
    }
  plugin->reserved = TRUE;

  if (desc->init && !desc->init (config, &init_error))
    {
      g_ptr_array_set_size (plugin->entries, 0);
      return fail (error, JUPITER_PLUGIN_ERROR_INIT, path, "plugin “%s” failed to initialise: %s",
                   desc->id, init_error ? init_error->message : "no reason given");
    }

  plugin->desc = desc;
  plugin->state = JUPITER_PLUGIN_STATE_LOADED;
  return TRUE;
}

/* Publishes a plugin once it is complete, loaded or failed, and releases
 * its id's reservation: other threads never see one half-built, and it
 * does not change once seen. */
static JupiterPlugin *
publish (JupiterPluginLoader *self,
         JupiterPlugin       *plugin)
{
  g_mutex_lock (&self->lock);
  if (plugin->reserved)
    g_hash_table_remove (self->loading, plugin->id);
  if (plugin->state == JUPITER_PLUGIN_STATE_LOADED)
    g_hash_table_insert (self->by_id, plugin->id, plugin);
  g_ptr_array_add (self->plugins, plugin);
  g_mutex_unlock (&self->lock);

  return plugin->state == JUPITER_PLUGIN_STATE_LOADED ? plugin : NULL;
}

static JupiterPlugin *
load_path (JupiterPluginLoader *self,
           const char          *path,
           JsonNode            *config,
           const char          *expected_id,
           const struct stat   *seen,
           GError             **error)
{
  JupiterPlugin *plugin;
  GError *local = NULL;
  gboolean shut_down;

  g_mutex_lock (&self->lock);
  shut_down = self->shut_down;
  g_mutex_unlock (&self->lock);
  if (shut_down)
    {
      g_set_error (error, JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_NOT_LOADED,
                   "%s: not loaded: the plugin loader has been shut down", path);
      return NULL;
    }

  plugin = g_object_new (JUPITER_TYPE_PLUGIN, NULL);

  /* Kept as given (made absolute), never resolved lexically: "a/../b"
   * through a symlinked "a" is not "b". */
  if (g_path_is_absolute (path))
    plugin->path = g_strdup (path);
  else
    {
      g_autofree char *cwd = g_get_current_dir ();
      plugin->path = g_build_filename (cwd, path, NULL);
    }

  /* Discovery knows the file before it is checked: a file refused by the
   * checks is then not tried again either. */
  if (seen)
    {
      plugin->dev = seen->st_dev;
      plugin->ino = seen->st_ino;
      plugin->ctime_ns = (gint64) seen->st_ctim.tv_sec * 1000000000 + seen->st_ctim.tv_nsec;
      plugin->identified = TRUE;
    }

  if (!load_into (self, plugin, config, expected_id, &local))
    {
      plugin->state = JUPITER_PLUGIN_STATE_FAILED;
      plugin->error = local;
      publish (self, plugin);
      if (error)
        *error = g_error_copy (local);
      return NULL;
    }
  return publish (self, plugin);
}

/**
 * jupiter_plugin_loader_load_file:
 * @self: a #JupiterPluginLoader
 * @path: (type filename): the plugin's `.so` file
 * @config: (nullable): the plugin's configuration, passed to its `init`
 * @error: return location for a #GError
 *
 * Checks and loads one plugin file (see [class@Jupiter.PluginLoader] for
 * the checks). A file that fails stays listed by
 * jupiter_plugin_loader_list() with its reason.
 *
 * Returns: (transfer none): the loaded plugin, or %NULL with @error set
 */
JupiterPlugin *
jupiter_plugin_loader_load_file (JupiterPluginLoader *self,
                                 const char          *path,
                                 JsonNode            *config,
                                 GError             **error)
{
  g_return_val_if_fail (JUPITER_IS_PLUGIN_LOADER (self), NULL);
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return load_path (self, path, config, NULL, NULL, error);
}

static char **
default_search_path (void)
{
  GStrvBuilder *builder = g_strv_builder_new ();
  const char *env = g_getenv ("JUPITER_PLUGIN_PATH");
  GStrv path;

  if (env)
    {
      g_auto(GStrv) dirs = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);

      for (guint i = 0; dirs[i]; i++)
        if (*dirs[i])
          g_strv_builder_add (builder, dirs[i]);
    }
  g_strv_builder_add (builder, JUPITER_PLUGIN_DIR);
  path = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return path;
}

/**
 * jupiter_plugin_loader_get_search_path:
 * @self: a #JupiterPluginLoader
 *
 * The directories searched for plugins, in order: by default the
 * directories of `JUPITER_PLUGIN_PATH` (colon-separated), then the
 * installed plugin directory.
 *
 * Returns: (transfer full): the directories
 */
GStrv
jupiter_plugin_loader_get_search_path (JupiterPluginLoader *self)
{
  GStrv path;

  g_return_val_if_fail (JUPITER_IS_PLUGIN_LOADER (self), NULL);

  g_mutex_lock (&self->lock);
  path = g_strdupv (self->search_path);
  g_mutex_unlock (&self->lock);
  return path;
}

/**
 * jupiter_plugin_loader_set_search_path:
 * @self: a #JupiterPluginLoader
 * @dirs: (array zero-terminated=1): directories, searched in order
 *
 * Replaces the search path (a host puts its configured directories first,
 * then the default ones).
 */
void
jupiter_plugin_loader_set_search_path (JupiterPluginLoader *self,
                                       const char * const  *dirs)
{
  g_return_if_fail (JUPITER_IS_PLUGIN_LOADER (self));
  g_return_if_fail (dirs != NULL);

  g_mutex_lock (&self->lock);
  g_strfreev (self->search_path);
  self->search_path = g_strdupv ((char **) dirs);
  g_mutex_unlock (&self->lock);
}

/**
 * jupiter_plugin_loader_load:
 * @self: a #JupiterPluginLoader
 * @plugin_id: a plugin id, found as `PLUGIN_ID.so` in the search path
 * @config: (nullable): the plugin's configuration, passed to its `init`
 * @error: return location for a #GError
 *
 * Loads the first `PLUGIN_ID.so` of the search path.
 *
 * Returns: (transfer none): the loaded plugin, or %NULL with @error set
 */
JupiterPlugin *
jupiter_plugin_loader_load (JupiterPluginLoader *self,
                            const char          *plugin_id,
                            JsonNode            *config,
                            GError             **error)
{
  g_auto(GStrv) dirs = NULL;
  g_autofree char *file = NULL;

  g_return_val_if_fail (JUPITER_IS_PLUGIN_LOADER (self), NULL);
  g_return_val_if_fail (plugin_id != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* An id names a file in the search path, nothing else ("../x"). */
  if (*plugin_id == '\0' || strspn (plugin_id, PLUGIN_ID_CHARS) != strlen (plugin_id))
    {
      g_set_error (error, JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_NOT_FOUND,
                   "“%s” is not a plugin id (lower-case letters, digits, - and _)", plugin_id);
      return NULL;
    }
  dirs = jupiter_plugin_loader_get_search_path (self);
  file = g_strconcat (plugin_id, ".so", NULL);
  for (guint i = 0; dirs[i]; i++)
    {
      g_autofree char *path = g_build_filename (dirs[i], file, NULL);

      if (g_file_test (path, G_FILE_TEST_EXISTS))
        return load_path (self, path, config, plugin_id, NULL, error);
    }
  {
    g_autofree char *joined = g_strjoinv (":", dirs);

    g_set_error (error, JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_NOT_FOUND,
                 "%s: not found in the plugin search path (%s)", file, joined);
  }
  return NULL;
}

/* Whether this very file (device and inode) was tried already, loaded or
 * not: discovering again must not retry failures, or run a failed init
 * again. */
static gboolean
tried_before (JupiterPluginLoader *self,
              const struct stat   *st)
{
  gboolean found = FALSE;

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->plugins->len && !found; i++)
    {
      JupiterPlugin *plugin = self->plugins->pdata[i];
      /* A file held open keeps its inode; one refused before or at
       * open may be fixed (chmod) or replaced, perhaps reusing the inode
       * number: its change time tells. */
      found = plugin->identified && plugin->dev == st->st_dev && plugin->ino == st->st_ino &&
              (plugin->opened ||
               plugin->ctime_ns == (gint64) st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec);
    }
  g_mutex_unlock (&self->lock);
  return found;
}

/**
 * jupiter_plugin_loader_discover:
 * @self: a #JupiterPluginLoader
 *
 * Loads every regular `*.so` file of the search path (without
 * configuration), skipping ids already loaded. Failures stay listed.
 *
 * Returns: how many plugins were loaded
 */
guint
jupiter_plugin_loader_discover (JupiterPluginLoader *self)
{
  g_auto(GStrv) dirs = NULL;
  guint loaded = 0;

  g_return_val_if_fail (JUPITER_IS_PLUGIN_LOADER (self), 0);

  dirs = jupiter_plugin_loader_get_search_path (self);
  for (guint i = 0; dirs[i]; i++)
    {
      g_autoptr(GDir) dir = g_dir_open (dirs[i], 0, NULL);
      g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      const char *name;

      if (dir == NULL)
        continue;
      while ((name = g_dir_read_name (dir)))
        if (g_str_has_suffix (name, ".so"))
          g_ptr_array_add (names, g_strdup (name));
      g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);   /* a stable order */
      for (guint j = 0; j < names->len; j++)
        {
          g_autofree char *path = g_build_filename (dirs[i], names->pdata[j], NULL);
          g_autofree char *id = g_strndup (names->pdata[j], strlen (names->pdata[j]) - 3);
          struct stat st;

          if (lstat (path, &st) != 0 || !S_ISREG (st.st_mode))
            continue;
          if (jupiter_plugin_loader_get (self, id) != NULL || tried_before (self, &st))
            continue;
          if (load_path (self, path, NULL, id, &st, NULL))
            loaded++;
        }
    }
  return loaded;
}

/**
 * jupiter_plugin_loader_get:
 * @self: a #JupiterPluginLoader
 * @plugin_id: a plugin id
 *
 * Returns: (transfer none) (nullable): the loaded plugin with that id
 */
JupiterPlugin *
jupiter_plugin_loader_get (JupiterPluginLoader *self,
                           const char          *plugin_id)
{
  JupiterPlugin *plugin;

  g_return_val_if_fail (JUPITER_IS_PLUGIN_LOADER (self), NULL);
  g_return_val_if_fail (plugin_id != NULL, NULL);

  g_mutex_lock (&self->lock);
  plugin = g_hash_table_lookup (self->by_id, plugin_id);
  g_mutex_unlock (&self->lock);
  return plugin;
}

/**
 * jupiter_plugin_loader_list:
 * @self: a #JupiterPluginLoader
 *
 * Returns: (transfer full) (element-type JupiterPlugin): every plugin file
 *   tried, loaded or failed, in the order they were tried
 */
GPtrArray *
jupiter_plugin_loader_list (JupiterPluginLoader *self)
{
  GPtrArray *list;

  g_return_val_if_fail (JUPITER_IS_PLUGIN_LOADER (self), NULL);

  list = g_ptr_array_new_with_free_func (g_object_unref);
  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->plugins->len; i++)
    g_ptr_array_add (list, g_object_ref (self->plugins->pdata[i]));
  g_mutex_unlock (&self->lock);
  return list;
}

/**
 * jupiter_plugin_loader_submit:
 * @self: a #JupiterPluginLoader
 * @manager: the #JupiterJobManager to run the job
 * @plugin_id: a loaded plugin's id
 * @entry_name: one of its entry points
 * @args: (nullable): the job's arguments (the job keeps a private copy)
 * @error: return location for a #GError
 *
 * Runs an entry point as a job of @manager, tagged with the plugin id and
 * entry name, so it is guarded by the plugin's circuit breaker, runs
 * within the plugin's concurrency cap (the descriptor's `max_concurrent`,
 * if set) and has the entry's timeout, or else the plugin's, or else the
 * manager's default.
 *
 * Returns: (transfer full): the job id, or %NULL with a
 *   %JUPITER_PLUGIN_ERROR (unknown plugin or entry, plugin not loaded) or a
 *   %JUPITER_JOB_ERROR (circuit open, queue full, shutting down)
 */
char *
jupiter_plugin_loader_submit (JupiterPluginLoader *self,
                              JupiterJobManager   *manager,
                              const char          *plugin_id,
                              const char          *entry_name,
                              JsonNode            *args,
                              GError             **error)
{
  g_return_val_if_fail (JUPITER_IS_PLUGIN_LOADER (self), NULL);
  g_return_val_if_fail (JUPITER_IS_JOB_MANAGER (manager), NULL);
  g_return_val_if_fail (plugin_id != NULL, NULL);
  g_return_val_if_fail (entry_name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return jupiter_plugin_loader_submit_full (self, manager, plugin_id, entry_name, args,
                                            NULL, 0, 0, error);
}

/* jupiter_plugin_loader_submit() with the host configuration's overrides:
 * a job @name (NULL: "PLUGIN:ENTRY"), a @timeout and a per-plugin
 * @max_concurrent (0: the plugin's own). */
char *
jupiter_plugin_loader_submit_full (JupiterPluginLoader *self,
                                   JupiterJobManager   *manager,
                                   const char          *plugin_id,
                                   const char          *entry_name,
                                   JsonNode            *args,
                                   const char          *name,
                                   GTimeSpan            timeout,
                                   guint                max_concurrent,
                                   GError             **error)
{
  g_autoptr(JupiterJobOptions) options = NULL;
  g_autofree char *default_name = NULL;
  const JupiterPluginEntry *entry;
  JupiterPlugin *plugin;

  plugin = jupiter_plugin_loader_get (self, plugin_id);
  if (plugin == NULL)
    {
      g_set_error (error, JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_NOT_FOUND,
                   "No plugin “%s” is loaded", plugin_id);
      return NULL;
    }
  if (plugin->state != JUPITER_PLUGIN_STATE_LOADED || g_atomic_int_get (&plugin->shut_down))
    {
      g_set_error (error, JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_NOT_LOADED,
                   "%s: plugin “%s” is not loaded", plugin->path, plugin_id);
      return NULL;
    }
  entry = find_entry (plugin, entry_name);
  if (entry == NULL)
    {
      g_auto(GStrv) names = jupiter_plugin_dup_entry_names (plugin);
      g_autofree char *known = g_strjoinv (", ", names);

      g_set_error (error, JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_NO_ENTRY,
                   "%s: plugin “%s” has no entry “%s” (it has: %s)",
                   plugin->path, plugin_id, entry_name, known);
      return NULL;
    }

  if (name == NULL)
    name = default_name = g_strdup_printf ("%s:%s", plugin_id, entry_name);
  options = jupiter_job_options_new (name);
  jupiter_job_options_set_plugin_id (options, plugin_id);
  jupiter_job_options_set_entry_name (options, entry_name);
  jupiter_job_options_set_args (options, args);
  if (timeout <= 0)
    timeout = entry->timeout > 0 ? entry->timeout : plugin->desc->timeout;
  jupiter_job_options_set_timeout (options, timeout > 0 ? timeout : 0);
  if (max_concurrent == 0)
    max_concurrent = plugin->desc->max_concurrent;
  if (max_concurrent > 0)
    jupiter_job_manager_set_plugin_max_concurrent (manager, plugin_id, max_concurrent);

  if (entry->func)
    return jupiter_job_manager_submit (manager, options, entry->func, NULL, NULL, error);
  return jupiter_job_manager_submit_async_func (manager, options, entry->async_func, NULL, NULL, error);
}

/**
 * jupiter_plugin_loader_shutdown:
 * @self: a #JupiterPluginLoader
 *
 * Calls every loaded plugin's `shutdown`, once, in the reverse order of
 * loading. Call it after jupiter_job_manager_shutdown() has returned %TRUE:
 * no thread may still be inside a plugin. Entry points cannot be submitted
 * any more afterwards, and loads fail with %JUPITER_PLUGIN_ERROR_NOT_LOADED
 * (and are not listed).
 */
void
jupiter_plugin_loader_shutdown (JupiterPluginLoader *self)
{
  g_autoptr(GPtrArray) plugins = NULL;

  g_return_if_fail (JUPITER_IS_PLUGIN_LOADER (self));

  g_mutex_lock (&self->lock);
  self->shut_down = TRUE;
  g_mutex_unlock (&self->lock);
  plugins = jupiter_plugin_loader_list (self);
  for (guint i = plugins->len; i > 0; i--)
    {
      JupiterPlugin *plugin = plugins->pdata[i - 1];

      if (plugin->state != JUPITER_PLUGIN_STATE_LOADED || g_atomic_int_get (&plugin->shut_down))
        continue;
      g_atomic_int_set (&plugin->shut_down, TRUE);
      if (plugin->desc->shutdown)
        plugin->desc->shutdown ();
    }
}

/* ------------------------------------------------------------------------ */
/* GObject                                                                   */

static void
jupiter_plugin_loader_finalize (GObject *object)
{
  JupiterPluginLoader *self = JUPITER_PLUGIN_LOADER (object);

  g_hash_table_unref (self->by_id);
  g_hash_table_unref (self->loading);
  g_ptr_array_unref (self->plugins);
  g_strfreev (self->search_path);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (jupiter_plugin_loader_parent_class)->finalize (object);
}

static void
jupiter_plugin_loader_get_property (GObject    *object,
                                    guint       prop_id,
                                    GValue     *value,
                                    GParamSpec *pspec)
{
  JupiterPluginLoader *self = JUPITER_PLUGIN_LOADER (object);

  switch (prop_id)
    {
    case PROP_ALLOW_UNSAFE:
      g_mutex_lock (&self->lock);
      g_value_set_boolean (value, self->allow_unsafe);
      g_mutex_unlock (&self->lock);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
jupiter_plugin_loader_set_property (GObject      *object,
                                    guint         prop_id,
                                    const GValue *value,
                                    GParamSpec   *pspec)
{
  JupiterPluginLoader *self = JUPITER_PLUGIN_LOADER (object);

  switch (prop_id)
    {
    case PROP_ALLOW_UNSAFE:
      g_mutex_lock (&self->lock);
      self->allow_unsafe = g_value_get_boolean (value);
      g_mutex_unlock (&self->lock);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
jupiter_plugin_loader_class_init (JupiterPluginLoaderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = jupiter_plugin_loader_finalize;
  object_class->get_property = jupiter_plugin_loader_get_property;
  object_class->set_property = jupiter_plugin_loader_set_property;

  /**
   * JupiterPluginLoader:allow-unsafe:
   *
   * Skip the ownership and permission checks (and allow symbolic links),
   * for development only; each file let through is logged as a warning.
   *
   * Since: 0.1
   */
  properties[PROP_ALLOW_UNSAFE] =
    g_param_spec_boolean ("allow-unsafe", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
jupiter_plugin_loader_init (JupiterPluginLoader *self)
{
  g_mutex_init (&self->lock);
  self->plugins = g_ptr_array_new_with_free_func (g_object_unref);
  self->by_id = g_hash_table_new (g_str_hash, g_str_equal);
  self->loading = g_hash_table_new (g_str_hash, g_str_equal);
  self->search_path = default_search_path ();
}

/**
 * jupiter_plugin_loader_new:
 *
 * Returns: (transfer full): a loader with the default search path
 */
JupiterPluginLoader *
jupiter_plugin_loader_new (void)
{
  return g_object_new (JUPITER_TYPE_PLUGIN_LOADER, NULL);
}
