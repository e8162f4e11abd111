/*
 * fuzz - what the fuzz targets share (tests/fuzz/fuzz_*.c; docs/hardening.md).
 *
 * Each target is a LLVMFuzzerTestOneInput over one parser or engine of tempfail's that takes
 * outside input. Built with -DTEMPFAIL_FUZZ=ON and clang, a target links libFuzzer with ASan and
 * UBSan (scripts/fuzz.sh runs one); in every build the same target links fuzz_replay.c instead, a
 * main() that runs it over files and directories, which is how ctest replays the corpus
 * (tests/fuzz/corpus/TARGET and the seeds named in tests/CMakeLists.txt) as a regression test.
 *
 * A target checks what must hold whatever the input (a reply is printable and within 512 bytes,
 * the scanner's output does not depend on how its input was cut) with fuzz_check: a violation
 * aborts, which libFuzzer reports as a crash with the input that caused it.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define fuzz_check(cond, ...)                                                                                        \
    do {                                                                                                             \
        if (!(cond)) {                                                                                               \
            fprintf(stderr, "fuzz_check failed: %s (%s:%d): ", #cond, __FILE__, __LINE__);                          \
            fprintf(stderr, __VA_ARGS__);                                                                            \
            fputc('\n', stderr);                                                                                     \
            abort();                                                                                                 \
        }                                                                                                            \
    } while (0)

#endif
