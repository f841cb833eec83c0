// defines: LLVMFuzzerTestOneInput (audio files through libsndfile and libsoxr)
// The first byte picks the name the file gets (.wav, .flac, .ogg: libsndfile looks at the
// bytes, not the name, but the name is what a data set has) and whether the clip is
// resampled to 16 kHz; the rest is the file.
#include <stdint.h>

#include "datasets/audio_read.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    if (size < 1)
        return 0;
    static const char *names[3] = {"clip.wav", "clip.flac", "clip.ogg"};
    const char *path = fuzz_write(names[data[0] % 3], data + 1, size - 1);
    ssm_audio a;
    ssm_error err = {0};
    if (ssm_audio_read(path, data[0] & 4 ? 16000 : 0, &a, &err) == SSM_OK)
        ssm_audio_free(&a);
    return 0;
}
