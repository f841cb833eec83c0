// defines: series_stamps_infer, series_stamps_format (see series_stamps.h)
#include "datasets/series_stamps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/series_text.h"

typedef struct {
    int y, mo, d, h, mi, sec;
    char dsep, tsep;        // tsep 0: a date only
    int has_sec, zulu;
    int wm, wd, wh;         // digits written for month, day, hour
} stamp;

// 1..max_w digits at *p into *v (and their count into *w); 0 when there are none or more.
static int digits(const char **p, const char *end, int min_w, int max_w, int *v, int *w) {
    int n = 0, x = 0;
    while (*p + n < end && (*p)[n] >= '0' && (*p)[n] <= '9' && n <= max_w)
        x = x * 10 + ((*p)[n++] - '0');
    if (n < min_w || n > max_w)
        return 0;
    *p += n;
    *v = x;
    if (w)
        *w = n;
    return 1;
}

static int leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int month_days(int64_t y, int m) {
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : days[m - 1];
}

// Days since 1970-01-01 of the proleptic Gregorian date (H. Hinnant's days_from_civil).
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

// The whole of s as a timestamp of the layout in series_stamps.h.
static int stamp_parse(const char *s, stamp *t) {
    const char *p = s, *end = s + strlen(s);
    memset(t, 0, sizeof *t);
    int wy;
    if (!digits(&p, end, 4, 4, &t->y, &wy) || t->y < 1 || p == end)
        return 0;
    t->dsep = *p++;
    if (t->dsep != '-' && t->dsep != '/' && t->dsep != '.')
        return 0;
    if (!digits(&p, end, 1, 2, &t->mo, &t->wm) || p == end || *p++ != t->dsep ||
        !digits(&p, end, 1, 2, &t->d, &t->wd))
        return 0;
    if (t->mo < 1 || t->mo > 12 || t->d < 1 || t->d > month_days(t->y, t->mo))
        return 0;
    if (p < end && (*p == ' ' || *p == 'T')) {
        t->tsep = *p++;
        if (!digits(&p, end, 1, 2, &t->h, &t->wh) || p == end || *p++ != ':' ||
            !digits(&p, end, 2, 2, &t->mi, NULL))
            return 0;
        if (p < end && *p == ':') {
            p++;
            if (!digits(&p, end, 2, 2, &t->sec, NULL))
                return 0;
            t->has_sec = 1;
        }
        if (t->h > 23 || t->mi > 59 || t->sec > 59)
            return 0;
    }
    if (p < end && *p == 'Z') {
        t->zulu = 1;
        p++;
    }
    return p == end;
}

static int same_layout(const stamp *a, const stamp *b) {
    return a->dsep == b->dsep && a->tsep == b->tsep && a->has_sec == b->has_sec &&
           a->zulu == b->zulu;
}

static int64_t seconds_of(const stamp *t) {
    return days_from_civil(t->y, t->mo, t->d) * 86400 + t->h * 3600 + t->mi * 60 + t->sec;
}

static int64_t month_index(const stamp *t) { return (int64_t)t->y * 12 + (t->mo - 1); }

static int same_clock(const stamp *a, const stamp *b) {
    return a->h == b->h && a->mi == b->mi && a->sec == b->sec;
}

// A calendar step: every cell on one day of the month (or each its month's last day) at one
// time of day, the months a constant k > 0 apart. Returns k, or 0.
static int64_t calendar_step(const stamp *t, int64_t n, int *month_end) {
    int same_day = 1, ends = 1;
    for (int64_t i = 0; i < n; i++) {
        same_day &= t[i].d == t[0].d;
        ends &= t[i].d == month_days(t[i].y, t[i].mo);
        if (!same_clock(&t[i], &t[0]))
            return 0;
    }
    if (!same_day && !ends)
        return 0;
    const int64_t k = month_index(&t[n - 1]) - month_index(&t[n - 2]);
    for (int64_t i = 1; i < n; i++)
        if (month_index(&t[i]) - month_index(&t[i - 1]) != k)
            return 0;
    *month_end = !same_day;
    return k > 0 ? k : 0;
}

static int parse_index(const char *s, int64_t *v) {
    const char *p = s + (*s == '-');
    size_t n = strlen(p);
    if (n < 1 || n > 18 || strspn(p, "0123456789") != n)
        return 0;
    *v = strtoll(s, NULL, 10);
    return 1;
}

static void infer_index(series_stamps *s, const char *const *cells, int64_t n) {
    int64_t prev = 0, v = 0, step = 0;
    for (int64_t i = 0; i < n; i++, prev = v) {
        if (!parse_index(cells[i], &v))
            return;
        if (i == 1)
            step = v - prev;
        else if (i > 1 && v - prev != step)
            return;
    }
    if (step <= 0)
        return;
    s->kind = SERIES_STAMP_INDEX;
    s->last = v;
    s->step = step;
}

