// Check suite: in-memory image datasets and batching: seeded split and
// statistics, augmentation and image ops, shuffling, exact resume, prefetch
// (bitwise identical to no prefetch, errors carried across the thread).
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/augment.h"
#include "datasets/batch.h"
#include "datasets/dataset.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

// ---------------------------------------------------------------- split, stats

// An in-memory dataset with imbalanced classes: sample i has class (i*i) % K.
static void synth_dataset(ssm_image_dataset *ds, int64_t n, int64_t C, int64_t H, int64_t W,
                          int32_t K, uint64_t seed) {
    memset(ds, 0, sizeof *ds);
    ds->n = n;
    ds->C = C;
    ds->H = H;
    ds->W = W;
    ds->num_classes = K;
    ds->pixels = malloc((size_t)(n * C * H * W));
    ds->labels = malloc((size_t)n * sizeof *ds->labels);
    uint64_t st = seed;
    for (int64_t i = 0; i < n * C * H * W; i++)
        ds->pixels[i] = (uint8_t)(tu_uniform(&st) * 256);
    for (int64_t i = 0; i < n; i++)
        ds->labels[i] = (int32_t)((i * i) % K);
}

static void check_partition(const int64_t *tr, int64_t ntr, const int64_t *va, int64_t nva,
                            int64_t n) {
    ck_assert_int_eq(ntr + nva, n);
    char *seen = calloc((size_t)n, 1);
    for (int64_t i = 0; i < ntr; i++) {
        ck_assert(tr[i] >= 0 && tr[i] < n && !seen[tr[i]]);
        seen[tr[i]] = 1;
        if (i)
            ck_assert(tr[i - 1] < tr[i]);
    }
    for (int64_t i = 0; i < nva; i++) {
        ck_assert(va[i] >= 0 && va[i] < n && !seen[va[i]]);
        seen[va[i]] = 1;
        if (i)
            ck_assert(va[i - 1] < va[i]);
    }
    free(seen);
}

START_TEST(split_sizes_determinism_stratification) {
    ssm_image_dataset ds;
    synth_dataset(&ds, 1003, 1, 2, 2, 7, 1);
    ssm_error e;
    for (int strat = 0; strat < 2; strat++) {
        int64_t *tr, *va, *tr2, *va2, ntr, nva, ntr2, nva2;
        ck_assert_int_eq(ssm_image_dataset_split(&ds, 0.1, 42, strat, &tr, &ntr, &va, &nva, &e),
                         SSM_OK);
        check_partition(tr, ntr, va, nva, ds.n);
        ck_assert_int_eq(nva, 100); // round(0.1 * 1003)
        ck_assert_int_eq(ssm_image_dataset_split(&ds, 0.1, 42, strat, &tr2, &ntr2, &va2, &nva2, &e),
                         SSM_OK);
        ck_assert_int_eq(nva2, nva);
        ck_assert(memcmp(va, va2, (size_t)nva * sizeof *va) == 0);
        free(tr2);
        free(va2);
        ck_assert_int_eq(ssm_image_dataset_split(&ds, 0.1, 43, strat, &tr2, &ntr2, &va2, &nva2, &e),
                         SSM_OK);
        ck_assert(memcmp(va, va2, (size_t)nva * sizeof *va) != 0);
        free(tr2);
        free(va2);
        if (strat) {
            // every class keeps its share: floor or ceil of 0.1 * count
            int64_t count[7] = {0}, vcount[7] = {0};
            for (int64_t i = 0; i < ds.n; i++)
                count[ds.labels[i]]++;
            for (int64_t i = 0; i < nva; i++)
                vcount[ds.labels[va[i]]]++;
            for (int c = 0; c < 7; c++) {
                ck_assert_int_ge(vcount[c], (int64_t)floor(0.1 * (double)count[c]));
                ck_assert_int_le(vcount[c], (int64_t)ceil(0.1 * (double)count[c]));
            }
        }
        free(tr);
        free(va);
    }
    int64_t *tr, *va, ntr, nva;
    ck_assert_int_eq(ssm_image_dataset_split(&ds, 0.0, 1, 1, &tr, &ntr, &va, &nva, &e), SSM_OK);
    ck_assert_int_eq(nva, 0);
    check_partition(tr, ntr, va, nva, ds.n);
    free(tr);
    free(va);
    ck_assert_int_eq(ssm_image_dataset_split(&ds, 1.0, 1, 0, &tr, &ntr, &va, &nva, &e), SSM_OK);
    ck_assert_int_eq(ntr, 0);
    check_partition(tr, ntr, va, nva, ds.n);
    free(tr);
    free(va);
    ck_assert_int_eq(ssm_image_dataset_split(&ds, 1.5, 1, 0, &tr, &ntr, &va, &nva, &e), SSM_EINVAL);
    ssm_image_dataset_free(&ds);
}
END_TEST

