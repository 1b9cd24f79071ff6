/* sim_backend.c: the CPU simulator behind backend.h: kernels compiled by the host's C++
 * compiler (sim_compile.c) and loaded with dlopen; a launch runs the grid's blocks one after
 * another, a block's threads in a plain loop or, when the kernel has barriers, as fibers;
 * device memory is host memory. */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "gpu/backend.h"
#include "gpu/sim_abi.h"
#include "gpu/sim_compile.h"
#include "gpu/sim_fibers.h"

/* CUDA's limits (compute capability 7.0 and later). */
#define S_BLOCK_XY_MAX 1024u
#define S_BLOCK_Z_MAX 64u
#define S_BLOCK_THREADS_MAX 1024u
#define S_GRID_X_MAX 2147483647u
#define S_GRID_YZ_MAX 65535u
#define S_SHARED_MAX (48u * 1024u) /* per block, without opting in to more */
#define S_FIBER_STACK (256u * 1024u) /* CUDA lets a thread use far more than its 1 KiB default */

struct rl_gpu_kernel {
  void *dl;
  int fd; /* the image's memfd, open while loaded (its /proc path names the library) */
  rl_sim_abi_t *abi;
  pthread_mutex_t lock; /* one launch at a time: the image's state is the launch's */
};

/* A launch that runs its threads as fibers. */
typedef struct {
  rl_sim_abi_t *abi;
  void **args;
  rl_sim_fibers_t *fibers;
  char msg[400]; /* a trap's message, with the block and thread */
} s_launch_t;

static pthread_mutex_t s_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static rl_sim_fibers_t *s_pool; /* the fibers' stacks, shared by launches (under s_pool_lock) */
static pthread_mutex_t s_err_lock = PTHREAD_MUTEX_INITIALIZER;
static char s_last_err[400]; /* a launch's failure, until synchronize reports it */

static bool s_available(char *why, size_t whylen) { return rl_sim_cxx_available(why, whylen); }

static int s_device_count(void) { return 1; }

static const char *s_arch(void) { return rl_sim_cxx_arch(); }

/* ---- images ---- */

/* A memfd holding the image whose /proc path no loaded library has (a library that could
 * not be unloaded keeps its name, and dlopen would return it for a new file of that name).
 * Returns the fd, or -1 with err. */
static int s_image_fd(const char *image, size_t len, char *path, size_t pathlen, char *err, size_t errlen) {
  int fd = memfd_create("rayl-sim-kernel", MFD_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errlen, "cannot hold the simulator's image (memfd_create): %s", strerror(errno));
    return -1;
  }
  for (size_t off = 0; off < len;) {
    ssize_t w = write(fd, image + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      snprintf(err, errlen, "cannot hold the simulator's image: %s", strerror(w < 0 ? errno : EIO));
      close(fd);
      return -1;
    }
    off += (size_t)w;
  }
  int spare[8], nspare = 0;
  void *h;
  snprintf(path, pathlen, "/proc/self/fd/%d", fd);
  while (fd >= 0 && nspare < 8 && (h = dlopen(path, RTLD_LAZY | RTLD_NOLOAD)) != NULL) {
    dlclose(h);
    spare[nspare++] = fd;
    fd = dup(fd);
    snprintf(path, pathlen, "/proc/self/fd/%d", fd);
  }
  for (int i = 0; i < nspare; i++) close(spare[i]);
  if (fd < 0) snprintf(err, errlen, "cannot hold the simulator's image: %s", strerror(errno));
  return fd;
}

/* Reads what the linker kept of an image (sim_compile.c has it drop what the kernel cannot
 * reach): *smem, the bytes of the __shared__ variables' sections; *flags, the RL_SIM_USES_*
 * whose functions (rl_sim_barrier, rl_sim_trap) are there. Returns false when the image
 * has no symbol table to tell (then the source's flags stand). */
