// embed_cxx.cpp: include/rayl.h compiled as C++11 and linked against librayl: a chunk job
// with a capture-less lambda as its callback, and the msgpack helpers.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "rayl.h"

static int failures = 0;
#define CHECK(c)                                                                      \
  do {                                                                                \
    if (!(c)) {                                                                       \
      std::fprintf(stderr, "%s:%d: check failed: %s (%s)\n", __FILE__, __LINE__, #c, \
                   rayl_last_error());                                                \
      failures++;                                                                     \
    }                                                                                 \
  } while (0)

int main() {
  CHECK(std::string(rayl_version()) == RAYL_VERSION);
  rayl_buf b;
  rayl_buf_init(&b);
  CHECK(rayl_pack_array(&b, 2) == RAYL_OK);
  rayl_pack_str(&b, "rayl");
  rayl_pack_int(&b, -7);
  rayl_reader r;
  rayl_reader_init(&r, b.data, b.len);
  uint32_t n = 0;
  const char *s = nullptr;
  size_t sn = 0;
  int64_t v = 0;
  CHECK(rayl_read_array(&r, &n) == RAYL_OK && n == 2);
  CHECK(rayl_read_str(&r, &s, &sn) == RAYL_OK && std::string(s, sn) == "rayl");
  CHECK(rayl_read_int(&r, &v) == RAYL_OK && v == -7);

  char tmp[] = "/tmp/rayl-embed-cxx-XXXXXX";
  if (!mkdtemp(tmp)) return 2;
  setenv("RAYL_TMPDIR", tmp, 1);
  rayl_config config;
  rayl_config_init(&config);
  config.num_cpus = 1;
  rayl_ctx *ctx = nullptr;
  if (rayl_open(&config, &ctx) != RAYL_OK) {
    std::fprintf(stderr, "rayl_open: %s\n", rayl_last_error());
    return 1;
  }
  int64_t got = 0;
  rayl_handle h = RAYL_NO_HANDLE;
  rayl_callback cb = [](rayl_ctx *, rayl_handle, const rayl_result *res, void *user) {
    rayl_reader rr;
    rayl_reader_init(&rr, res->data, res->len);
    if (res->code != RAYL_OK || rayl_read_int(&rr, static_cast<int64_t *>(user)) != RAYL_OK)
      *static_cast<int64_t *>(user) = -1;
  };
  CHECK(rayl_submit_chunk(ctx, "local s, k = ... return #s * k", b.data, b.len, cb, &got, &h) == RAYL_OK);
  CHECK(rayl_wait(ctx, h, 30000) == RAYL_OK);
  for (int i = 0; got == 0 && i < 1000000; i++) rayl_update(ctx, 1000);
  CHECK(got == -28);
  CHECK(rayl_close(ctx) == RAYL_OK);
  rayl_buf_free(&b);
  std::string cleanup = std::string("rm -rf ") + tmp;
  if (std::system(cleanup.c_str()) != 0) failures++;
  std::printf("%s\n", failures ? "FAILED" : "OK");
  return failures ? 1 : 0;
}
