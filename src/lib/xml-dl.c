#define VSB_XML_DL_IMPLEMENTATION
#include "xml-dl.h"
#include "vsboot/error.h"

#include <dlfcn.h>

/* Filled once, then only read: the process-wide equivalent of having linked libxml2. */
static VsbXmlFunctions table;
static char *load_error;

static gpointer
load_once(gpointer unused)
{
  /* The soname of the libxml2 2.x ABI that the headers we compiled against describe. */
  void *handle = dlopen("libxml2.so.2", RTLD_NOW | RTLD_LOCAL);
  if (handle == NULL) {
    load_error = g_strdup_printf("cannot load libxml2 (libxml2.so.2): %s", dlerror());
    return NULL;
  }
#define VSB_XML_FN(name)                                                                           \
  table.name = (__typeof__(table.name))dlsym(handle, #name);                                       \
  if (table.name == NULL) {                                                                        \
    load_error = g_strdup_printf("libxml2.so.2 has no %s", #name);                                 \
    return NULL;                                                                                   \
  }
#include "xml-dl-functions.h"
#undef VSB_XML_FN
  /* The handle stays open for the life of the process, as a linked library would. */
  return &table;
}

gboolean
vsb_xml_load(GError **error)
{
  static GOnce once = G_ONCE_INIT;
  if (g_once(&once, load_once, NULL) == NULL) {
    g_set_error(error, VSB_ERROR, VSB_ERROR_TOOL, "%s", load_error);
    return FALSE;
  }
  return TRUE;
}

const VsbXmlFunctions *
vsb_xml_functions(void)
{
  return &table;
}
