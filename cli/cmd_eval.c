// defines: cmd_eval (ssmkit eval CONFIG --ckpt FILE [--split val|test] [--out DIR])
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/checkpoint.h"
#include "tasks/task_run.h"

static const char *USAGE =
    "ssmkit eval CONFIG --ckpt FILE [--split val|test] [--out DIR] [--set k=v]...";

int cmd_eval(int argc, char **argv) {
    cli_args a;
    int rc = cli_parse(&a, argc, argv, CLI_SET | CLI_CKPT | CLI_SPLIT | CLI_OUT, USAGE);
    if (rc)
        return rc;
    if (a.help) {
        printf("%s\n\nEvaluates a checkpoint on the validation or test split (default test) and\n"
               "prints one JSON line: split, samples, then the task's metrics (classify: loss,\n"
               "accuracy, top5, macro_f1; forecast and regress: loss, mse, mae, mse_orig, mae_orig;\n"
               "mil: loss, accuracy, balanced_accuracy, macro_f1, auc).\n\n"
               "  --out DIR   also write the task's report files for the evaluated split into DIR\n"
               "              (classify: confusion_test.csv; mil: predictions_test.csv with each\n"
               "              bag's probabilities, attention_test.csv with each instance's weight)\n",
               USAGE);
        return 0;
    }
    ssm_error err = {0};
    if (!a.ckpt) {
        fprintf(stderr, "ssmkit eval: --ckpt FILE is required\nusage: %s\n", USAGE);
        return 2;
    }
    ssm_config cfg;
    ssm_device device;
    if (cli_load_config(&cfg, &a, &err) || cli_open_device(&cfg, &device, &err))
        return cli_fail("eval", &err);
    cli_apply_threads(&cfg);
    const char *split = a.split ? a.split : "test";
    int want_test = !strcmp(split, "test");
    cli_data data;
    if (cli_data_open(&data, &cfg, want_test, &err))
        return cli_fail("eval", &err);
    ssm_task *task = NULL;
    int64_t batch = cfg.data.eval_batch_size > 0 ? cfg.data.eval_batch_size : cfg.data.batch_size;
    ssm_code code = task_create(&task, &cfg, &data.info, batch, &err);
    if (!code)
        code = task_load_checkpoint(task, a.ckpt, 0, NULL, &err);
    if (!code && !want_test && !data.val)
        code = ssm_fail(&err, SSM_ECONFIG, "--split val: data.val_fraction is 0, there is no validation split");
    task_metrics m;
    if (!code)
        code = task_evaluate(task, want_test ? data.test : data.val, &m, &err);
    if (!code && a.out && task->vt->test_report) {
        code = cli_mkdirs(a.out, &err);
        if (!code)
            code = task->vt->test_report(task, a.out, &err);
    }
    if (!code) {
        printf("{\"split\":\"%s\",\"samples\":%lld", split, (long long)m.samples);
        for (int i = 0; i < m.n; i++)
            printf(",\"%s\":%.6g", m.key[i], m.value[i]);
        printf("}\n");
    }
    task_free(task);
    cli_data_close(&data);
    if (code)
        cli_blame_config(a.config, &err);
    return code ? cli_fail("eval", &err) : 0;
}
