/* package_test.c: package.c's selftest, built into rl_selftest only (not librayl). */
#include "renv/package.c" /* the code under test, with its file-local helpers */

/* ---- selftest: a tree packed, hashed, unpacked; bad input refused ---- */

#define S_CHECK(c) RL_CHECK_GOTO(c)

static int s_write(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fputs(text, f);
  return fclose(f);
}

static bool s_file_is(const char *path, const char *text) {
  char buf[256] = "";
  FILE *f = fopen(path, "r");
  if (!f) return false;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  return strcmp(buf, text) == 0;
}

/* A package of one entry [path, mode, data], for the refusal checks. */
static size_t s_evil(char *out, size_t cap, const char *path, uint64_t mode) {
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, 1);
  msgpack_pack_array(&pk, 3);
  rl_pack_str(&pk, path);
  msgpack_pack_uint64(&pk, mode);
  rl_pack_bin(&pk, "x", 1);
  size_t n = sizeof s_magic + sb.size <= cap ? sizeof s_magic + sb.size : 0;
  if (n) {
    memcpy(out, s_magic, sizeof s_magic);
    memcpy(out + sizeof s_magic, sb.data, sb.size);
  }
  msgpack_sbuffer_destroy(&sb);
  return n;
}

int rl_package_selftest(void) {
  char root[] = "/tmp/rl-pkg-XXXXXX", src[64], dst[128], p[256], err[512];
  rl_package_t a = {0}, b = {0};
  S_CHECK(mkdtemp(root));
  snprintf(src, sizeof src, "%s/src", root);
  snprintf(dst, sizeof dst, "%s/session/runtime_resources/x", root);
  S_CHECK(mkdir(src, 0755) == 0);
  snprintf(p, sizeof p, "%s/lib", src);
  S_CHECK(mkdir(p, 0755) == 0);
  snprintf(p, sizeof p, "%s/empty", src);
  S_CHECK(mkdir(p, 0755) == 0);
  snprintf(p, sizeof p, "%s/.git", src);
  S_CHECK(mkdir(p, 0755) == 0);
  snprintf(p, sizeof p, "%s/.git/HEAD", src);
  S_CHECK(s_write(p, "ref") == 0);
  snprintf(p, sizeof p, "%s/main.lua", src);
  S_CHECK(s_write(p, "print 1") == 0);
  S_CHECK(chmod(p, 0750) == 0);
  snprintf(p, sizeof p, "%s/lib/mod.lua", src);
  S_CHECK(s_write(p, "return 2") == 0);

  /* Packing: deterministic, .git skipped, the size cap and a missing folder refused. */
  S_CHECK(rl_package_pack(src, RL_PACKAGE_MAX, &a, err, sizeof err) == 0);
  S_CHECK(a.files == 2 && strlen(a.hash) == 32);
  S_CHECK(rl_package_pack(src, RL_PACKAGE_MAX, &b, err, sizeof err) == 0);
  S_CHECK(b.len == a.len && !memcmp(a.data, b.data, a.len) && !strcmp(a.hash, b.hash));
  free(b.data);
  b.data = NULL;
  S_CHECK(rl_package_pack(src, 10, &b, err, sizeof err) == -1 && strstr(err, "too large") && !b.data);
  snprintf(p, sizeof p, "%s/nope", root);
  S_CHECK(rl_package_pack(p, RL_PACKAGE_MAX, &b, err, sizeof err) == -1 && strstr(err, "does not exist"));

  /* Unpacking: the tree with its modes; a second unpack is a no-op. */
  S_CHECK(rl_package_unpack(a.data, a.len, dst, err, sizeof err) == 0);
  snprintf(p, sizeof p, "%s/lib/mod.lua", dst);
  S_CHECK(s_file_is(p, "return 2"));
  snprintf(p, sizeof p, "%s/main.lua", dst);
  struct stat st;
  S_CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0750 && s_file_is(p, "print 1"));
  snprintf(p, sizeof p, "%s/empty", dst);
  S_CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
  snprintf(p, sizeof p, "%s/.git", dst);
  S_CHECK(access(p, F_OK) != 0);
  S_CHECK(rl_package_unpack("junk", 4, dst, err, sizeof err) == 0); /* there already */

  /* Hostile or damaged packages leave nothing behind. */
  char evil[256];
  size_t n;
  snprintf(p, sizeof p, "%s/evil", root);
  const char *bad_paths[] = {"../escape", "/etc/passwd", "a//b", "a/./b", ""};
  for (size_t i = 0; i < sizeof bad_paths / sizeof *bad_paths; i++) {
    S_CHECK((n = s_evil(evil, sizeof evil, bad_paths[i], 0644)) > 0);
    S_CHECK(rl_package_unpack(evil, n, p, err, sizeof err) == -1 && strstr(err, "unsafe path"));
    S_CHECK(access(p, F_OK) != 0);
  }
  S_CHECK((n = s_evil(evil, sizeof evil, "ok", 01777)) > 0);
  S_CHECK(rl_package_unpack(evil, n, p, err, sizeof err) == -1 && strstr(err, "malformed"));
  S_CHECK(rl_package_unpack(a.data, a.len - 3, p, err, sizeof err) == -1 && access(p, F_OK) != 0);
  S_CHECK(rl_package_unpack("RLPKG1", 6, p, err, sizeof err) == -1);
  snprintf(p, sizeof p, "%s/escape", root);
  S_CHECK(access(p, F_OK) != 0);

  free(a.data);
  S_CHECK(rl_package_remove_tree(root) == 0 && access(root, F_OK) != 0);
  return 0;
fail:
  free(a.data);
  free(b.data);
  rl_package_remove_tree(root);
  return 1;
}
