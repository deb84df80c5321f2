// The C++ unit tests' one assertion: CHECK_EQ counts every check, reports each failure with
// its file, line and both values, and goes on; Report() prints the tally that
// test/native/core.test.ts matches and gives main's exit status.
#pragma once
#include <cstdio>

namespace vnvme_test {
inline int failures = 0;
inline int checks = 0;
inline int Report(const char* name) {
  std::printf("%s: %d checks, %d failed\n", name, checks, failures);
  return failures ? 1 : 0;
}
}  // namespace vnvme_test

#define CHECK_EQ(a, b)                                                                                 \
  do {                                                                                                 \
    vnvme_test::checks++;                                                                              \
    auto va = (a);                                                                                     \
    auto vb = (b);                                                                                     \
    if (va != vb) {                                                                                    \
      vnvme_test::failures++;                                                                          \
      std::fprintf(stderr, "%s:%d: %s == %s failed: 0x%llx != 0x%llx\n", __FILE__, __LINE__, #a, #b, \
                   (unsigned long long)va, (unsigned long long)vb);                                   \
    }                                                                                                  \
  } while (0)
