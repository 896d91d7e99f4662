/*
 * yamlfile.h - the YAML input files' common machinery: a file read whole
 * and composed into a libyaml document, walked with one table of fields per
 * mapping, and the value checks every input file shares (strings, names,
 * durations, sizes, paths, consoles, patterns).
 *
 * The tables are the schema: they decide which keys exist, which are
 * required and how each value is checked, so unknown, duplicate and missing
 * keys are reported the same way in scenario and method files.  Every
 * message starts with FILE:LINE:COLUMN of the node at fault (1-based) and
 * carries TB_EXIT_USAGE.
 */
#ifndef TB_YAMLFILE_H
#define TB_YAMLFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "error.h"

/* Names end up in directory and libvirt domain names; keep them short. */
#define YF_NAME_MAX_LEN 64

/* Large enough for every schema table; yf_walk_mapping() checks it. */
#define YF_MAX_FIELDS 16

/* No input file of ours comes near this: a bigger one is a mistake, not a scenario. */
#define YF_MAX_FILE_SIZE (1024 * 1024)

struct yf_loader {
	const char *path; /* as given, the prefix of every message */
	char *dir;	  /* realpath of the file's directory: base of relative paths */
	const char *text; /* the file, to locate reader errors (byte offsets only) */
	size_t len;
	yaml_document_t doc;
	int doc_ready; /* doc holds a document to delete */
	struct tb_err *err;
};

struct yf_field;

/* Check @v and store it at @base + f->off; @what is the key path for messages. */
typedef int (*yf_field_fn)(struct yf_loader *ld, const struct yf_field *f, const char *what, yaml_node_t *v,
			char *base);

struct yf_field {
	const char *key;
	yf_field_fn parse;
	size_t off; /* destination within the struct being filled */
	int required;
	long min, max;		 /* yf_int */
	const struct yf_field *sub; /* yf_mapping: the nested table */
	size_t nsub;
};


/* Kept by hand: clang-format spreads each of these over four lines. */
/* clang-format off */
#define FIELD(k, fn, type, member) { .key = k, .parse = fn, .off = offsetof(type, member) }
#define REQUIRED(k, fn, type, member) \
	{ .key = k, .parse = fn, .off = offsetof(type, member), .required = 1 }
#define INT_FIELD(k, type, member, lo, hi) \
	{ .key = k, .parse = yf_int, .off = offsetof(type, member), .min = lo, .max = hi }
#define NESTED(k, type, member, table, req) \
	{ .key = k, .parse = yf_mapping, .off = offsetof(type, member), .required = req, \
	  .sub = table, .nsub = ARRAY_SIZE(table) }
/* clang-format on */

/*
 * Read @path whole and compose its one YAML document into @ld (zeroed by the
 * call).  Returns the root node, or NULL with @err set (a syntax error, an
 * empty file or a second document named by line and column).  @what names
 * the file's kind in messages ("scenario", "method file").  Free with
 * yf_close() in either case.
 */
yaml_node_t *yf_open(struct yf_loader *ld, const char *path, const char *what,
		     struct tb_err *err);

/*
 * yf_open() on the @len bytes at @text (copied) instead of the file's
 * content: @path names them in messages and its directory (which must
 * exist) is the base of their relative paths, but @path itself is not read.
 * The fuzz targets' way in.
 */
yaml_node_t *yf_open_text(struct yf_loader *ld, const char *path, const char *text, size_t len,
			  const char *what, struct tb_err *err);

void yf_close(struct yf_loader *ld);

int yf_fail_at(struct yf_loader *ld, yaml_mark_t mark, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int yf_fail_node(struct yf_loader *ld, const yaml_node_t *node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "a mapping", "a sequence", "a scalar", "an empty value": for messages. */
const char *yf_node_kind(const yaml_node_t *n);

/* The text of scalar @v, or NULL after an error naming @expected. */
const char *yf_want_scalar(struct yf_loader *ld, const char *what, const char *expected,
			   const yaml_node_t *v);

/* Letters, digits, '.', '_' and '-': safe in file, directory and domain names. */
int yf_is_name(const char *s);

/*
 * Check every key of @node against @fields and hand each value to its
 * parser.  @what is the mapping's key path ("" for the top level).
 */
int yf_walk_mapping(struct yf_loader *ld, yaml_node_t *node, const char *what,
		    const struct yf_field *fields, size_t nfields, char *base);

/* The field parsers: each checks one value and stores it at base + f->off. */
int yf_mapping(struct yf_loader *ld, const struct yf_field *f, const char *what, yaml_node_t *v,
	       char *base); /* f->sub */
int yf_string(struct yf_loader *ld, const struct yf_field *f, const char *what, yaml_node_t *v,
	      char *base); /* char *, malloc'd */
int yf_nonempty_string(struct yf_loader *ld, const struct yf_field *f, const char *what,
		       yaml_node_t *v, char *base);
int yf_name(struct yf_loader *ld, const struct yf_field *f, const char *what, yaml_node_t *v,
	    char *base); /* up to YF_NAME_MAX_LEN name characters */
int yf_phase(struct yf_loader *ld, const struct yf_field *f, const char *what, yaml_node_t *v,
	     char *base); /* a phase name: name characters */
int yf_bool(struct yf_loader *ld, const struct yf_field *f, const char *what, yaml_node_t *v,
	    char *base); /* bool: true or false */
int yf_int(struct yf_loader *ld, const struct yf_field *f, const char *what, yaml_node_t *v,
	   char *base); /* int in f->min..f->max */
int yf_duration(struct yf_loader *ld, const struct yf_field *f, const char *what, yaml_node_t *v,
		char *base); /* int64_t ns */
int yf_size(struct yf_loader *ld, const struct yf_field *f, const char *what, yaml_node_t *v,
	    char *base); /* int MiB */
int yf_path(struct yf_loader *ld, const struct yf_field *f, const char *what, yaml_node_t *v,
	    char *base); /* char *, the realpath of an existing regular file */
int yf_console(struct yf_loader *ld, const struct yf_field *f, const char *what, yaml_node_t *v,
	       char *base); /* char, 'a' or 'b' */
int yf_probe_state(struct yf_loader *ld, const struct yf_field *f, const char *what,
		   yaml_node_t *v, char *base); /* bool, true = up */
int yf_pattern(struct yf_loader *ld, const struct yf_field *f, const char *what, yaml_node_t *v,
	       char *base); /* char *, a valid POSIX ERE */
int yf_send_text(struct yf_loader *ld, const struct yf_field *f, const char *what, yaml_node_t *v,
		 char *base); /* char *, \n \r \t \\ decoded in plain scalars */

/* "250us", "1ms", "1.5s", "2m", "100ns" -> nanoseconds; -1 if malformed or <= 0. */
int scenario_parse_duration(const char *text, int64_t *ns);

/* "512M", "512MiB", "1G", "1GiB" -> MiB; -1 if malformed or zero. */
int scenario_parse_size_mib(const char *text, int *mib);

#endif
