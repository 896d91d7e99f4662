/*
 * xmlfile.h - a libxml2 document written to a file, replaced whole
 * (atomicfile.h): junit.xml, report.html.
 */
#ifndef TB_XMLFILE_H
#define TB_XMLFILE_H

#include <libxml/tree.h>
#include <libxml/xmlsave.h> /* the options */

#include "error.h"

/*
 * Write @doc to @path in UTF-8 with libxml2's xmlSaveOption @options
 * (XML_SAVE_FORMAT, XML_SAVE_XHTML...), through a temporary file renamed
 * over @path.  0, or -1 with @err set (TB_EXIT_ENV) and @path as it was.
 */
int xmlfile_save(xmlDocPtr doc, const char *path, int options, struct tb_err *err);

#endif