static bool s_image_scan(const char *img, size_t len, unsigned *flags, size_t *smem) {
  Elf64_Ehdr eh;
  Elf64_Shdr sh, str;
  bool symtab = false;
  *flags = 0;
  *smem = 0;
  if (len < sizeof eh) return false;
  memcpy(&eh, img, sizeof eh);
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof sh || eh.e_shoff > len ||
      eh.e_shnum > (len - eh.e_shoff) / sizeof sh || eh.e_shstrndx >= eh.e_shnum)
    return false;
#define S_SECTION(i, out) memcpy(&(out), img + eh.e_shoff + (size_t)(i) * sizeof sh, sizeof sh)
#define S_INSIDE(s) ((s).sh_offset <= len && (s).sh_size <= len - (s).sh_offset)
  S_SECTION(eh.e_shstrndx, str);
  if (!S_INSIDE(str)) return false;
  for (unsigned i = 0; i < eh.e_shnum; i++) {
    S_SECTION(i, sh);
    const char *sname = img + str.sh_offset + sh.sh_name;
    if (sh.sh_name < str.sh_size && strnlen(sname, str.sh_size - sh.sh_name) > 14 &&
        !strncmp(sname, "rl_sim_shared.", 14))
      *smem += sh.sh_size;
    Elf64_Shdr names;
    if (sh.sh_type != SHT_SYMTAB || sh.sh_link >= eh.e_shnum || !S_INSIDE(sh)) continue;
    S_SECTION(sh.sh_link, names);
    if (!S_INSIDE(names)) continue;
    symtab = true;
    for (size_t off = 0; off + sizeof(Elf64_Sym) <= sh.sh_size; off += sizeof(Elf64_Sym)) {
      Elf64_Sym sym;
      memcpy(&sym, img + sh.sh_offset + off, sizeof sym);
      if (sym.st_name >= names.sh_size || sym.st_shndx == SHN_UNDEF) continue;
      const char *nm = img + names.sh_offset + sym.st_name;
      size_t max = names.sh_size - sym.st_name;
      if (strnlen(nm, max) == 14 && !memcmp(nm, "rl_sim_barrier", 14)) *flags |= RL_SIM_USES_SYNC;
      if (strnlen(nm, max) == 11 && !memcmp(nm, "rl_sim_trap", 11)) *flags |= RL_SIM_USES_TRAP;
    }
  }
#undef S_SECTION
#undef S_INSIDE
  return symtab;
}

static rl_gpu_kernel_t *s_load(const char *image, size_t len, const char *name, char *err, size_t errlen) {
  char path[64];
  rl_gpu_kernel_t *k = NULL;
  if (!image || len < 4 || memcmp(image, "\177ELF", 4) != 0) {
    snprintf(err, errlen, "kernel %s: the image is not one the CPU simulator made (a GPU's cubin or PTX?)", name);
    return NULL;
  }
  int fd = s_image_fd(image, len, path, sizeof path, err, errlen);
  if (fd < 0) return NULL;
  void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!dl) {
    snprintf(err, errlen, "kernel %s: cannot load the simulator's image: %s", name, dlerror());
    close(fd);
    return NULL;
  }
  rl_sim_abi_t *(*get)(void) = (rl_sim_abi_t * (*)(void)) dlsym(dl, RL_SIM_ABI_SYMBOL);
  rl_sim_abi_t *abi = get ? get() : NULL;
  if (!abi || abi->version != RL_SIM_ABI_VERSION || abi->size != sizeof *abi) {
    snprintf(err, errlen, "kernel %s: the image was made by another version of rayl's CPU simulator: compile it again",
             name);
    goto fail;
  }
  if (strcmp(abi->kernel, name) != 0) {
    snprintf(err, errlen, "kernel %s: the image holds kernel %.200s", name, abi->kernel);
    goto fail;
  }
  k = rl_xcalloc(1, sizeof *k);
  unsigned flags;
  if (s_image_scan(image, len, &flags, &abi->static_smem)) abi->flags = flags;
  k->dl = dl;
  k->fd = fd;
  k->abi = abi;
  pthread_mutex_init(&k->lock, NULL);
  return k;
