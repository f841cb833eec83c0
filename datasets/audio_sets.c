// defines: the audio set layouts (see audio_sets.h)
#include "datasets/audio_sets.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/rng.h"

const char *const SSM_SC12_WORDS[10] = {"yes", "no",  "up",   "down", "left",
                                        "right", "on", "off", "stop", "go"};

// ---- small helpers -------------------------------------------------------------

typedef struct {
    char **v;
    int64_t n, cap;
} strlist;

static int sl_push(strlist *l, const char *s) {
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 64;
        char **v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v)
            return 0;
        l->v = v;
        l->cap = cap;
    }
    return (l->v[l->n] = strdup(s)) ? (l->n++, 1) : 0;
}

static void sl_free(strlist *l) {
    for (int64_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_audio_name(const char *name) {
    const char *dot = strrchr(name, '.');
    return name[0] != '.' && dot &&
           (!strcasecmp(dot, ".wav") || !strcasecmp(dot, ".flac") || !strcasecmp(dot, ".ogg"));
}

// The entries of dir (sorted), folders (want_dirs) or audio files, skipping hidden names.
static ssm_code list_dir(const char *dir, int want_dirs, strlist *out, ssm_error *err) {
    DIR *d = opendir(dir);
    if (!d)
        return ssm_fail(err, SSM_EIO, "%s: cannot open the folder: %s", dir, strerror(errno));
    struct dirent *e;
    char path[1024];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        int keep = want_dirs ? is_dir(path) : is_audio_name(e->d_name) && !is_dir(path);
        if (keep && !sl_push(out, e->d_name)) {
            closedir(d);
            return ssm_fail(err, SSM_ENOMEM, "%s: out of memory listing the folder", dir);
        }
    }
    closedir(d);
    qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_str);
    return SSM_OK;
}

static ssm_code add_clip(ssm_audio_set *s, int64_t *cap, const char *path, int32_t label,
                         int split, int fold, ssm_error *err) {
    if (s->n == *cap) {
        int64_t c = *cap ? 2 * *cap : 1024;
        ssm_audio_clip *v = realloc(s->clips, (size_t)c * sizeof *v);
        if (!v)
            return ssm_fail(err, SSM_ENOMEM, "out of memory for the clip list");
        s->clips = v;
        *cap = c;
    }
    ssm_audio_clip *c = &s->clips[s->n];
    c->path = path ? strdup(path) : NULL;
    if (path && !c->path)
        return ssm_fail(err, SSM_ENOMEM, "out of memory for the clip list");
    c->label = label;
    c->split = (int8_t)split;
    c->fold = (int8_t)fold;
    s->n++;
    return SSM_OK;
}

static ssm_code set_classes(ssm_audio_set *s, char *const *names, int64_t n, ssm_error *err) {
    s->class_names = calloc((size_t)(n ? n : 1), sizeof *s->class_names);
    if (!s->class_names)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++)
        if (!(s->class_names[i] = strdup(names[i])))
            return ssm_fail(err, SSM_ENOMEM, "out of memory");
    s->num_classes = (int32_t)n;
    return SSM_OK;
}

static ssm_code load_noise(ssm_audio_set *s, const char *dir, ssm_error *err) {
    char nd[1024];
    snprintf(nd, sizeof nd, "%s/%s", dir, SSM_AUDIO_NOISE_DIR);
    if (!is_dir(nd))
        return SSM_OK;
    strlist f = {0};
    ssm_code rc = list_dir(nd, 0, &f, err);
    if (!rc && !(s->noise_paths = calloc((size_t)(f.n ? f.n : 1), sizeof *s->noise_paths)))
        rc = ssm_fail(err, SSM_ENOMEM, "out of memory");
    for (int64_t i = 0; !rc && i < f.n; i++) {
        char p[1536];
        snprintf(p, sizeof p, "%s/%s", nd, f.v[i]);
        if (!(s->noise_paths[i] = strdup(p)))
            rc = ssm_fail(err, SSM_ENOMEM, "out of memory");
        else
            s->n_noise = i + 1;
    }
    sl_free(&f);
    return rc;
}

// Reads a list file of "word/file.wav" lines (sorted, for bsearch). A missing file is an
// error naming it.
static ssm_code read_list(const char *path, strlist *out, ssm_error *err) {
    FILE *f = fopen(path, "r");
    if (!f)
        return ssm_fail(err, SSM_EIO, "%s: cannot open the split list: %s (Speech Commands v2 "
                        "ships validation_list.txt and testing_list.txt)", path, strerror(errno));
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        size_t len = strcspn(line, "\r\n");
        line[len] = 0;
        if (!len)
            continue;
        if (!sl_push(out, line)) {
            fclose(f);
            return ssm_fail(err, SSM_ENOMEM, "%s: out of memory", path);
        }
    }
    fclose(f);
    qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_str);
    return SSM_OK;
}

