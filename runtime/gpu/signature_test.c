/* signature_test.c: signature.c's selftest, built into rl_selftest only (not librayl). */
#include "gpu/signature.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

#define S_CHECK(c) RL_CHECK_RETURN(c)

static int s_check_param(const rl_sig_t *s, int i, rl_sig_kind_t kind, rl_sig_kind_t pointee, bool cst,
                         const char *name, const char *type) {
  const rl_sig_param_t *p = &s->params[i];
  if (p->kind == kind && p->pointee == pointee && p->is_const == cst && strcmp(p->name, name) == 0 &&
      strcmp(p->type, type) == 0)
    return 0;
  fprintf(stderr, "param %d: kind %d pointee %d const %d name '%s' type '%s'; wanted %d %d %d '%s' '%s'\n", i,
          p->kind, p->pointee, p->is_const, p->name, p->type, kind, pointee, cst, name, type);
  return 1;
}

/* The saxpy, comments, strings and a prototype before it; a call of the same name
 * inside another function is not its declaration. */
static int s_test_saxpy(void) {
  const char *src = "// saxpy(float) in a comment\n"
                    "#include <cuda_fp16.h>\n"
                    "__device__ float twice(float v) { return 2 * v; }\n"
                    "/* __global__ void saxpy(double) */ const char *s = \"saxpy(\";\n"
                    "extern \"C\" __global__ void saxpy(int n, float a, const float *x, float *y) {\n"
                    "  int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
                    "  if (i < n) y[i] = a * x[i] + y[i];\n"
                    "}\n";
  rl_sig_t s;
  char err[200];
  S_CHECK(rl_sig_parse(src, "saxpy", &s, err, sizeof err) == 0);
  S_CHECK(s.nparams == 4 && s.extern_c);
  S_CHECK(!s_check_param(&s, 0, RL_SIG_I32, 0, false, "n", "int"));
  S_CHECK(!s_check_param(&s, 1, RL_SIG_F32, 0, false, "a", "float"));
  S_CHECK(!s_check_param(&s, 2, RL_SIG_PTR, RL_SIG_F32, true, "x", "const float *"));
  S_CHECK(!s_check_param(&s, 3, RL_SIG_PTR, RL_SIG_F32, false, "y", "float *"));
  S_CHECK(rl_sig_parse(src, "twice", &s, err, sizeof err) == -1); /* __device__, not __global__ */
  S_CHECK(strstr(err, "__global__ void twice"));
  S_CHECK(rl_sig_parse(src, "nothere", &s, err, sizeof err) == -1);
  return 0;
}

/* Every scalar spelling, qualifiers, unnamed parameters, arrays and double pointers. */
static int s_test_types(void) {
  const char *src = "extern \"C\" {\n"
                    "__global__ void __launch_bounds__(256, 2) k(unsigned n, unsigned long long m,\n"
                    "    long long q, size_t s, const double *__restrict__ a, float *__restrict__ const b,\n"
                    "    unsigned char c, bool flag, int, short h, double d, float arr[], int **pp,\n"
                    "    const void *raw, signed char sc, unsigned short us, int64_t i64, uint32_t u32) {}\n"
                    "}\n"
                    "__global__ void none(void) {}\n"
                    "__global__ void empty() {}\n";
  rl_sig_t s;
  char err[200];
  S_CHECK(rl_sig_parse(src, "k", &s, err, sizeof err) == 0);
  S_CHECK(s.nparams == 18 && s.extern_c);
  S_CHECK(!s_check_param(&s, 0, RL_SIG_U32, 0, false, "n", "unsigned"));
  S_CHECK(!s_check_param(&s, 1, RL_SIG_U64, 0, false, "m", "unsigned long long"));
  S_CHECK(!s_check_param(&s, 2, RL_SIG_I64, 0, false, "q", "long long"));
  S_CHECK(!s_check_param(&s, 3, RL_SIG_U64, 0, false, "s", "size_t"));
  S_CHECK(!s_check_param(&s, 4, RL_SIG_PTR, RL_SIG_F64, true, "a", "const double *"));
  S_CHECK(!s_check_param(&s, 5, RL_SIG_PTR, RL_SIG_F32, false, "b", "float *"));
  S_CHECK(!s_check_param(&s, 6, RL_SIG_U8, 0, false, "c", "unsigned char"));
  S_CHECK(!s_check_param(&s, 7, RL_SIG_BOOL, 0, false, "flag", "bool"));
  S_CHECK(!s_check_param(&s, 8, RL_SIG_I32, 0, false, "", "int"));
  S_CHECK(!s_check_param(&s, 9, RL_SIG_I16, 0, false, "h", "short"));
  S_CHECK(!s_check_param(&s, 10, RL_SIG_F64, 0, false, "d", "double"));
  S_CHECK(!s_check_param(&s, 11, RL_SIG_PTR, RL_SIG_F32, false, "arr", "float *"));
  S_CHECK(!s_check_param(&s, 12, RL_SIG_PTR, RL_SIG_UNKNOWN, false, "pp", "int **"));
  S_CHECK(!s_check_param(&s, 13, RL_SIG_PTR, RL_SIG_VOID, true, "raw", "const void *"));
  S_CHECK(!s_check_param(&s, 14, RL_SIG_I8, 0, false, "sc", "signed char"));
  S_CHECK(!s_check_param(&s, 15, RL_SIG_U16, 0, false, "us", "unsigned short"));
  S_CHECK(!s_check_param(&s, 16, RL_SIG_I64, 0, false, "i64", "int64_t"));
  S_CHECK(!s_check_param(&s, 17, RL_SIG_U32, 0, false, "u32", "uint32_t"));
  S_CHECK(rl_sig_parse(src, "none", &s, err, sizeof err) == 0 && s.nparams == 0 && !s.extern_c);
  S_CHECK(rl_sig_parse(src, "empty", &s, err, sizeof err) == 0 && s.nparams == 0);
  return 0;
}

