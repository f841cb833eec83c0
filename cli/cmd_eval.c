// defines: cmd_eval (ssmkit eval CONFIG --ckpt FILE [--split val|test])
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/checkpoint.h"
#include "tasks/train_classify.h"

static const char *USAGE = "ssmkit eval CONFIG --ckpt FILE [--split val|test] [--set k=v]...";

int cmd_eval(int argc, char **argv) {
    cli_args a;
    int rc = cli_parse(&a, argc, argv, CLI_SET | CLI_CKPT | CLI_SPLIT, USAGE);
    if (rc)
        return rc;
    if (a.help) {
        printf("%s\n\nEvaluates a checkpoint on the validation or test split (default test) and\n"
               "prints one JSON line: split, samples, loss, accuracy, top5, macro_f1.\n", USAGE);
        return 0;
    }
    ssm_error err = {0};
    if (!a.ckpt) {
        fprintf(stderr, "ssmkit eval: --ckpt FILE is required\nusage: %s\n", USAGE);
        return 2;
    }
    ssm_config cfg;
    if (cli_load_config(&cfg, &a, &err))
        return cli_fail("eval", &err);
    cli_apply_threads(&cfg);
    const char *split = a.split ? a.split : "test";
    int want_test = !strcmp(split, "test");
    image_data data;
    if (image_data_open(&data, &cfg.data, (uint64_t)cfg.run.seed, want_test, &err))
        return cli_fail("eval", &err);
    classify_model model = {0};
    classify_model_spec spec;
    int64_t batch = cfg.data.eval_batch_size > 0 ? cfg.data.eval_batch_size : cfg.data.batch_size;
    ssm_code code = cli_model_spec(&spec, &cfg, data.C, data.H, data.W, batch, &err);
    if (!code)
        code = classify_model_build(&model, &spec, &err);
    if (!code)
        code = ssm_checkpoint_load(a.ckpt, &model.params, 0, NULL, &err);
    if (!code && !want_test && !data.has_val)
        code = ssm_fail(&err, SSM_ECONFIG, "--split val: data.val_fraction is 0, there is no validation split");
    class_metrics cm = {0};
    if (!code)
        code = class_metrics_init(&cm, model.V, 5, &err);
    double loss = 0;
    if (!code)
        code = evaluate_classify(&model, want_test ? &data.test : &data.val, &cm, &loss, &err);
    if (!code)
        printf("{\"split\":\"%s\",\"samples\":%lld,\"loss\":%.6g,\"accuracy\":%.6g,\"top5\":%.6g,"
               "\"macro_f1\":%.6g}\n",
               split, (long long)*cm.n, loss, class_metrics_accuracy(&cm),
               class_metrics_topk_accuracy(&cm), class_metrics_macro_f1(&cm));
    class_metrics_free(&cm);
    classify_model_free(&model);
    image_data_close(&data);
    return code ? cli_fail("eval", &err) : 0;
}