fail:
  dlclose(dl);
  close(fd);
  return NULL;
}

static void s_unload(rl_gpu_kernel_t *k) {
  if (!k) return;
  pthread_mutex_destroy(&k->lock);
  dlclose(k->dl);
  close(k->fd);
  free(k);
}

/* ---- launches ---- */

/* CUDA's checks of a launch's shape and arguments. Returns 0, or -1 with err. */
static int s_check(const rl_sim_abi_t *abi, const rl_gpu_launch_t *l, char *err, size_t errlen) {
  const unsigned *b = l->block, *g = l->grid;
  const char *axis = "xyz";
  for (int i = 0; i < 3; i++) {
    unsigned bmax = i < 2 ? S_BLOCK_XY_MAX : S_BLOCK_Z_MAX, gmax = i == 0 ? S_GRID_X_MAX : S_GRID_YZ_MAX;
    if (b[i] < 1 || b[i] > bmax) {
      snprintf(err, errlen, "kernel %s: block.%c = %u is out of range (1 to %u)", abi->kernel, axis[i], b[i], bmax);
      return -1;
    }
    if (g[i] < 1 || g[i] > gmax) {
      snprintf(err, errlen, "kernel %s: grid.%c = %u is out of range (1 to %u)", abi->kernel, axis[i], g[i], gmax);
      return -1;
    }
  }
  unsigned long threads = (unsigned long)b[0] * b[1] * b[2];
  if (threads > S_BLOCK_THREADS_MAX) {
    snprintf(err, errlen, "kernel %s: block (%u, %u, %u) has %lu threads; a block has at most %u", abi->kernel, b[0],
             b[1], b[2], threads, S_BLOCK_THREADS_MAX);
    return -1;
  }
  if (l->shared_mem > S_SHARED_MAX || abi->static_smem + l->shared_mem > S_SHARED_MAX ||
      l->shared_mem > abi->dyn_smem_cap) {
    snprintf(err, errlen,
             "kernel %s: %zu bytes of static and %zu of dynamic shared memory are more than the %u (48 KiB) a block "
             "may use",
             abi->kernel, abi->static_smem, l->shared_mem, S_SHARED_MAX);
    return -1;
  }
  if (l->nargs != abi->nparams) {
    snprintf(err, errlen, "kernel %s takes %u arguments, not %zu", abi->kernel, abi->nparams, l->nargs);
    return -1;
  }
  for (size_t i = 0; i < l->nargs; i++)
    if (!l->args || !l->args[i]) {
      snprintf(err, errlen, "kernel %s: argument %zu is missing (a NULL pointer in args)", abi->kernel, i + 1);
      return -1;
    }
  return 0;
}

/* A barrier's votes become its results (__syncthreads_count/_and/_or). */
static void s_votes_done(rl_sim_abi_t *abi) {
  abi->res_count = abi->bar_count;
  abi->res_and = abi->bar_and;
  abi->res_or = abi->bar_or;
  abi->bar_count = 0;
  abi->bar_and = 1;
  abi->bar_or = 0;
}

/* A barrier in the plain loop: only blocks of one thread run there with barriers. */
static void s_barrier_alone(void *ctx) {
  rl_sim_abi_t *abi = ctx;
  if (abi->block_dim.x * abi->block_dim.y * abi->block_dim.z > 1) {
    rl_log(RL_LOG_ERROR, "kernel %s: a barrier in a block run as a plain loop", abi->kernel);
    abort();
  }
  s_votes_done(abi);
}

/* A trap in the plain loop: not reached (asserting kernels run as fibers). */
static void s_trap_loop(void *ctx, const char *msg) {
  rl_sim_abi_t *abi = ctx;
  rl_log(RL_LOG_ERROR, "kernel %s: %s, outside the fibers that could stop it", abi->kernel, msg);
  abort();
}

