/*
 * answer.h - answer files for the distributions' own installers, rendered
 * from templates (templates/kickstart/NAME.ks for anaconda,
 * templates/preseed/NAME.cfg for debian-installer): named variables
 * only, every value checked for what it means and for the syntax of the
 * place it lands.  A value that cannot be written safely there is
 * refused, never escaped into something the installer reads otherwise.
 *
 * Template syntax (the same for both kinds):
 *   @NAME@       a variable's value; NAME is [a-z][a-z0-9_]*
 *   @@           a literal `@' (a `@' that starts neither is an error)
 *   @if NAME@    a line of its own: the lines up to @else@ or @endif@
 *                are kept when NAME is given, else those after @else@
 *   @else@       a line of its own, optional
 *   @endif@      a line of its own
 * Blocks do not nest.  Directive lines leave nothing in the output.
 * Variables used in a block that is left out need not be given; every
 * name is checked against the list below all the same.
 *
 * Where a value lands decides how it is written:
 *   kickstart command line   quoted for anaconda's shell-like splitting
 *                (shlex): bare when it holds only letters, digits and
 *                `_.,:/=+@$-', else in double quotes with `"' and `\'
 *                escaped; several items of a list are joined with `,'
 *                (and may then hold neither `,' nor blanks)
 *   kickstart %packages      the placeholder alone on its line; one
 *                package name a line
 *   kickstart %pre, %pre-install, %post, %onerror, %traceback   shell
 *   preseed question value (the rest of the line after owner, question
 *                and type)   as it is; several items of a list are joined
 *                with blanks (and may then hold none); a value that
 *                begins or ends with a blank or ends with `\' (a
 *                continued line) is refused
 *   preseed questions named .../early_command or .../late_command   shell
 *   shell        each item in single quotes (a `'' in it as '\''),
 *                items separated by a blank: one inert word each
 * A template error, not a value error: a placeholder inside quotes of
 * the template's own (kickstart lines, shell), in the first word of a
 * kickstart line (anaconda decides from that word whether the line
 * starts a section: `%end', `%post'), on a kickstart `%' line or in an
 * %addon/%anaconda section, anywhere but a question's value in a
 * preseed line, or in a preseed comment.
 *
 * Every value: not empty (leave the variable out instead), printable
 * ASCII only (so no newline, hence no new line, `%' section or preseed
 * question, can come from a value), not beginning with `-' (it would
 * read as an option).  Then by variable (a list variable is given once
 * per item, in order; any other at most once):
 *   hostname            the host's first label (check_hostname, no dot)
 *   domain, fqdn        host names (fqdn: hostname.domain, or hostname)
 *   ip, gateway         IPv4 addresses (static network)
 *   netmask             a dotted-quad IPv4 netmask
 *   nameservers         list: IPv4 or IPv6 addresses
 *   root_password_hash  a crypt(3) string: `$', then [A-Za-z0-9./$=]
 *                       (never repeated in messages)
 *   ssh_keys            list: `TYPE BASE64[ COMMENT]', one public key each
 *   disk                the target disk's device name, as `vda'
 *   swap_mib            the swap partition's size in MiB, 1..4194304
 *   timezone            a tz name, as `Europe/Berlin' or `UTC'
 *   locale              as `en_US.UTF-8'
 *   keymap              a console keymap, as `us' or `de-latin1'
 *   mirror_url          kickstart `url': an install tree (check_url)
 *   mirror_host         preseed: the mirror's HOST or HOST:PORT (http)
 *   mirror_dir          preseed: the mirror's directory, as `/debian'
 *   proxy               an http:// or https:// proxy URL
 *   packages            list: package names ([A-Za-z0-9][A-Za-z0-9._+-]*)
 *   console_args        the installed system's extra kernel arguments
 *                       (no quotes, `\', `$' or backquote: they land in
 *                       bootloader configuration such as
 *                       /etc/default/grub, which a shell reads)
 *   console             the tty that gets a getty, as `hvc0'
 * A template that names any other variable is refused.
 */
#ifndef VMKIT_ANSWER_H
#define VMKIT_ANSWER_H

#include <stddef.h>

#include "diag.h"

enum answer_syntax {
    ANSWER_KICKSTART,   /* anaconda (CentOS, Rocky, Alma, Fedora) */
    ANSWER_PRESEED,     /* debian-installer */
};

/* One value; both strings are the caller's. */
struct answer_var {
    const char *name;
    const char *value;
};

/*
 * Renders the template text (len bytes, read from source: the name used
 * in messages) with vars (nvars entries, any order; a list variable once
 * per item).  The values of vars the template does not use are not
 * checked (their names are).  Returns 0
 * and a new NUL-terminated string in *out_r (caller frees); -EINVAL
 * after recording every error in d as SOURCE:LINE:COL: message (a
 * template error, a variable used but not given, a refused value, a
 * variable name not in the list above or a non-list variable given
 * twice: those two without a position), *out_r untouched; -ENOMEM.
 */
int answer_render(const char *source, const char *text, size_t len,
                  enum answer_syntax syntax, const struct answer_var *vars,
                  size_t nvars, char **out_r, struct diag *d);

#endif