START_TEST(stats_match_naive_two_pass) {
    ssm_image_dataset ds;
    synth_dataset(&ds, 37, 3, 5, 4, 3, 9);
    int64_t ids[] = {0, 5, 6, 20, 36};
    double mean[3], sd[3];
    ssm_error e;
    ck_assert_int_eq(ssm_image_dataset_stats(&ds, ids, 5, mean, sd, &e), SSM_OK);
    for (int c = 0; c < 3; c++) {
        double m = 0, v = 0;
        int cnt = 0;
        for (int k = 0; k < 5; k++)
            for (int i = 0; i < 20; i++, cnt++)
                m += ds.pixels[(ids[k] * 3 + c) * 20 + i] / 255.0;
        m /= cnt;
        for (int k = 0; k < 5; k++)
            for (int i = 0; i < 20; i++) {
                double d = ds.pixels[(ids[k] * 3 + c) * 20 + i] / 255.0 - m;
                v += d * d;
            }
        ck_assert_double_eq_tol(mean[c], m, 1e-12);
        ck_assert_double_eq_tol(sd[c], sqrt(v / cnt), 1e-9);
    }
    ssm_image_dataset_free(&ds);
}
END_TEST

// ---------------------------------------------------------------- augmentation

START_TEST(augment_properties) {
    enum { C = 2, H = 5, W = 7 };
    real img[C * H * W], a[C * H * W], b[C * H * W];
    uint64_t st = 3;
    tu_fill_uniform(img, C * H * W, -1, 1, &st);
    // flip twice = identity (out of place, then in place)
    ssm_image_hflip(a, img, C, H, W);
    ck_assert(memcmp(a, img, sizeof img) != 0);
    ck_assert(a[0] == img[W - 1] && a[W - 1] == img[0]);
    ssm_image_hflip(a, a, C, H, W);
    ck_assert(memcmp(a, img, sizeof img) == 0);
    // crop with padding 0 = identity; the centre crop of any padding = identity
    ssm_image_crop_pad(a, img, C, H, W, 0, 0, 0);
    ck_assert(memcmp(a, img, sizeof img) == 0);
    ssm_image_crop_pad(a, img, C, H, W, 3, 3, 3);
    ck_assert(memcmp(a, img, sizeof img) == 0);
    // a shifted crop against naive indexing
    ssm_image_crop_pad(b, img, C, H, W, 2, 0, 4);
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int sy = y - 2, sx = x + 2;
                real want = sy < 0 || sx >= W ? 0 : img[(c * H + sy) * W + sx];
                ck_assert(b[(c * H + y) * W + x] == want);
            }

    // choices are a pure function of the key, cover the range, flip ~ half
    ssm_augment aug = {.pad = 2, .hflip = 1};
    int flips = 0, seen_dy[5] = {0}, seen_dx[5] = {0};
    for (int64_t s = 0; s < 2000; s++) {
        uint64_t k = ssm_augment_key(7, 3, s);
        ssm_augment_choice c1 = ssm_augment_choose(&aug, k, H, W), c2 = ssm_augment_choose(&aug, k, H, W);
        ck_assert(c1.dy == c2.dy && c1.dx == c2.dx && c1.flip == c2.flip);
        ck_assert(c1.dy >= 0 && c1.dy <= 4 && c1.dx >= 0 && c1.dx <= 4);
        seen_dy[c1.dy]++;
        seen_dx[c1.dx]++;
        flips += c1.flip;
    }
    ck_assert_int_gt(flips, 850);
    ck_assert_int_lt(flips, 1150);
    for (int i = 0; i < 5; i++)
        ck_assert(seen_dy[i] > 300 && seen_dx[i] > 300);
    ck_assert(ssm_augment_key(7, 3, 5) != ssm_augment_key(7, 4, 5));
    ck_assert(ssm_augment_key(7, 3, 5) != ssm_augment_key(8, 3, 5));

    // ssm_augment_apply = naive crop, then flip, then normalise
    uint8_t px[C * H * W];
    for (int i = 0; i < C * H * W; i++)
        px[i] = (uint8_t)(tu_uniform(&st) * 256);
    aug.normalize = 1;
    aug.mean[0] = 0.3f, aug.mean[1] = 0.6f;
    aug.std[0] = 0.2f, aug.std[1] = 0.5f;
    ssm_augment_choice ch = {.dy = 1, .dx = 4, .flip = 1};
    ssm_augment_apply(a, px, &aug, ch, C, H, W);
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int sy = y + 1 - 2, sx = (W - 1 - x) + 4 - 2;
                double p = sy < 0 || sy >= H || sx < 0 || sx >= W ? 0
                                                                   : px[(c * H + sy) * W + sx] / 255.0;
                double want = (p - aug.mean[c]) / aug.std[c];
                ck_assert_double_eq_tol(a[(c * H + y) * W + x], want, 1e-5);
            }
}
END_TEST

