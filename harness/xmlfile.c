/*
 * xmlfile.c - a libxml2 document written to a file (xmlfile.h).
 */
#include <stdbool.h>
#include <stdio.h>

#include "atomicfile.h"
#include "xmlfile.h"

int xmlfile_save(xmlDocPtr doc, const char *path, int options, struct tb_err *err)
{
	struct atomic_file af;
	xmlSaveCtxtPtr save;
	bool failed;

	if (atomic_open(&af, path, err))
		return -1;
	/* Straight to the descriptor: nothing is buffered in af.f yet. */
	save = xmlSaveToFd(fileno(af.f), "UTF-8", options);
	failed = !save || xmlSaveDoc(save, doc) < 0;
	if (save && xmlSaveClose(save) < 0)
		failed = true;
	return atomic_commit(&af, failed, err);
}