static int in_list(const strlist *l, const char *rel) {
    return l->n && bsearch(&rel, l->v, (size_t)l->n, sizeof *l->v, cmp_str) != NULL;
}

// Every entry of a list must name a clip that exists (a typo or a partial copy of the set
// would otherwise silently move clips to training). clips: sorted "word/file" strings.
static ssm_code check_list(const strlist *l, const strlist *clips, const char *path,
                           ssm_error *err) {
    for (int64_t i = 0; i < l->n; i++)
        if (!in_list(clips, l->v[i]))
            return ssm_fail(err, SSM_EDATA, "%s: entry '%s' names no clip in the word folders",
                            path, l->v[i]);
    return SSM_OK;
}

// ---- Speech Commands -------------------------------------------------------------

static int sc12_class(const char *word) {
    for (int i = 0; i < 10; i++)
        if (!strcmp(word, SSM_SC12_WORDS[i]))
            return i;
    return -1;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    char *rel;   // "word/file.wav"
    int32_t word;
    int8_t split;
} sc_entry;

// keywords12, one split: the keyword clips, ceil(10%) of their count of unknown clips
// (a seeded choice among the split's other words) and as many silence clips.
static ssm_code sc12_split(ssm_audio_set *s, int64_t *cap, const sc_entry *e, int64_t n,
                           char *const *words, const char *dir, int split, uint64_t seed,
                           ssm_error *err) {
    int64_t n_kw = 0, n_unk = 0;
    int64_t *unk = malloc((size_t)(n ? n : 1) * sizeof *unk);
    if (!unk)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    char path[1536];
    ssm_code rc = SSM_OK;
    for (int64_t i = 0; !rc && i < n; i++) {
        if (e[i].split != split)
            continue;
        int k = sc12_class(words[e[i].word]);
        if (k < 0) {
            unk[n_unk++] = i;
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", dir, e[i].rel);
        rc = add_clip(s, cap, path, k, split, 0, err);
        n_kw++;
    }
    int64_t want = (int64_t)ceil((double)n_kw * 0.1), keep = want < n_unk ? want : n_unk;
    ssm_rng r;
    if (!rc)
        rc = ssm_rng_init(&r, ssm_seed_derive(seed, 0x73633132ull + (uint64_t)split), err);
    if (!rc) {
        ssm_rng_shuffle(&r, unk, (size_t)n_unk);
        ssm_rng_free(&r);
        qsort(unk, (size_t)keep, sizeof *unk, cmp_i64);
    }
    for (int64_t j = 0; !rc && j < keep; j++) {
        snprintf(path, sizeof path, "%s/%s", dir, e[unk[j]].rel);
        rc = add_clip(s, cap, path, 11, split, 0, err);
    }
    for (int64_t j = 0; !rc && j < want; j++)
        rc = add_clip(s, cap, NULL, 10, split, 0, err);
    free(unk);
    return rc;
}

ssm_code ssm_audio_set_speech_commands(ssm_audio_set *s, const char *dir, ssm_audio_labels labels,
                                       uint64_t seed, ssm_error *err) {
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    s->has_splits = 1;
    strlist words = {0}, vl = {0}, tl = {0}, rels = {0};
    sc_entry *e = NULL;
    int64_t n = 0, ecap = 0, cap = 0;
    char path[1536];
    ssm_code rc = list_dir(dir, 1, &words, err);
    // folders starting with '_' (_background_noise_) are not words
    int64_t w = 0;
    for (int64_t i = 0; !rc && i < words.n; i++) {
        if (words.v[i][0] == '_')
            free(words.v[i]);
        else
            words.v[w++] = words.v[i];
    }
    words.n = w;
    if (!rc && words.n == 0)
        rc = ssm_fail(err, SSM_EDATA, "%s: no word folders (expected <word>/<speaker>_nohash_<k>.wav)",
                      dir);
    for (int64_t i = 0; !rc && i < words.n; i++) {
        strlist files = {0};
        snprintf(path, sizeof path, "%s/%s", dir, words.v[i]);
        rc = list_dir(path, 0, &files, err);
        for (int64_t j = 0; !rc && j < files.n; j++) {
            if (n == ecap) {
                ecap = ecap ? 2 * ecap : 4096;
                sc_entry *v = realloc(e, (size_t)ecap * sizeof *v);
                if (!v) {
                    rc = ssm_fail(err, SSM_ENOMEM, "out of memory");
                    break;
                }
                e = v;
            }
            snprintf(path, sizeof path, "%s/%s", words.v[i], files.v[j]);
            e[n] = (sc_entry){.rel = strdup(path), .word = (int32_t)i};
            if (!e[n].rel || !sl_push(&rels, path))
                rc = ssm_fail(err, SSM_ENOMEM, "out of memory");
            n++;
        }
        sl_free(&files);
    }
    qsort(rels.v, (size_t)rels.n, sizeof *rels.v, cmp_str);
    char vpath[1024], tpath[1024];
    snprintf(vpath, sizeof vpath, "%s/validation_list.txt", dir);
    snprintf(tpath, sizeof tpath, "%s/testing_list.txt", dir);
    if (!rc)
        rc = read_list(vpath, &vl, err);
    if (!rc)
        rc = read_list(tpath, &tl, err);
    if (!rc)
        rc = check_list(&vl, &rels, vpath, err);
    if (!rc)
        rc = check_list(&tl, &rels, tpath, err);
    for (int64_t i = 0; !rc && i < n; i++)
        e[i].split = (int8_t)(in_list(&tl, e[i].rel) ? SSM_AUDIO_TEST
                              : in_list(&vl, e[i].rel) ? SSM_AUDIO_VAL : SSM_AUDIO_TRAIN);
    if (!rc)
        rc = load_noise(s, dir, err);
    if (!rc && labels == SSM_AUDIO_LABELS_ALL) {
        rc = set_classes(s, words.v, words.n, err);
        for (int64_t i = 0; !rc && i < n; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, e[i].rel);
            rc = add_clip(s, &cap, path, e[i].word, e[i].split, 0, err);
        }
    } else if (!rc) {
        for (int k = 0; !rc && k < 10; k++) {
            int found = 0;
            for (int64_t i = 0; i < words.n; i++)
                found |= !strcmp(words.v[i], SSM_SC12_WORDS[k]);
            if (!found)
                rc = ssm_fail(err, SSM_EDATA, "%s: data.label_set keywords12 needs the folder "
                              "'%s' (yes no up down left right on off stop go)", dir,
                              SSM_SC12_WORDS[k]);
        }
        if (!rc && s->n_noise == 0)
            rc = ssm_fail(err, SSM_EDATA, "%s: data.label_set keywords12 cuts its _silence_ clips "
                          "from %s/, which holds no audio", dir, SSM_AUDIO_NOISE_DIR);
        char *names[12];
        for (int k = 0; k < 10; k++)
            names[k] = (char *)SSM_SC12_WORDS[k];
        names[10] = "_silence_";
        names[11] = "_unknown_";
        if (!rc)
            rc = set_classes(s, names, 12, err);
        for (int sp = 0; !rc && sp < 3; sp++)
            rc = sc12_split(s, &cap, e, n, words.v, dir, sp, seed, err);
    }
    for (int64_t i = 0; i < n; i++)
        free(e[i].rel);
    free(e);
    sl_free(&words);
    sl_free(&vl);
    sl_free(&tl);
    sl_free(&rels);
    if (!rc && s->n == 0)
        rc = ssm_fail(err, SSM_EDATA, "%s: the word folders hold no audio files", dir);
    if (rc)
        ssm_audio_set_free(s);
    return rc;
}