// Random erasing: chosen with probability p, the rectangle fits the image with
// torchvision's area and aspect bounds, and apply zeroes exactly it (every
// channel) after normalising, leaving every other pixel as without erasing.
START_TEST(random_erasing_properties) {
    enum { C = 2, H = 28, W = 28 };
    ssm_augment aug = {.erase_p = 0.5, .normalize = 1};
    aug.mean[0] = 0.3f, aug.mean[1] = 0.6f;
    aug.std[0] = 0.2f, aug.std[1] = 0.5f;
    ssm_augment off = aug;
    off.erase_p = 0;
    uint64_t st = 17;
    uint8_t px[C * H * W];
    for (int i = 0; i < C * H * W; i++)
        px[i] = (uint8_t)(1 + tu_uniform(&st) * 255); // never 0: zeros come from erasing
    real with[C * H * W], without[C * H * W];
    int erased = 0;
    double min_frac = 1, max_frac = 0;
    for (int64_t s = 0; s < 2000; s++) {
        uint64_t k = ssm_augment_key(5, 1, s);
        ssm_augment_choice ch = ssm_augment_choose(&aug, k, H, W);
        ssm_augment_choice c0 = ssm_augment_choose(&off, k, H, W);
        ck_assert_int_eq(c0.eh, 0);
        if (ch.eh == 0)
            continue;
        erased++;
        ck_assert(ch.ew >= 1 && ch.ey >= 0 && ch.ex >= 0 && ch.ey + ch.eh <= H && ch.ex + ch.ew <= W);
        double frac = (double)(ch.eh * ch.ew) / (H * W), aspect = (double)ch.eh / ch.ew;
        min_frac = frac < min_frac ? frac : min_frac;
        max_frac = frac > max_frac ? frac : max_frac;
        ck_assert_msg(frac > 0.01 && frac < 0.45 && aspect > 0.2 && aspect < 5,
                      "rectangle %lldx%lld", (long long)ch.eh, (long long)ch.ew);
        ssm_augment_apply(with, px, &aug, ch, C, H, W);
        ssm_augment_apply(without, px, &aug, c0, C, H, W);
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    int i = (c * H + y) * W + x;
                    int in = y >= ch.ey && y < ch.ey + ch.eh && x >= ch.ex && x < ch.ex + ch.ew;
                    ck_assert(in ? with[i] == 0 : with[i] == without[i]);
                }
    }
    ck_assert_msg(erased > 900 && erased < 1100, "erased %d of 2000 at p = 0.5", erased);
    ck_assert(min_frac < 0.05 && max_frac > 0.3); // the area range is used
}
END_TEST

