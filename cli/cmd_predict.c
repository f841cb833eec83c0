// defines: cmd_predict (ssmkit predict CONFIG --ckpt FILE INPUT...)
// The command line of `ssmkit predict`; the work is cli/predict.c's (docs/predict.md).
// predict's own options are taken out of argv before the shared parser sees the rest.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/predict.h"

static const char *USAGE =
    "ssmkit predict CONFIG --ckpt FILE [--top K] [--full] [--format text|json|csv]\n"
    "       [--window S [--hop S]] [--attention FILE] [--at ROW] [--no-dates]\n"
    "       [--category NAME] [--set k=v]... INPUT...";

static const char *HELP =
    "Runs a checkpoint's model on input files and prints one row per sample. What an input\n"
    "is follows the config's data.name:\n"
    "  images  PNG images (gray or colour), resized to the training size\n"
    "  audio   WAV / FLAC / Ogg clips of any length: one pass over the whole clip (learned\n"
    "          time positions resized to its length), or --window S [--hop S]: windows of\n"
    "          S seconds every S (or hop) seconds, each row with its start and end\n"
    "  bags    MIL bags: CLAM .h5 feature files (one bag each), or CSVs of features (rows\n"
    "          of D values: one bag; rows label,bag_id,f1..fD: one bag per bag_id)\n"
    "  points  point clouds: .txt .xyz .pts .csv .ply .off (a segmentation model: one row\n"
    "          per point of the file, its part and probability)\n"
    "  forecast a CSV in the training data's layout (data.name ett, csv): a time column,\n"
    "          then the variates, found by name; the last data_lookback rows are the\n"
    "          history. Writes the next data_horizon steps of the targets in the data's\n"
    "          units, per input a CSV block (blocks separated by an empty line), the first\n"
    "          column the future times (extrapolated from the input's) or step 1..horizon\n"
    "  series  UCR/UEA .ts / .tsv files (data.name ucr; a row per series), or a plain CSV\n"
    "          of one series (a row per time step, a column per channel)\n"
    "Inputs are prepared as the training data was (the checkpoint's metadata: size,\n"
    "normalisation, class names; the config gives what a checkpoint lacks).\n\n"
    "  --top K            classes per text row (default 3)\n"
    "  --full             text probabilities with 9 significant digits (default 4 decimals)\n"
    "  --format F         text (tab-separated, the default), json (one document) or csv\n"
    "                     (a header row); json and csv: every class, 9 significant digits\n"
    "  --window S --hop S audio: sound event detection over a long recording\n"
    "  --attention FILE   bags: each instance's attention weight, as CSV\n"
    "                     (input,sample,instance,attention[,x,y])\n"
    "  --at ROW           forecast: the history ends at data row ROW (1 = the first row\n"
    "                     after the header), not the last row\n"
    "  --no-dates         forecast: number the future steps 1..horizon, no timestamps\n"
    "  --category NAME    point segmentation (ShapeNetPart): the objects' category, by name\n"
    "                     or number; required when the model is conditioned on it\n"
    "Forecasts: text and csv are the same CSV; json one document (docs/predict.md).\n";

// Removes predict's options from argv (they take a value, but --full), filling *o.
// Returns 0, or 2 after printing the problem.
static int take_options(int *argc, char **argv, predict_opts *o) {
    int n = 0;
    for (int i = 0; i < *argc; i++) {
        const char *s = argv[i];
        int flag = !strcmp(s, "--format") || !strcmp(s, "--window") || !strcmp(s, "--hop") ||
                   !strcmp(s, "--attention") || !strcmp(s, "--at") ||
                   !strcmp(s, "--category");
        if (!strcmp(s, "--full") || !strcmp(s, "--no-dates")) {
            o->full |= !strcmp(s, "--full");
            o->no_dates |= !strcmp(s, "--no-dates");
            continue;
        }
        if (!flag) {
            argv[n++] = argv[i];
            continue;
        }
        const char *v = i + 1 < *argc ? argv[++i] : NULL;
        char *end = NULL;
        if (!v) {
            fprintf(stderr, "ssmkit: option '%s' needs a value\nusage: %s\n", s, USAGE);
            return 2;
        }
        if (!strcmp(s, "--format")) {
            if (!strcmp(v, "text"))
                o->format = PREDICT_TEXT;
            else if (!strcmp(v, "json"))
                o->format = PREDICT_JSON;
            else if (!strcmp(v, "csv"))
                o->format = PREDICT_CSV;
            else {
                fprintf(stderr, "ssmkit: --format must be text, json or csv, not '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(s, "--attention")) {
            o->attention = v;
        } else if (!strcmp(s, "--at")) {
            long long r = strtoll(v, &end, 10);
            if (end == v || *end || r < 1) {
                fprintf(stderr, "ssmkit: --at %s: expected a data row number >= 1\n", v);
                return 2;
            }
            o->at = r;
        } else if (!strcmp(s, "--category")) {
            o->category = v;
        } else {
            double x = strtod(v, &end);
            if (end == v || *end || !(x > 0) || x > 1e7) {
                fprintf(stderr, "ssmkit: %s %s: expected seconds > 0\n", s, v);
                return 2;
            }
            if (!strcmp(s, "--window"))
                o->window = x;
            else
                o->hop = x;
        }
    }
    *argc = n;
    if (o->hop > 0 && !(o->window > 0)) {
        fprintf(stderr, "ssmkit: --hop needs --window\nusage: %s\n", USAGE);
        return 2;
    }
    return 0;
}

int cmd_predict(int argc, char **argv) {
    predict_opts o = {0};
    int rc = take_options(&argc, argv, &o);
    cli_args a;
    if (!rc)
        rc = cli_parse(&a, argc, argv, CLI_SET | CLI_CKPT | CLI_TOP | CLI_INPUTS, USAGE);
    if (rc)
        return rc;
    if (a.help) {
        printf("%s\n\n%s", USAGE, HELP);
        return 0;
    }
    if (!a.ckpt || a.n_inputs == 0) {
        fprintf(stderr, "ssmkit predict: --ckpt FILE and at least one INPUT are required\nusage: %s\n",
                USAGE);
        return 2;
    }
    o.top = a.top;
    ssm_error err = {0};
    ssm_config cfg;
    ssm_device device;
    if (cli_load_config(&cfg, &a, &err) || cli_open_device(&cfg, &device, &err))
        return cli_fail("predict", &err);
    cli_apply_threads(&cfg);
    if (predict_run(&cfg, a.ckpt, (const char *const *)a.inputs, a.n_inputs, &o, &err))
        return cli_fail("predict", &err);
    return 0;
}
