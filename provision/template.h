/*
 * template.h - guest templates (vmkit-template(5)): named sets of
 * provisioning settings in the settings-file format (settings.h), the
 * administrator's CONFDIR/templates/NAME.conf first, else the data
 * directory's templates/guest/NAME.conf (shipped).  vm-provision applies
 * one (--template NAME) between provision.conf and the --config files;
 * options_apply_settings(LAYER_TEMPLATE) refuses the keys that name one
 * guest.  This module finds and lists them; it reads no settings.
 */
#ifndef VMKIT_TEMPLATE_H
#define VMKIT_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

/* The longest description template_description keeps, in bytes. */
#define TEMPLATE_DESCRIPTION_MAX 200

/*
 * The path of template name (which must pass check_name()): confdir's
 * templates/NAME.conf when it exists, else datadir's
 * templates/guest/NAME.conf (confdir may be NULL).  Returns 0 and a new
 * string in *path_r (*site_r, when not NULL, true for confdir's);
 * -ENOENT when neither exists; -ENOMEM.  Nothing is read.
 */
int template_find(const char *confdir, const char *datadir, const char *name,
                  char **path_r, bool *site_r);

/*
 * A template's one-line description, from the comments that lead its
 * text (len bytes): the first `# description: TEXT' line among them, or
 * else the first of them that says something (`#' and the blanks after it
 * dropped); blank lines do not end the lead, the first other line does.
 * Control characters become spaces; at most TEMPLATE_DESCRIPTION_MAX
 * bytes are kept.  A new string, "" when there is none; NULL (ENOMEM).
 */
char *template_description(const char *text, size_t len);

/* The description of the template file at path, as template_description
 * says, or "(cannot be read: REASON)"; a new string, NULL (ENOMEM). */
char *template_describe_file(const char *path);

struct template_info {
    char *name;             /* without .conf */
    char *path;             /* the file that wins */
    bool site;              /* in confdir/templates */
    bool shadows;           /* site, and a shipped one of the name exists */
    char *description;      /* template_description, or why it cannot be read */
};

/*
 * The templates in confdir/templates and datadir/templates/guest
 * (regular files NAME.conf, NAME passing check_name()), sorted by name,
 * the administrator's shadowing a shipped one of the same name, each
 * with its description (a file that cannot be read gets "(cannot be
 * read: REASON)").  Returns 0 and a new array in *v_r of *n_r entries
 * (free with template_list_free); -errno when neither directory can be
 * read; -ENOMEM.
 */
int template_list(const char *confdir, const char *datadir, struct template_info **v_r,
                  size_t *n_r);

void template_list_free(struct template_info *v, size_t n);

#endif