START_TEST(resize_nearest_and_bilinear) {
    // bilinear, half-pixel centres: [0, 1] -> 4 wide = 0, .25, .75, 1
    real in2[2] = {0, 1}, out4[4];
    ssm_image_resize(out4, in2, 1, 1, 2, 1, 4, SSM_RESIZE_BILINEAR);
    ck_assert_double_eq_tol(out4[0], 0, 1e-7);
    ck_assert_double_eq_tol(out4[1], 0.25, 1e-7);
    ck_assert_double_eq_tol(out4[2], 0.75, 1e-7);
    ck_assert_double_eq_tol(out4[3], 1, 1e-7);
    // nearest 2x upscale replicates each pixel into a 2x2 block
    real in[2 * 3 * 2], up[2 * 6 * 4], back[2 * 3 * 2];
    uint64_t st = 5;
    tu_fill_uniform(in, 12, 0, 1, &st);
    ssm_image_resize(up, in, 2, 3, 2, 6, 4, SSM_RESIZE_NEAREST);
    for (int c = 0; c < 2; c++)
        for (int y = 0; y < 6; y++)
            for (int x = 0; x < 4; x++)
                ck_assert(up[(c * 6 + y) * 4 + x] == in[(c * 3 + y / 2) * 2 + x / 2]);
    // bilinear 2x downscale of a nearest 2x upscale gives the original back
    ssm_image_resize(back, up, 2, 6, 4, 3, 2, SSM_RESIZE_BILINEAR);
    for (int i = 0; i < 12; i++)
        ck_assert_double_eq_tol(back[i], in[i], 1e-6);
}
END_TEST

// ---------------------------------------------------------------- batching

typedef struct {
    int64_t B, epoch, offset;
    real *x;
    int32_t *y;
    int64_t *index;
} rec_batch;

// Records `count` next() results (NULL results recorded as B = 0).
static rec_batch *record(ssm_batcher *bt, int count, int64_t xn) {
    rec_batch *r = calloc((size_t)count, sizeof *r);
    ssm_error e;
    for (int k = 0; k < count; k++) {
        const ssm_batch *b;
        ck_assert_int_eq(ssm_batcher_next(bt, &b, &e), SSM_OK);
        if (!b)
            continue;
        r[k].B = b->B;
        r[k].epoch = b->epoch;
        r[k].offset = b->offset;
        ck_assert_int_eq(b->shape[0], b->B);
        r[k].x = malloc((size_t)(b->B * xn) * sizeof(real));
        memcpy(r[k].x, b->x, (size_t)(b->B * xn) * sizeof(real));
        r[k].y = malloc((size_t)b->B * sizeof(int32_t));
        memcpy(r[k].y, b->y, (size_t)b->B * sizeof(int32_t));
        r[k].index = malloc((size_t)b->B * sizeof(int64_t));
        memcpy(r[k].index, b->index, (size_t)b->B * sizeof(int64_t));
    }
    return r;
}

