// defines: ssm_audio_read, ssm_audio_resample, ssm_audio_free (see audio_read.h)
#include "datasets/audio_read.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sndfile.h>
#include <soxr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

// Frames read per sf_readf_float call: the header's frame count is not
// trusted (a cut-short FLAC says 16000 and decodes 4096), so the buffer grows.
#define READ_CHUNK 16384
// 2^31 mono samples (2.2 h at 16 kHz): more is not one training clip.
#define MAX_SAMPLES (INT64_C(1) << 31)
#define PREALLOC_MAX (INT64_C(1) << 22) // 4 Mi samples (16 MiB): over 4 min at 16 kHz

ssm_code ssm_audio_resample(const float *in, int64_t n, int from_rate, int to_rate,
                            float **out, int64_t *n_out, ssm_error *err) {
    *out = NULL;
    *n_out = 0;
    if (from_rate <= 0 || to_rate <= 0)
        return ssm_fail(err, SSM_EINVAL, "resample from %d Hz to %d Hz: expected rates > 0",
                        from_rate, to_rate);
    if (n < 0)
        return ssm_fail(err, SSM_EINVAL, "resample %" PRId64 " samples: expected >= 0", n);
    // round(n * to / from) in integers: soxr's one-shot output is that long
    int64_t m = (int64_t)(((__int128)n * to_rate + from_rate / 2) / from_rate);
    float *y = malloc((size_t)(m > 0 ? m : 1) * sizeof *y);
    if (!y)
        return ssm_fail(err, SSM_ENOMEM, "resample: cannot allocate %" PRId64 " samples", m);
    if (from_rate == to_rate || n == 0) {
        if (n)
            memcpy(y, in, (size_t)n * sizeof *y);
        *out = y;
        *n_out = n;
        return SSM_OK;
    }
    // HQ (20-bit, passband to 91.3% of the lower Nyquist, linear phase) is
    // librosa's default (soxr_hq); one thread because the callers are the
    // prefetch workers, already one per core.
    soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
    soxr_runtime_spec_t rt = soxr_runtime_spec(1);
    size_t done = 0;
    soxr_error_t e = soxr_oneshot(from_rate, to_rate, 1, in, (size_t)n, NULL, y, (size_t)m, &done,
                                  &io, &q, &rt);
    if (e) {
        free(y);
        return ssm_fail(err, SSM_EINVAL, "resample from %d Hz to %d Hz: libsoxr: %s", from_rate,
                        to_rate, e);
    }
    // soxr hands back round(n * ratio) samples; zero any it left short so the
    // length is a function of n and the rates alone.
    for (int64_t i = (int64_t)done; i < m; i++)
        y[i] = 0.0f;
    *out = y;
    *n_out = m;
    return SSM_OK;
}

// libsndfile's open log says "data : 64000 (should be 31978)" when a WAV's
// data chunk claims more than the file holds; it then reads what is there
// without complaint. 0 and 0xFFFFFFFF are what streaming writers leave when
// they cannot seek back, so those are not called truncation.
static int wav_cut_short(SNDFILE *sf, int64_t *claimed, int64_t *held) {
    char log[4096];
    sf_command(sf, SFC_GET_LOG_INFO, log, sizeof log);
    const char *p = strstr(log, "\ndata : ");
    if (!p)
        return 0;
    long long c = 0, h = 0;
    if (sscanf(p, "\ndata : %lld (should be %lld)", &c, &h) != 2)
        return 0;
    if (c == 0 || c == 0xFFFFFFFFLL || c <= h)
        return 0;
    *claimed = c;
    *held = h;
    return 1;
}