static void s_fiber_barrier(void *ctx) { rl_sim_fibers_yield(((s_launch_t *)ctx)->fibers); }

static void s_fiber_trap(void *ctx, const char *msg) {
  s_launch_t *L = ctx;
  const rl_sim_abi_t *a = L->abi;
  snprintf(L->msg, sizeof L->msg, "kernel %s: %s, in block (%u, %u, %u) thread (%u, %u, %u)", a->kernel, msg,
           a->block_idx.x, a->block_idx.y, a->block_idx.z, a->thread_idx.x, a->thread_idx.y, a->thread_idx.z);
  rl_sim_fibers_stop(L->fibers);
}

static void s_fiber_body(void *arg, unsigned i) {
  (void)i;
  s_launch_t *L = arg;
  L->abi->run_thread(L->args);
}

/* Before thread i of the block runs or resumes: its threadIdx (x fastest, as CUDA counts). */
static void s_fiber_resume(void *arg, unsigned i) {
  rl_sim_abi_t *a = ((s_launch_t *)arg)->abi;
  a->thread_idx.x = i % a->block_dim.x;
  a->thread_idx.y = i / a->block_dim.x % a->block_dim.y;
  a->thread_idx.z = i / (a->block_dim.x * a->block_dim.y);
}

static void s_fiber_pass(void *arg) { s_votes_done(((s_launch_t *)arg)->abi); }

/* Runs every block, its threads as fibers. Returns 0, or -1 with err (a trap's message). */
static int s_run_fibers(rl_sim_abi_t *abi, void **args, char *err, size_t errlen) {
  s_launch_t L = {.abi = abi, .args = args};
  rl_sim_fiber_job_t job = {s_fiber_body, s_fiber_resume, s_fiber_pass, &L};
  unsigned n = abi->block_dim.x * abi->block_dim.y * abi->block_dim.z;
  int rc = 0;
  pthread_mutex_lock(&s_pool_lock);
  if (!s_pool && !(s_pool = rl_sim_fibers_new(S_FIBER_STACK))) {
    pthread_mutex_unlock(&s_pool_lock);
    snprintf(err, errlen, "kernel %s: out of memory", abi->kernel);
    return -1;
  }
  L.fibers = s_pool;
  abi->barrier = s_fiber_barrier;
  abi->trap = s_fiber_trap;
  abi->ctx = &L;
  for (unsigned z = 0; z < abi->grid_dim.z && rc == 0; z++)
    for (unsigned y = 0; y < abi->grid_dim.y && rc == 0; y++)
      for (unsigned x = 0; x < abi->grid_dim.x && rc == 0; x++) {
        abi->block_idx = (rl_sim_dim_t){x, y, z};
        abi->bar_count = abi->bar_or = 0;
        abi->bar_and = 1;
        rc = rl_sim_fibers_run(s_pool, n, &job, err, errlen);
        if (rc == 1) snprintf(err, errlen, "%s", L.msg);
        if (rc != 0) break;
      }
  pthread_mutex_unlock(&s_pool_lock);
  return rc == 0 ? 0 : -1;
}