static void same_records(const rec_batch *a, const rec_batch *b, int count, int64_t xn) {
    for (int k = 0; k < count; k++) {
        ck_assert_int_eq(a[k].B, b[k].B);
        ck_assert_int_eq(a[k].epoch, b[k].epoch);
        ck_assert_int_eq(a[k].offset, b[k].offset);
        if (!a[k].B)
            continue;
        ck_assert(memcmp(a[k].x, b[k].x, (size_t)(a[k].B * xn) * sizeof(real)) == 0);
        ck_assert(memcmp(a[k].y, b[k].y, (size_t)a[k].B * sizeof(int32_t)) == 0);
        ck_assert(memcmp(a[k].index, b[k].index, (size_t)a[k].B * sizeof(int64_t)) == 0);
    }
}

static void free_records(rec_batch *r, int count) {
    for (int k = 0; k < count; k++) {
        free(r[k].x);
        free(r[k].y);
        free(r[k].index);
    }
    free(r);
}

static void make_batcher(ssm_batcher *bt, const ssm_image_dataset *ds, const int64_t *ids,
                         int64_t n, int64_t bs, int drop_last, int prefetch, int augment) {
    ssm_augment aug = {.pad = augment ? 2 : 0, .hflip = augment, .normalize = 1};
    aug.mean[0] = 0.5f;
    aug.std[0] = 0.25f;
    ssm_sample_source src;
    ssm_error e;
    ck_assert_int_eq(ssm_image_dataset_source(&src, ds, &aug, &e), SSM_OK);
    ssm_batcher_opts o = {.batch_size = bs, .shuffle = 1, .drop_last = drop_last, .seed = 99,
                          .prefetch = prefetch};
    ck_assert_int_eq(ssm_batcher_init(bt, &src, ids, n, &o, &e), SSM_OK);
}

START_TEST(shuffle_is_permutation_and_changes_per_epoch) {
    int64_t o0[500], o1[500], o0b[500];
    ssm_error e;
    ck_assert_int_eq(ssm_epoch_order(o0, 500, 1, 0, &e), SSM_OK);
    ck_assert_int_eq(ssm_epoch_order(o1, 500, 1, 1, &e), SSM_OK);
    ck_assert_int_eq(ssm_epoch_order(o0b, 500, 1, 0, &e), SSM_OK);
    ck_assert(memcmp(o0, o0b, sizeof o0) == 0);
    ck_assert(memcmp(o0, o1, sizeof o0) != 0);

    // the batcher over a split: each epoch visits every split id once
    ssm_image_dataset ds;
    synth_dataset(&ds, 60, 1, 3, 3, 4, 2);
    int64_t ids[23];
    for (int i = 0; i < 23; i++)
        ids[i] = 2 * i + 5;
    for (int drop = 0; drop < 2; drop++) {
        ssm_batcher bt;
        make_batcher(&bt, &ds, ids, 23, 5, drop, 0, 0);
        ck_assert_int_eq(ssm_batcher_batches_per_epoch(&bt), drop ? 4 : 5);
        int64_t first[2][23];
        for (int ep = 0; ep < 2; ep++) {
            int count[60] = {0}, nb = 0, m = 0;
            const ssm_batch *b;
            while (ssm_batcher_next(&bt, &b, &e) == SSM_OK && b) {
                ck_assert_int_eq(b->epoch, ep);
                ck_assert_int_eq(b->B, nb < 4 ? 5 : 3);
                for (int64_t k = 0; k < b->B; k++) {
                    count[b->index[k]]++;
                    first[ep][m++] = b->index[k];
                    ck_assert_int_eq(b->y[k], ds.labels[b->index[k]]);
                }
                nb++;
            }
            ck_assert_int_eq(nb, drop ? 4 : 5);
            ck_assert_int_eq(m, drop ? 20 : 23);
            for (int i = 0; i < 60; i++) { // split ids are 5, 7, ..., 49
                int in_split = i >= 5 && i <= 49 && i % 2 == 1;
                if (drop)
                    ck_assert_int_le(count[i], in_split);
                else
                    ck_assert_int_eq(count[i], in_split);
            }
            int64_t ep_pos, off;
            ssm_batcher_tell(&bt, &ep_pos, &off);
            ck_assert_int_eq(ep_pos, ep + 1);
            ck_assert_int_eq(off, 0);
        }
        ck_assert(memcmp(first[0], first[1], 20 * sizeof(int64_t)) != 0);
        ssm_batcher_free(&bt);
    }
    ssm_image_dataset_free(&ds);
}
END_TEST

