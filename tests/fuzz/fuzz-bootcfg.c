/*
 * fuzz-bootcfg - libFuzzer target for the guest boot config parsers
 * (hypervisor/bootcfg.c): one input is read as grub.cfg, as extlinux.conf,
 * as a BLS entry (with $vars from the same input read as a grubenv), and
 * an entry is chosen from each result.  The parsers must stay in their
 * bounds and leave every entry they return well-formed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bootcfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct bootcfg *cfg)
{
    char note[256], why[256];
    long i;

    if (cfg->nentries > BOOTCFG_MAX_ENTRIES)
        abort();
    for (size_t k = 0; k < cfg->nentries; k++) {
        const struct bootcfg_entry *e = &cfg->entries[k];

        if (!e->title || !e->index || !e->cmdline || e->ninitrds > BOOTCFG_MAX_INITRDS)
            abort();
        for (size_t j = 0; j < e->ninitrds; j++)
            if (!e->initrds[j])
                abort();
    }
    i = bootcfg_choose(cfg, NULL, note, sizeof(note), why, sizeof(why));
    if (i >= (long)cfg->nentries || (i < 0 && i != -ENOENT))
        abort();
    if (i >= 0 && !cfg->entries[i].kernel)
        abort();
    if (cfg->nentries)
        (void)bootcfg_choose(cfg, cfg->entries[cfg->nentries - 1].title, note, sizeof(note),
                             why, sizeof(why));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct bootcfg cfg;
    struct bootcfg_var vars[16];
    char why[512], *store = NULL;
    int n;

    bootcfg_init(&cfg);
    if (!bootcfg_parse_grub("grub.cfg", text, size, &cfg, why, sizeof(why)))
        check(&cfg);
    bootcfg_dispose(&cfg);
    if (!bootcfg_parse_extlinux("extlinux.conf", text, size, &cfg, why, sizeof(why)))
        check(&cfg);
    bootcfg_dispose(&cfg);
    n = bootcfg_parse_grubenv(text, size, vars, 16, &store);
    if (!bootcfg_add_bls("/loader/entries/a.conf", text, size, vars, n > 0 ? (size_t)n : 0,
                         &cfg, why, sizeof(why)) &&
        !bootcfg_add_bls("/loader/entries/b.conf", text, size, NULL, 0, &cfg, why, sizeof(why))) {
        bootcfg_sort_bls(&cfg);
        check(&cfg);
    }
    bootcfg_dispose(&cfg);
    free(store);
    return 0;
}