static int s_launch(rl_gpu_kernel_t *k, const rl_gpu_launch_t *l, char *err, size_t errlen) {
  rl_sim_abi_t *abi = k->abi;
  if (s_check(abi, l, err, errlen) != 0) return -1;
  pthread_mutex_lock(&k->lock);
  abi->grid_dim = (rl_sim_dim_t){l->grid[0], l->grid[1], l->grid[2]};
  abi->block_dim = (rl_sim_dim_t){l->block[0], l->block[1], l->block[2]};
  unsigned threads = l->block[0] * l->block[1] * l->block[2];
  bool fibers = (abi->flags & RL_SIM_USES_TRAP) || ((abi->flags & RL_SIM_USES_SYNC) && threads > 1);
  int rc = 0;
  if (fibers) {
    rc = s_run_fibers(abi, l->args, err, errlen);
  } else {
    abi->barrier = s_barrier_alone;
    abi->trap = s_trap_loop;
    abi->ctx = abi;
    abi->bar_count = abi->bar_or = 0;
    abi->bar_and = 1;
    abi->run_grid(l->args);
  }
  pthread_mutex_unlock(&k->lock);
  if (rc != 0) {
    pthread_mutex_lock(&s_err_lock);
    snprintf(s_last_err, sizeof s_last_err, "%s", err);
    pthread_mutex_unlock(&s_err_lock);
  }
  return rc;
}

/* A launch runs to its end before s_launch returns: there is nothing to wait for, only a
 * failed launch's error to report (once), as CUDA reports a kernel's fault. */
static int s_synchronize(char *err, size_t errlen) {
  pthread_mutex_lock(&s_err_lock);
  int rc = s_last_err[0] ? -1 : 0;
  if (rc) snprintf(err, errlen, "%s", s_last_err);
  s_last_err[0] = '\0';
  pthread_mutex_unlock(&s_err_lock);
  return rc;
}

/* ---- memory: host memory ---- */

static int s_alloc(size_t bytes, rl_gpu_ptr_t *out, char *err, size_t errlen) {
  size_t rounded = (bytes + 255) / 256 * 256; /* cudaMalloc's alignment */
  void *p = bytes && rounded >= bytes ? aligned_alloc(256, rounded) : NULL;
  if (!p) {
    snprintf(err, errlen,
             bytes ? "cannot allocate %zu bytes of device memory (host memory in the CPU simulator)"
                   : "cannot allocate %zu bytes of device memory: ask for at least 1",
             bytes);
    return -1;
  }
  *out = (rl_gpu_ptr_t)(uintptr_t)p;
  return 0;
}

static void s_free(rl_gpu_ptr_t p) { free((void *)(uintptr_t)p); }

static int s_null(const char *what, rl_gpu_ptr_t dev, const void *host, size_t bytes, char *err, size_t errlen) {
  if (bytes == 0 || (dev && host)) return 0;
  snprintf(err, errlen, "%s of %zu bytes: %s pointer is NULL", what, bytes, dev ? "the host" : "the device");
  return -1;
}

static int s_copy_in(rl_gpu_ptr_t dst, const void *src, size_t bytes, char *err, size_t errlen) {
  if (s_null("copy to the device", dst, src, bytes, err, errlen) != 0) return -1;
  if (bytes) memcpy((void *)(uintptr_t)dst, src, bytes);
  return 0;
}

static int s_copy_out(void *dst, rl_gpu_ptr_t src, size_t bytes, char *err, size_t errlen) {
  if (s_null("copy from the device", src, dst, bytes, err, errlen) != 0) return -1;
  if (bytes) memcpy(dst, (const void *)(uintptr_t)src, bytes);
  return 0;
}

static int s_fill(rl_gpu_ptr_t dst, uint8_t byte, size_t bytes, char *err, size_t errlen) {
  if (s_null("fill", dst, "", bytes, err, errlen) != 0) return -1;
  if (bytes) memset((void *)(uintptr_t)dst, byte, bytes);
  return 0;
}

static const rl_gpu_backend_t s_backend = {
    .mode = "sim",
    .available = s_available,
    .device_count = s_device_count,
    .arch = s_arch,
    .compile = rl_sim_compile,
    .load = s_load,
    .unload = s_unload,
    .launch = s_launch,
    .alloc = s_alloc,
    .free = s_free,
    .copy_in = s_copy_in,
    .copy_out = s_copy_out,
    .fill = s_fill,
    .synchronize = s_synchronize,
};

const rl_gpu_backend_t *rl_gpu_sim_backend(void) { return &s_backend; }