// ---- ESC-50 --------------------------------------------------------------------

// Splits a CSV line (ESC-50 has no quoted fields) in place; returns the field count.
static int split_csv(char *line, char **f, int max) {
    int n = 0;
    for (char *p = line; n < max;) {
        f[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = 0;
        p = c + 1;
    }
    return n;
}

static int parse_int(const char *s, long *v) {
    char *end;
    errno = 0;
    *v = strtol(s, &end, 10);
    return !errno && end != s && *end == 0;
}

ssm_code ssm_audio_set_esc50(ssm_audio_set *s, const char *dir, int test_fold, ssm_error *err) {
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    s->has_splits = 1;
    char csv[1024], path[1536];
    snprintf(csv, sizeof csv, "%s/meta/esc50.csv", dir);
    if (test_fold < 1 || test_fold > 5)
        return ssm_fail(err, SSM_ECONFIG, "esc50: test fold %d, expected 1..5 (data.fold 0..4)",
                        test_fold);
    FILE *f = fopen(csv, "r");
    if (!f)
        return ssm_fail(err, SSM_EIO, "%s: cannot open: %s (ESC-50 keeps its folds in "
                        "meta/esc50.csv)", csv, strerror(errno));
    char line[4096], *fld[16];
    int col_file = -1, col_fold = -1, col_target = -1, col_cat = -1;
    char *names[256] = {0};
    int64_t cap = 0, lineno = 1;
    ssm_code rc = SSM_OK;
    if (!fgets(line, sizeof line, f)) {
        rc = ssm_fail(err, SSM_EDATA, "%s: empty file, expected the header "
                      "filename,fold,target,category,...", csv);
    } else {
        line[strcspn(line, "\r\n")] = 0;
        int nf = split_csv(line, fld, 16);
        for (int i = 0; i < nf; i++) {
            col_file = !strcmp(fld[i], "filename") ? i : col_file;
            col_fold = !strcmp(fld[i], "fold") ? i : col_fold;
            col_target = !strcmp(fld[i], "target") ? i : col_target;
            col_cat = !strcmp(fld[i], "category") ? i : col_cat;
        }
        if (col_file < 0 || col_fold < 0 || col_target < 0 || col_cat < 0)
            rc = ssm_fail(err, SSM_EDATA, "%s: line 1: the header lacks one of filename, fold, "
                          "target, category", csv);
    }
    int max_col = col_file > col_fold ? col_file : col_fold;
    max_col = col_target > max_col ? col_target : max_col;
    max_col = col_cat > max_col ? col_cat : max_col;
    int32_t n_classes = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0])
            continue;
        int nf = split_csv(line, fld, 16);
        long fold, target;
        if (nf <= max_col) {
            rc = ssm_fail(err, SSM_EDATA, "%s: line %lld: %d fields, expected at least %d", csv,
                          (long long)lineno, nf, max_col + 1);
            break;
        }
        if (!parse_int(fld[col_fold], &fold) || fold < 1 || fold > 5) {
            rc = ssm_fail(err, SSM_EDATA, "%s: line %lld: fold '%s', expected 1..5", csv,
                          (long long)lineno, fld[col_fold]);
            break;
        }
        if (!parse_int(fld[col_target], &target) || target < 0 || target > 255) {
            rc = ssm_fail(err, SSM_EDATA, "%s: line %lld: target '%s', expected 0..255", csv,
                          (long long)lineno, fld[col_target]);
            break;
        }
        if (!names[target] && !(names[target] = strdup(fld[col_cat]))) {
            rc = ssm_fail(err, SSM_ENOMEM, "out of memory");
            break;
        }
        if (strcmp(names[target], fld[col_cat])) {
            rc = ssm_fail(err, SSM_EDATA, "%s: line %lld: target %ld is '%s' here but '%s' above",
                          csv, (long long)lineno, target, fld[col_cat], names[target]);
            break;
        }
        n_classes = (int32_t)target + 1 > n_classes ? (int32_t)target + 1 : n_classes;
        snprintf(path, sizeof path, "%s/audio/%s", dir, fld[col_file]);
        rc = add_clip(s, &cap, path, (int32_t)target,
                      fold == test_fold ? SSM_AUDIO_TEST : SSM_AUDIO_TRAIN, (int)fold, err);
    }
    fclose(f);
    for (int32_t k = 0; !rc && k < n_classes; k++)
        if (!names[k])
            rc = ssm_fail(err, SSM_EDATA, "%s: no row has target %d (targets must be 0..%d)", csv,
                          k, n_classes - 1);
    if (!rc && s->n == 0)
        rc = ssm_fail(err, SSM_EDATA, "%s: no clips", csv);
    if (!rc)
        rc = set_classes(s, names, n_classes, err);
    for (int k = 0; k < 256; k++)
        free(names[k]);
    if (rc)
        ssm_audio_set_free(s);
    return rc;
}

