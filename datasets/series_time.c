// defines: series_date_parse, series_time_features (see series_time.h)
#include "datasets/series_time.h"

#include <stdio.h>
#include <string.h>

// Reads 1..max_digits decimal digits at *p (advancing it); -1 when there is none.
static int digits(const char **p, int max_digits) {
    int v = 0, n = 0;
    while (n < max_digits && **p >= '0' && **p <= '9') {
        v = v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    return n ? v : -1;
}

static int is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int month_days(int y, int m) {
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

ssm_code series_date_parse(series_date *d, const char *text, ssm_error *e) {
    const char *p = text;
    series_date r = {0};
    int ok = 1;
    r.year = digits(&p, 4);
    const char sep = *p;
    ok = p - text == 4 && r.year >= 1 && (sep == '-' || sep == '/'); // four-digit years only
    if (ok) {
        p++;
        r.month = digits(&p, 2);
        ok = r.month >= 1 && r.month <= 12 && *p == sep;
    }
    if (ok) {
        p++;
        r.day = digits(&p, 2);
        ok = r.day >= 1 && r.day <= month_days(r.year, r.month);
    }
    if (ok && (*p == ' ' || *p == 'T')) {
        p++;
        r.hour = digits(&p, 2);
        ok = r.hour >= 0 && r.hour <= 23 && *p == ':';
        if (ok) {
            p++;
            r.minute = digits(&p, 2);
            ok = r.minute >= 0 && r.minute <= 59;
        }
        if (ok && *p == ':') {
            p++;
            r.second = digits(&p, 2);
            ok = r.second >= 0 && r.second <= 60;
            if (ok && *p == '.') {
                p++;
                ok = digits(&p, 9) >= 0;
                while (ok && *p >= '0' && *p <= '9') // finer than nanoseconds: still a fraction
                    p++;
            }
        }
    }
    if (!ok || *p) {
        char shown[48];
        snprintf(shown, sizeof shown, "%.40s%s", text, strlen(text) > 40 ? "..." : "");
        return ssm_fail(e, SSM_EDATA,
                        "date '%s': expected YYYY-MM-DD, optionally followed by ' HH:MM' or "
                        "' HH:MM:SS' (a real date and time of day)",
                        shown);
    }
    *d = r;
    return SSM_OK;
}

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's
// days_from_civil).
static int64_t days_from_civil(int y, int m, int d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void series_time_features(double *out, const series_date *d) {
    // 1970-01-01 was a Thursday: weekday 3 with Monday = 0
    int64_t wd = (days_from_civil(d->year, d->month, d->day) + 3) % 7;
    if (wd < 0)
        wd += 7;
    int doy = d->day;
    for (int m = 1; m < d->month; m++)
        doy += month_days(d->year, m);
    out[0] = d->hour / 23.0 - 0.5;
    out[1] = (double)wd / 6.0 - 0.5;
    out[2] = (d->day - 1) / 30.0 - 0.5;
    out[3] = (doy - 1) / 365.0 - 0.5;
}