START_TEST(prefetch_is_bitwise_identical_and_resume_is_exact) {
    ssm_image_dataset ds;
    synth_dataset(&ds, 103, 1, 6, 6, 10, 4);
    const int64_t xn = 36;
    const int count = 3 * 14; // 3 epochs of 13 batches + an end mark each
    ssm_batcher sync, pre;
    make_batcher(&sync, &ds, NULL, 0, 8, 0, 0, 1);
    make_batcher(&pre, &ds, NULL, 0, 8, 0, 1, 1);
    rec_batch *a = record(&sync, count, xn), *b = record(&pre, count, xn);
    same_records(a, b, count, xn);
    for (int k = 0; k < count; k++)
        ck_assert_int_eq(a[k].B, k % 14 == 13 ? 0 : k % 14 == 12 ? 7 : 8);
    // augmentation is on: the same sample differs between epochs
    ck_assert(memcmp(a[0].x, a[14].x, 8 * xn * sizeof(real)) != 0);

    // resume: stop after 5 batches of epoch 1, save the position, restart
    for (int pf = 0; pf < 2; pf++) {
        ssm_batcher r1, r2;
        make_batcher(&r1, &ds, NULL, 0, 8, 0, pf, 1);
        rec_batch *head = record(&r1, 14 + 5, xn);
        int64_t ep, off;
        ssm_batcher_tell(&r1, &ep, &off);
        ck_assert_int_eq(ep, 1);
        ck_assert_int_eq(off, 40);
        ssm_batcher_free(&r1);
        make_batcher(&r2, &ds, NULL, 0, 8, 0, pf, 1);
        ssm_error e;
        ck_assert_int_eq(ssm_batcher_seek(&r2, ep, off, &e), SSM_OK);
        rec_batch *tail = record(&r2, count - 19, xn);
        same_records(tail, a + 19, count - 19, xn);
        // seeking back mid-run (discarding prefetched batches) replays exactly
        ck_assert_int_eq(ssm_batcher_seek(&r2, 0, 0, &e), SSM_OK);
        rec_batch *again = record(&r2, 14, xn);
        same_records(again, a, 14, xn);
        ck_assert_int_eq(ssm_batcher_seek(&r2, 0, 104, &e), SSM_EINVAL);
        free_records(again, 14);
        free_records(head, 19);
        free_records(tail, count - 19);
        ssm_batcher_free(&r2);
    }
    free_records(a, count);
    free_records(b, count);
    ssm_batcher_free(&sync);
    ssm_batcher_free(&pre);
    ssm_image_dataset_free(&ds);
}
END_TEST

START_TEST(normalized_data_has_zero_mean_unit_std) {
    ssm_image_dataset ds;
    synth_dataset(&ds, 64, 1, 7, 7, 10, 8);
    for (int64_t i = 0; i < 64 * 49; i++) // skew the pixel distribution
        ds.pixels[i] = (uint8_t)(ds.pixels[i] * ds.pixels[i] / 255);
    double mean, sd;
    ssm_error e;
    ck_assert_int_eq(ssm_image_dataset_stats(&ds, NULL, 0, &mean, &sd, &e), SSM_OK);
    ssm_augment aug = {.normalize = 1, .mean = {(real)mean}, .std = {(real)sd}};
    ssm_sample_source src;
    ck_assert_int_eq(ssm_image_dataset_source(&src, &ds, &aug, &e), SSM_OK);
    ssm_batcher bt;
    ssm_batcher_opts o = {.batch_size = 10, .shuffle = 1, .seed = 1};
    ck_assert_int_eq(ssm_batcher_init(&bt, &src, NULL, 0, &o, &e), SSM_OK);
    double s = 0, s2 = 0;
    int64_t cnt = 0;
    const ssm_batch *b;
    while (ssm_batcher_next(&bt, &b, &e) == SSM_OK && b)
        for (int64_t i = 0; i < b->B * 49; i++, cnt++) {
            s += b->x[i];
            s2 += (double)b->x[i] * b->x[i];
        }
    ck_assert_int_eq(cnt, 64 * 49);
    ck_assert_double_eq_tol(s / cnt, 0, 1e-5);
    ck_assert_double_eq_tol(sqrt(s2 / cnt - (s / cnt) * (s / cnt)), 1, 1e-4);
    ssm_batcher_free(&bt);
    ssm_image_dataset_free(&ds);
}
END_TEST