ssm_code series_stamps_infer(series_stamps *s, const char *const *cells, int64_t n,
                             int64_t *bad, ssm_error *e) {
    memset(s, 0, sizeof *s);
    *bad = -1;
    stamp last;
    if (n < 2)
        return SSM_OK;
    if (!stamp_parse(cells[n - 1], &last)) {
        infer_index(s, cells, n);
        return SSM_OK;
    }
    stamp *t = malloc((size_t)n * sizeof *t);
    if (!t)
        return ssm_fail(e, SSM_ENOMEM, "out of memory for %lld timestamps", (long long)n);
    char snip[64];
    for (int64_t i = 0; i < n; i++)
        if (!stamp_parse(cells[i], &t[i]) || !same_layout(&t[i], &last)) {
            char lastv[64];
            series_snippet(snip, sizeof snip, cells[i], strlen(cells[i]));
            series_snippet(lastv, sizeof lastv, cells[n - 1], strlen(cells[n - 1]));
            free(t);
            *bad = i;
            return ssm_fail(e, SSM_EDATA, "'%s' is not a timestamp of the last row's layout "
                            "('%s'); expected one layout for the whole window", snip, lastv);
        }
    s->kind = SERIES_STAMP_TIME;
    s->date_sep = last.dsep;
    s->time_sep = last.tsep;
    s->seconds = last.has_sec;
    s->zulu = last.zulu;
    s->pad_month = s->pad_day = s->pad_hour = 1;
    for (int64_t i = 0; i < n; i++) {
        s->pad_month &= t[i].wm == 2;
        s->pad_day &= t[i].wd == 2;
        s->pad_hour &= !t[i].tsep || t[i].wh == 2;
    }
    s->last = seconds_of(&last);
    s->last_day = last.d;
    s->months = calendar_step(t, n, &s->month_end);
    ssm_code rc = SSM_OK;
    if (!s->months) {
        s->step = s->last - seconds_of(&t[n - 2]);
        for (int64_t i = n - 1; i >= 1 && rc == SSM_OK; i--) {
            const int64_t d = seconds_of(&t[i]) - seconds_of(&t[i - 1]);
            if (d != s->step || d <= 0) {
                char prev[64];
                series_snippet(snip, sizeof snip, cells[i], strlen(cells[i]));
                series_snippet(prev, sizeof prev, cells[i - 1], strlen(cells[i - 1]));
                *bad = i;
                rc = d <= 0 ? ssm_fail(e, SSM_EDATA, "'%s' is not later than '%s' before it; "
                                       "expected rising timestamps", snip, prev)
                            : ssm_fail(e, SSM_EDATA, "'%s' follows '%s' by %lld s, the last "
                                       "rows by %lld s; expected evenly spaced rows (a missing "
                                       "or repeated row?)", snip, prev, (long long)d,
                                       (long long)s->step);
            }
        }
    }
    free(t);
    if (rc != SSM_OK)
        s->kind = SERIES_STAMP_NONE;
    return rc;
}

static int pad_int(char *out, size_t cap, int v, int pad) {
    return snprintf(out, cap, pad ? "%02d" : "%d", v);
}

int series_stamps_format(const series_stamps *s, int64_t k, char *out, size_t cap) {
    if (cap < SERIES_STAMP_MAX || k < 1)
        return -1;
    if (s->kind == SERIES_STAMP_INDEX) {
        if (k > (INT64_MAX - (s->last > 0 ? s->last : 0)) / s->step)
            return -1;
        snprintf(out, cap, "%lld", (long long)(s->last + k * s->step));
        return 0;
    }
    if (s->kind != SERIES_STAMP_TIME)
        return -1;
    const int64_t max_sec = days_from_civil(10000, 1, 1) * 86400; // the end of year 9999
    int64_t y;
    int m, d, h, mi, sec;
    int64_t days = s->last >= 0 ? s->last / 86400 : -((-s->last + 86399) / 86400);
    int64_t clock = s->last - days * 86400;
    if (s->months) {
        int64_t y0;
        int m0, d0;
        civil_from_days(days, &y0, &m0, &d0);
        if (k > 12 * 10000 / s->months)
            return -1;
        const int64_t mon = y0 * 12 + (m0 - 1) + k * s->months;
        y = mon / 12;
        m = (int)(mon % 12) + 1;
        if (y > 9999)
            return -1;
        const int dim = month_days(y, m);
        d = s->month_end || s->last_day > dim ? dim : s->last_day;
    } else {
        if (k > (max_sec - s->last) / s->step || s->last + k * s->step >= max_sec)
            return -1;
        const int64_t v = s->last + k * s->step;
        days = v / 86400; // v > 0 past 1970; before it, floor
        if (v < 0 && v % 86400)
            days = -((-v + 86399) / 86400);
        clock = v - days * 86400;
        civil_from_days(days, &y, &m, &d);
    }
    h = (int)(clock / 3600);
    mi = (int)(clock / 60 % 60);
    sec = (int)(clock % 60);
    size_t n = (size_t)snprintf(out, cap, "%04lld%c", (long long)y, s->date_sep);
    n += (size_t)pad_int(out + n, cap - n, m, s->pad_month);
    n += (size_t)snprintf(out + n, cap - n, "%c", s->date_sep);
    n += (size_t)pad_int(out + n, cap - n, d, s->pad_day);
    if (s->time_sep) {
        n += (size_t)snprintf(out + n, cap - n, "%c", s->time_sep);
        n += (size_t)pad_int(out + n, cap - n, h, s->pad_hour);
        n += (size_t)snprintf(out + n, cap - n, ":%02d", mi);
        if (s->seconds)
            n += (size_t)snprintf(out + n, cap - n, ":%02d", sec);
    }
    if (s->zulu)
        snprintf(out + n, cap - n, "Z");
    return 0;
}
