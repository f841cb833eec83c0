// defines: tu_run_suite, tu_run_suite_nofork
// The end of every suite's main: run all of a Check suite, print Check's report, and turn
// the count of failures into the process's exit status.
#pragma once
#include <check.h>

// Runs every test of s, each in a forked child unless CK_FORK=no (Check's default), and
// frees the runner. Returns 0 when all passed, 1 otherwise.
int tu_run_suite(Suite *s);
// The same with every test in this process: for suites whose tests share one CUDA context
// or fixtures that one test leaves for the next.
int tu_run_suite_nofork(Suite *s);