// A source that fails at one id, to see errors cross the prefetch thread.
static int g_freed;
static ssm_code failing_get(void *ctx, int64_t id, uint64_t key, real *x, int32_t *y,
                            real *y_dense, int64_t *length, ssm_error *err) {
    if (id == *(int64_t *)ctx)
        return ssm_fail(err, SSM_EDATA, "sample %lld: NaN in the data", (long long)id);
    x[0] = (real)id;
    x[1] = (real)(key % 1000);
    return SSM_OK;
}
static void failing_free(void *ctx) { g_freed++; }

START_TEST(producer_errors_propagate_through_prefetch) {
    static int64_t bad_id = 17;
    for (int pf = 0; pf < 2; pf++) {
        ssm_sample_source src = {.ctx = &bad_id, .n = 40, .x_ndim = 1, .x_shape = {2},
                                 .get = failing_get, .free = failing_free};
        ssm_batcher_opts o = {.batch_size = 4, .shuffle = 0, .seed = 3, .prefetch = pf};
        ssm_batcher bt;
        ssm_error e = {0};
        g_freed = 0;
        ck_assert_int_eq(ssm_batcher_init(&bt, &src, NULL, 0, &o, &e), SSM_OK);
        const ssm_batch *b;
        for (int k = 0; k < 4; k++) {
            ck_assert_int_eq(ssm_batcher_next(&bt, &b, &e), SSM_OK);
            ck_assert_ptr_nonnull(b);
            ck_assert(b->x[0] == (real)(4 * k));
            ck_assert_ptr_null(b->y);
        }
        for (int rep = 0; rep < 2; rep++) { // the error is sticky
            ck_assert_int_eq(ssm_batcher_next(&bt, &b, &e), SSM_EDATA);
            ck_assert_ptr_null(b);
            ck_assert_msg(strstr(e.msg, "epoch 0, batch at offset 16: sample 17: NaN in the data"),
                          "%s", e.msg);
        }
        int64_t ep, off;
        ssm_batcher_tell(&bt, &ep, &off);
        ck_assert_int_eq(off, 16);
        // after a seek past it, batches flow again
        ck_assert_int_eq(ssm_batcher_seek(&bt, 0, 20, &e), SSM_OK);
        ck_assert_int_eq(ssm_batcher_next(&bt, &b, &e), SSM_OK);
        ck_assert(b->x[0] == 20);
        ssm_batcher_free(&bt);
        ck_assert_int_eq(g_freed, 1);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("datasets_batch");
    TCase *tc = tcase_create("datasets_batch");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, split_sizes_determinism_stratification);
    tcase_add_test(tc, stats_match_naive_two_pass);
    tcase_add_test(tc, augment_properties);
    tcase_add_test(tc, random_erasing_properties);
    tcase_add_test(tc, resize_nearest_and_bilinear);
    tcase_add_test(tc, shuffle_is_permutation_and_changes_per_epoch);
    tcase_add_test(tc, prefetch_is_bitwise_identical_and_resume_is_exact);
    tcase_add_test(tc, normalized_data_has_zero_mean_unit_std);
    tcase_add_test(tc, producer_errors_propagate_through_prefetch);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
