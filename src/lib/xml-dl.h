/* libxml2, loaded on first use. Debian's libxml2 pulls in ICU and libstdc++, whose ~2000
 * symbol bindings (all resolved at load: BIND_NOW) cost every vsboot command about a third of
 * its start-up, while only the libvirt modules read or write XML. Those modules include this
 * header instead of linking libxml2; their entry points call vsb_xml_load() first, after which
 * the libxml2 names below resolve to the loaded library's functions. Private to libvsboot. */
#pragma once

#include <glib.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

typedef struct {
#define VSB_XML_FN(name) __typeof__(name) *name;
#include "xml-dl-functions.h"
#undef VSB_XML_FN
} VsbXmlFunctions;

/* Load libxml2 once per process (thread-safe); VSB_ERROR_TOOL when it cannot be loaded. */
gboolean vsb_xml_load(GError **error);
/* The table; only valid after vsb_xml_load() succeeded. */
const VsbXmlFunctions *vsb_xml_functions(void);

#ifndef VSB_XML_DL_IMPLEMENTATION
#define xmlReadMemory (vsb_xml_functions()->xmlReadMemory)
#define xmlGetLastError (vsb_xml_functions()->xmlGetLastError)
#define xmlFreeDoc (vsb_xml_functions()->xmlFreeDoc)
#define xmlDocGetRootElement (vsb_xml_functions()->xmlDocGetRootElement)
#define xmlDocSetRootElement (vsb_xml_functions()->xmlDocSetRootElement)
#define xmlNewDoc (vsb_xml_functions()->xmlNewDoc)
#define xmlNewNode (vsb_xml_functions()->xmlNewNode)
#define xmlNewChild (vsb_xml_functions()->xmlNewChild)
#define xmlNewTextChild (vsb_xml_functions()->xmlNewTextChild)
#define xmlNewProp (vsb_xml_functions()->xmlNewProp)
#define xmlNewNs (vsb_xml_functions()->xmlNewNs)
#define xmlSetNs (vsb_xml_functions()->xmlSetNs)
#define xmlAddChild (vsb_xml_functions()->xmlAddChild)
#define xmlUnlinkNode (vsb_xml_functions()->xmlUnlinkNode)
#define xmlFreeNode (vsb_xml_functions()->xmlFreeNode)
#define xmlNodeGetContent (vsb_xml_functions()->xmlNodeGetContent)
#define xmlNodeDump (vsb_xml_functions()->xmlNodeDump)
#define xmlBufferCreate (vsb_xml_functions()->xmlBufferCreate)
#define xmlBufferFree (vsb_xml_functions()->xmlBufferFree)
#define xmlBufferContent (vsb_xml_functions()->xmlBufferContent)
#define xmlBufferLength (vsb_xml_functions()->xmlBufferLength)
#define xmlXPathNewContext (vsb_xml_functions()->xmlXPathNewContext)
#define xmlXPathFreeContext (vsb_xml_functions()->xmlXPathFreeContext)
#define xmlXPathRegisterNs (vsb_xml_functions()->xmlXPathRegisterNs)
#define xmlXPathEvalExpression (vsb_xml_functions()->xmlXPathEvalExpression)
#define xmlXPathFreeObject (vsb_xml_functions()->xmlXPathFreeObject)
/* xmlFree is a variable holding the deallocator (libxml2 without thread-local allocators, as
 * Debian builds it): the table holds its address. */
#define xmlFree (*vsb_xml_functions()->xmlFree)
#endif