// ---- a folder per class ---------------------------------------------------------------

// The clips of root/<class>/ for every class of `classes` (a class folder missing from a
// split is allowed; a folder that is not a known class is an error naming it).
static ssm_code folder_split(ssm_audio_set *s, int64_t *cap, const char *root, int split,
                             const strlist *classes, ssm_error *err) {
    strlist dirs = {0};
    char path[1536];
    ssm_code rc = list_dir(root, 1, &dirs, err);
    for (int64_t i = 0; !rc && i < dirs.n; i++) {
        if (dirs.v[i][0] == '_')
            continue; // _background_noise_
        int64_t k = -1;
        for (int64_t j = 0; j < classes->n && k < 0; j++)
            if (!strcmp(classes->v[j], dirs.v[i]))
                k = j;
        if (k < 0) {
            rc = ssm_fail(err, SSM_EDATA, "%s/%s: a class folder the training split does not "
                          "have", root, dirs.v[i]);
            break;
        }
        strlist files = {0};
        snprintf(path, sizeof path, "%s/%s", root, dirs.v[i]);
        rc = list_dir(path, 0, &files, err);
        if (!rc && files.n == 0 && split == SSM_AUDIO_TRAIN)
            rc = ssm_fail(err, SSM_EDATA, "%s: a class folder without audio files (.wav, .flac, "
                          ".ogg)", path);
        for (int64_t j = 0; !rc && j < files.n; j++) {
            char fp[2048];
            snprintf(fp, sizeof fp, "%s/%s", path, files.v[j]);
            rc = add_clip(s, cap, fp, (int32_t)k, split, 0, err);
        }
        sl_free(&files);
    }
    sl_free(&dirs);
    return rc;
}