ssm_code ssm_audio_read(const char *path, int target_rate, ssm_audio *out, ssm_error *err) {
    memset(out, 0, sizeof *out);
    if (target_rate < 0)
        return ssm_fail(err, SSM_EINVAL, "%s: target sample rate %d: expected > 0 (or 0: keep)",
                        path, target_rate);
    // stat first: libsndfile says "Format not recognised" for an empty file
    // and for a directory, which hides what is wrong.
    struct stat st;
    if (stat(path, &st) != 0)
        return ssm_fail(err, errno == ENOENT ? SSM_ENOTFOUND : SSM_EIO, "%s: cannot open: %s",
                        path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return ssm_fail(err, SSM_EIO, "%s: not a regular file; expected an audio file", path);
    if (st.st_size == 0)
        return ssm_fail(err, SSM_EFORMAT, "%s: empty file (0 bytes); expected WAV, FLAC or Ogg/Vorbis audio",
                        path);

    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *sf = sf_open(path, SFM_READ, &info);
    // (A malformed Ogg/Vorbis file costs 5.7 KB here that libvorbis never
    // frees: xiph/vorbis issue 125; nothing this side can release it.)
    if (!sf) {
        return ssm_fail(err, sf_error(NULL) == SF_ERR_SYSTEM ? SSM_EIO : SSM_EFORMAT,
                        "%s: not readable as audio (libsndfile: %s); expected WAV, FLAC or Ogg/Vorbis",
                        path, sf_strerror(NULL));
    }
    if (info.channels <= 0 || info.samplerate <= 0) {
        sf_close(sf);
        return ssm_fail(err, SSM_EFORMAT, "%s: header says %d channels at %d Hz; expected >= 1 at > 0 Hz",
                        path, info.channels, info.samplerate);
    }
    int64_t claimed, held;
    if ((info.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_WAV && wav_cut_short(sf, &claimed, &held)) {
        sf_close(sf);
        return ssm_fail(err, SSM_EFORMAT, "%s: cut short: the WAV data chunk claims %" PRId64
                        " bytes, the file holds %" PRId64 "; expected a complete file", path,
                        claimed, held);
    }

    const int C = info.channels;
    float *chunk = malloc((size_t)READ_CHUNK * (size_t)C * sizeof *chunk);
    // The header's frame count sizes the first buffer only up to PREALLOC_MAX: a corrupt
    // header may claim 2^31 frames in a 100-byte file; past that, memory grows with what
    // is decoded.
    int64_t cap = info.frames > 0 && info.frames < PREALLOC_MAX ? info.frames : PREALLOC_MAX;
    float *mono = malloc((size_t)cap * sizeof *mono);
    if (!chunk || !mono) {
        free(chunk);
        free(mono);
        sf_close(sf);
        return ssm_fail(err, SSM_ENOMEM, "%s: cannot allocate %" PRId64 " samples", path, cap);
    }
    int64_t n = 0;
    ssm_code rc = SSM_OK;
    for (;;) {
        sf_count_t got = sf_readf_float(sf, chunk, READ_CHUNK);
        if (got <= 0)
            break;
        if (n + got > MAX_SAMPLES) {
            rc = ssm_fail(err, SSM_EFORMAT, "%s: more than %" PRId64 " frames; expected a clip"
                          " (split long recordings)", path, MAX_SAMPLES);
            break;
        }
        if (n + got > cap) {
            int64_t nc = cap * 2 > n + got ? cap * 2 : n + got;
            float *p = realloc(mono, (size_t)nc * sizeof *mono);
            if (!p) {
                rc = ssm_fail(err, SSM_ENOMEM, "%s: cannot allocate %" PRId64 " samples", path, nc);
                break;
            }
            mono = p;
            cap = nc;
        }
        // torchaudio.load(...).mean(0): the plain average of the channels
        for (sf_count_t i = 0; i < got; i++) {
            float s = 0.0f;
            for (int c = 0; c < C; c++)
                s += chunk[i * C + c];
            float v = C == 1 ? s : s / (float)C;
            if (!isfinite(v)) {
                rc = ssm_fail(err, SSM_EDATA, "%s: frame %" PRId64 " is %s; expected finite samples",
                              path, n + i, isnan(v) ? "NaN" : "infinite");
                break;
            }
            mono[n + i] = v;
        }
        if (rc)
            break;
        n += got;
    }
    if (rc == SSM_OK && sf_error(sf) != SF_ERR_NO_ERROR)
        rc = ssm_fail(err, SSM_EFORMAT, "%s: corrupt audio after %" PRId64 " frames (libsndfile: %s)",
                      path, n, sf_strerror(sf));
    // A FLAC or Ogg stream that stops early decodes without an error flag:
    // compare with the frame count its header promised.
    if (rc == SSM_OK && info.frames > 0 && info.frames != SF_COUNT_MAX && n < info.frames)
        rc = ssm_fail(err, SSM_EFORMAT, "%s: cut short: the header promises %" PRId64
                      " frames, only %" PRId64 " could be decoded", path, (int64_t)info.frames, n);
    if (rc == SSM_OK && n == 0)
        rc = ssm_fail(err, SSM_EFORMAT, "%s: no audio samples (0 frames); expected at least one",
                      path);
    free(chunk);
    sf_close(sf);
    if (rc != SSM_OK) {
        free(mono);
        return rc;
    }

    out->file_rate = info.samplerate;
    out->file_channels = C;
    out->file_frames = n;
    if (target_rate > 0 && target_rate != info.samplerate) {
        float *y;
        int64_t m;
        rc = ssm_audio_resample(mono, n, info.samplerate, target_rate, &y, &m, err);
        free(mono);
        if (rc != SSM_OK) {
            ssm_error_prefix(err, "%s: ", path);
            return rc;
        }
        out->samples = y;
        out->n = m;
        out->sample_rate = target_rate;
    } else {
        out->samples = mono;
        out->n = n;
        out->sample_rate = info.samplerate;
    }
    return SSM_OK;
}

void ssm_audio_free(ssm_audio *a) {
    if (!a)
        return;
    free(a->samples);
    memset(a, 0, sizeof *a);
}
