// defines: tu_run_suite, tu_run_suite_nofork, tu_run_suite_in, tu_cuda_ready
// The end of every suite's main: run all of a Check suite, print Check's report, and turn
// the count of failures into the process's exit status; and, for the CUDA-vs-CPU suites,
// whether their GPU tests can run in this build on this machine.
#pragma once
#include <check.h>

// Runs every test of s, each in a forked child unless CK_FORK=no (Check's default), and
// frees the runner. Returns 0 when all passed, 1 otherwise.
int tu_run_suite(Suite *s);
// The same with every test in this process: for suites whose tests share one CUDA context
// or fixtures that one test leaves for the next.
int tu_run_suite_nofork(Suite *s);
// tu_run_suite (tu_run_suite_nofork with nofork) around a temp folder its tests share: made
// first into dir[0..cap) (tu_mkdtemp with tag), removed after. Also 1 when the folder cannot be
// made (nothing runs then) or removed.
int tu_run_suite_in(Suite *s, int nofork, char *dir, size_t cap, const char *tag);

// 1 when GPU tests can run here. Otherwise prints "<what> skipped (why)" (what: "test_x:"
// for a whole suite, "test_x: GPU cases" for a part) and returns 0: built without CUDA (no
// CUDA=1, or the sanitized or double build, which link no CUDA code), or no CUDA device.
// The tests' own HAVE_CUDA test is the same build condition.
int tu_cuda_ready(const char *what);