ssm_code ssm_audio_set_folder(ssm_audio_set *s, const char *dir, ssm_error *err) {
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    char train[1024], val[1024], test[1024];
    snprintf(train, sizeof train, "%s/train", dir);
    snprintf(val, sizeof val, "%s/val", dir);
    snprintf(test, sizeof test, "%s/test", dir);
    s->has_splits = is_dir(train) && is_dir(test);
    const char *root = s->has_splits ? train : dir;
    strlist classes = {0};
    int64_t cap = 0;
    ssm_code rc = list_dir(root, 1, &classes, err);
    int64_t w = 0; // '_' folders are not classes
    for (int64_t i = 0; !rc && i < classes.n; i++) {
        if (classes.v[i][0] == '_')
            free(classes.v[i]);
        else
            classes.v[w++] = classes.v[i];
    }
    classes.n = w;
    if (!rc && classes.n < 2)
        rc = ssm_fail(err, SSM_EDATA, "%s: %lld class folders, expected at least 2 "
                      "(<class>/<clip>.wav)", root, (long long)classes.n);
    if (!rc)
        rc = set_classes(s, classes.v, classes.n, err);
    if (!rc)
        rc = folder_split(s, &cap, root, SSM_AUDIO_TRAIN, &classes, err);
    if (!rc && s->has_splits && is_dir(val))
        rc = folder_split(s, &cap, val, SSM_AUDIO_VAL, &classes, err);
    if (!rc && s->has_splits)
        rc = folder_split(s, &cap, test, SSM_AUDIO_TEST, &classes, err);
    if (!rc)
        rc = load_noise(s, root, err);
    sl_free(&classes);
    if (rc)
        ssm_audio_set_free(s);
    return rc;
}

void ssm_audio_set_free(ssm_audio_set *s) {
    for (int64_t i = 0; i < s->n; i++)
        free(s->clips[i].path);
    free(s->clips);
    for (int32_t k = 0; s->class_names && k < s->num_classes; k++)
        free(s->class_names[k]);
    free(s->class_names);
    for (int64_t i = 0; i < s->n_noise; i++)
        free(s->noise_paths[i]);
    free(s->noise_paths);
    free(s->label_off);
    free(s->label_idx);
    memset(s, 0, sizeof *s);
}

ssm_code ssm_audio_set_ids(const ssm_audio_set *s, ssm_audio_split split, int64_t **ids,
                           int64_t *n, ssm_error *err) {
    *n = 0;
    *ids = malloc((size_t)(s->n ? s->n : 1) * sizeof **ids);
    if (!*ids)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    for (int64_t i = 0; i < s->n; i++)
        if (s->clips[i].split == (int8_t)split)
            (*ids)[(*n)++] = i;
    return SSM_OK;
}

ssm_code ssm_audio_list_files(const char *dir, char ***paths, int64_t *n, ssm_error *err) {
    *paths = NULL;
    *n = 0;
    strlist f = {0};
    SSM_TRY(list_dir(dir, 0, &f, err));
    if (f.n == 0) {
        sl_free(&f);
        return ssm_fail(err, SSM_EDATA, "%s: no audio files (.wav, .flac, .ogg)", dir);
    }
    for (int64_t i = 0; i < f.n; i++) {
        char p[1536];
        snprintf(p, sizeof p, "%s/%s", dir, f.v[i]);
        free(f.v[i]);
        if (!(f.v[i] = strdup(p))) {
            f.n = i;
            sl_free(&f);
            return ssm_fail(err, SSM_ENOMEM, "out of memory");
        }
    }
    *paths = f.v;
    *n = f.n;
    return SSM_OK;
}

void ssm_audio_paths_free(char **paths, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}
