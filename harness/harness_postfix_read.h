/*
 * harness_postfix_read - main.cf, master.cf and a transport map read as Postfix reads them, into the
 * parts tempfail import translates (harness_postfix_import.c writes them as YAML).
 *
 * A logical line starts in the first column and goes on over the lines that start with whitespace;
 * blank lines and lines whose first non-blank is '#' are skipped (they do not end a logical line);
 * "name = { value }" keeps the braces' content as the value, and "-o { name = value }" likewise in
 * master.cf (Postfix 3.0 and later). "#tempfail:" comments, which the generated files carry, are
 * read as directives. What is not imported gets a warning line; a line that cannot be read is an
 * error with file:line.
 */
#ifndef HARNESS_POSTFIX_READ_H
#define HARNESS_POSTFIX_READ_H

#include <stdbool.h>
#include <stddef.h>

#include "harness/harness_postfix_import.h"
#include "harness/harness_text.h"
#include "scenarios/scenario_mta.h"

typedef struct harness_postfix_read_kv {
    char *name, *value;
    const char *file;
    int line;
} harness_postfix_read_kv;

typedef struct harness_postfix_read_transport {
    char *name;
    int line;                      /* master.cf line, 0 when only the map names it */
    char *maxproc;                 /* NULL: "-" */
    harness_postfix_read_kv *opts; /* -o overrides of smtp(8) parameters */
    size_t nopts;
    char **domains;
    int *domain_lines;
    size_t ndomains;
    char *nexthop; /* shared by all its entries */
    int nexthop_line;
    char **senders; /* sender_dependent_default_transport_maps keys routed to it */
    size_t nsenders;
    int senders_line;
    bool mixed; /* entries with different nexthops */
    bool used;  /* a map entry routes to it */
} harness_postfix_read_transport;

typedef struct harness_postfix_read {
    harness_postfix_read_transport *t;
    size_t nt;
    harness_postfix_read_kv *params; /* main.cf, the last of each name */
    size_t nparams;
    harness_text warn;
    char *err;
    size_t errlen;
    bool generated;                                 /* the map is tempfail's own */
    const char *main_name, *master_name, *map_name; /* for messages */
} harness_postfix_read;

/* Each reads one file into m; false with m->err filled on an error. Read master.cf first, then the
 * map (have_master: a map entry must name a master.cf service), then main.cf. */
bool harness_postfix_read_master(harness_postfix_read *m, const harness_postfix_input *in);
bool harness_postfix_read_map(harness_postfix_read *m, const harness_postfix_input *in, bool have_master);
bool harness_postfix_read_main(harness_postfix_read *m, const harness_postfix_input *in);
void harness_postfix_read_free(harness_postfix_read *m);

/* m->err gets the message; returns false. */
bool harness_postfix_read_fail(harness_postfix_read *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One warning line into m->warn. */
void harness_postfix_read_warn(harness_postfix_read *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
harness_postfix_read_transport *harness_postfix_read_transport_find(harness_postfix_read *m, const char *name);
/* The transport of that name, added (line: its master.cf line, or 0) when it is new. */
harness_postfix_read_transport *harness_postfix_read_transport_add(harness_postfix_read *m, const char *name, int line);
/* The loader's row for a transport block key (by_global: for a main.cf name). */
const scenario_mta_tparam *harness_postfix_read_tparam(const char *name, bool by_global);
/* "<transport>_<param>" for a qmgr parameter: the parameter, and the prefix length in *pl. */
const scenario_mta_tparam *harness_postfix_read_prefixed(const char *name, size_t *pl);
/* A $name reference in a value the model reads is an error (the loader refuses them). */
bool harness_postfix_read_no_reference(harness_postfix_read *m, const char *file, int line, const char *name,
                                       const char *value);

#endif
