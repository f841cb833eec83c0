// defines: cmd_synth_bags (ssmkit synth-bags DIR [--bags N] [--min L] [--max L] [--dim F]
//          [--witnesses A:B] [--shift S] [--splits K] [--seed S])
// Writes a synthetic bag set in CLAM's layout (datasets/mil_synth.h): dataset.csv,
// h5_files/<slide>.h5 (features, coords, witness) and splits/splits_<k>.csv. A positive
// bag holds a few "witness" instances among up to --max noise instances, so a model must
// find a handful in thousands: the long-bag check of configs/mil/camelyon16_clam.yaml and
// a way to try the CLAM pipeline with no slides at hand.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "datasets/mil_synth.h"

static const char *USAGE = "ssmkit synth-bags DIR [--bags N] [--min L] [--max L] [--dim F] "
                           "[--witnesses A:B] [--shift S] [--splits K] [--seed S]";

static int option(void *ctx, const char *s, const char *v) {
    mil_synth_opts *o = ctx;
    if (!strcmp(s, "--bags")) o->n_bags = atoll(v);
    else if (!strcmp(s, "--min")) o->min_len = atoll(v);
    else if (!strcmp(s, "--max")) o->max_len = atoll(v);
    else if (!strcmp(s, "--dim")) o->F = atoll(v);
    else if (!strcmp(s, "--shift")) o->shift = atof(v);
    else if (!strcmp(s, "--splits")) o->n_splits = atoll(v);
    else if (!strcmp(s, "--seed")) o->seed = strtoull(v, NULL, 10);
    else if (!strcmp(s, "--witnesses")) {
        long long a, b;
        if (sscanf(v, "%lld:%lld", &a, &b) != 2) {
            fprintf(stderr, "ssmkit: --witnesses takes A:B, got '%s'\n", v);
            return 2;
        }
        o->min_witness = a, o->max_witness = b;
    } else
        return 1;
    return 0;
}

int cmd_synth_bags(int argc, char **argv) {
    mil_synth_opts o = {.n_bags = 40, .min_len = 1000, .max_len = 50000, .F = 128,
                        .min_witness = 5, .max_witness = 20, .shift = 2.0,
                        .positive_fraction = 0.5, .n_splits = 5, .val_fraction = 0.1, .seed = 0};
    const char *dir;
    int rc = cli_parse_dir_options(
        argc, argv, USAGE,
        "Writes a synthetic MIL bag set in CLAM's layout (docs/datasets.md).\n"
        "Defaults: 40 bags of 1000..50000 instances of 128 features, 5..20 witnesses\n"
        "per positive bag shifted by 2.0, 5 split files, seed 0.\n",
        &dir, option, &o);
    if (rc >= 0)
        return rc;
    ssm_error err = {0};
    if (mil_synth_write(dir, &o, &err))
        return cli_fail("synth-bags", &err);
    printf("%s: %lld bags of %lld..%lld instances of %lld features\n", dir, (long long)o.n_bags,
           (long long)o.min_len, (long long)o.max_len, (long long)o.F);
    return 0;
}