/* Aliases (typedef, using, #define) resolve; structs, vector types and references are
 * UNKNOWN, and the kernel's name can come from a line with a macro continuation. */
static int s_test_aliases(void) {
  const char *src = "#define real \\\n  float\n"
                    "typedef unsigned int idx_t;\n"
                    "using fptr = float *;\n"
                    "struct P { float x, y; };\n"
                    "extern \"C\" __global__ void k(real v, idx_t i, fptr out, P p, float2 f2, const P *pp,\n"
                    "                               __half h, int &r, struct P q) {}\n";
  rl_sig_t s;
  char err[200];
  S_CHECK(rl_sig_parse(src, "k", &s, err, sizeof err) == 0);
  S_CHECK(s.nparams == 9);
  S_CHECK(!s_check_param(&s, 0, RL_SIG_F32, 0, false, "v", "real"));
  S_CHECK(!s_check_param(&s, 1, RL_SIG_U32, 0, false, "i", "idx_t"));
  S_CHECK(!s_check_param(&s, 2, RL_SIG_PTR, RL_SIG_F32, false, "out", "fptr"));
  S_CHECK(!s_check_param(&s, 3, RL_SIG_UNKNOWN, 0, false, "p", "P"));
  S_CHECK(!s_check_param(&s, 4, RL_SIG_UNKNOWN, 0, false, "f2", "float2"));
  S_CHECK(!s_check_param(&s, 5, RL_SIG_PTR, RL_SIG_UNKNOWN, true, "pp", "const P *"));
  S_CHECK(!s_check_param(&s, 6, RL_SIG_UNKNOWN, 0, false, "h", "__half"));
  S_CHECK(s.params[7].kind == RL_SIG_UNKNOWN && strcmp(s.params[7].name, "r") == 0);
  S_CHECK(s.params[8].kind == RL_SIG_UNKNOWN);
  /* Aliases of aliases, 8 words each, 8 deep (found by tools/fuzz/run cuda_sig: it took
   * minutes): read as a type rayl cannot pass. */
  const char *deep = "typedef int a0;\n"
                     "typedef a0 a0 a0 a0 a0 a0 a0 a1;\ntypedef a1 a1 a1 a1 a1 a1 a1 a2;\n"
                     "typedef a2 a2 a2 a2 a2 a2 a2 a3;\ntypedef a3 a3 a3 a3 a3 a3 a3 a4;\n"
                     "typedef a4 a4 a4 a4 a4 a4 a4 a5;\ntypedef a5 a5 a5 a5 a5 a5 a5 a6;\n"
                     "typedef a6 a6 a6 a6 a6 a6 a6 a7;\ntypedef a7 a7 a7 a7 a7 a7 a7 a8;\n"
                     "extern \"C\" __global__ void k(a8 v, a0 w) {}\n";
  S_CHECK(rl_sig_parse(deep, "k", &s, err, sizeof err) == 0 && s.nparams == 2);
  S_CHECK(s.params[0].kind == RL_SIG_UNKNOWN && s.params[1].kind == RL_SIG_I32);
  return 0;
}

/* Hostile input: unclosed lists and comments, a declaration through a macro, too many
 * parameters, an empty source: -1 with a reason, never a crash. */
static int s_test_bad(void) {
  rl_sig_t s;
  char err[200];
  S_CHECK(rl_sig_parse("__global__ void k(int n, float *x", "k", &s, err, sizeof err) == -1);
  S_CHECK(strstr(err, "not closed"));
  S_CHECK(rl_sig_parse("/* __global__ void k(int n)", "k", &s, err, sizeof err) == -1);
  S_CHECK(rl_sig_parse("#define KERNEL(n) extern \"C\" __global__ void n(int a)\nKERNEL(k) {}", "k", &s, err,
                       sizeof err) == -1);
  S_CHECK(rl_sig_parse("", "k", &s, err, sizeof err) == -1);
  S_CHECK(rl_sig_parse("\"unterminated", "k", &s, err, sizeof err) == -1);
  char big[4096] = "__global__ void k(";
  for (int i = 0; i < 70; i++) snprintf(big + strlen(big), sizeof big - strlen(big), "%sint a%d", i ? "," : "", i);
  strcat(big, ") {}");
  S_CHECK(rl_sig_parse(big, "k", &s, err, sizeof err) == -1);
  S_CHECK(strstr(err, "more than 64"));
  /* Identifiers longer than a token keeps are cut, not overflowed. */
  char longname[300];
  memset(longname, 'a', sizeof longname - 1);
  longname[sizeof longname - 1] = 0;
  char src[700];
  snprintf(src, sizeof src, "__global__ void k(%s x, int %s) {}", longname, longname);
  S_CHECK(rl_sig_parse(src, "k", &s, err, sizeof err) == 0 && s.nparams == 2);
  S_CHECK(s.params[0].kind == RL_SIG_UNKNOWN && s.params[1].kind == RL_SIG_I32);
  return 0;
}

int rl_signature_selftest(void) {
  S_CHECK(s_test_saxpy() == 0);
  S_CHECK(s_test_types() == 0);
  S_CHECK(s_test_aliases() == 0);
  S_CHECK(s_test_bad() == 0);
  S_CHECK(rl_sig_kind_size(RL_SIG_F64) == 8 && rl_sig_kind_size(RL_SIG_U16) == 2 && rl_sig_kind_size(RL_SIG_VOID) == 0);
  S_CHECK(strcmp(rl_sig_kind_name(RL_SIG_U32), "unsigned int") == 0);
  return 0;
}
