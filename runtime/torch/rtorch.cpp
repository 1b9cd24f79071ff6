// rtorch.cpp: librayl_torch, the C shim over libtorch that rtorch.h declares.
// Every exported body runs inside S_TRY (or S_TRY_OR): a C++ exception becomes a return
// code and this thread's last error; none reaches the C caller.
#include "torch/rtorch.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>
#include <c10/util/Logging.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/version.h>

#include <dlfcn.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

struct rl_tensor {
  at::Tensor t;
};
struct rl_tensor_dict {
  std::vector<std::string> names;
  std::vector<at::Tensor> tensors;
};

namespace {

thread_local std::string s_err;

// A bad argument from the caller (RL_TORCH_EARG).
struct s_arg_error : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Classifies the exception being handled and records its message.
int s_caught() noexcept {
  try {
    throw;
  } catch (const c10::Error &e) {
    s_err = e.what_without_backtrace();
    return RL_TORCH_ETORCH;
  } catch (const s_arg_error &e) {
    s_err = e.what();
    return RL_TORCH_EARG;
  } catch (const std::exception &e) {
    s_err = e.what();
    return RL_TORCH_ESTD;
  } catch (...) {
    s_err = "unknown C++ exception";
    return RL_TORCH_EUNKNOWN;
  }
}

}  // namespace

// The one try/catch: the body returns nothing on success (0 is returned after it).
#define S_TRY(...)                   \
  try {                              \
    __VA_ARGS__                      \
  } catch (...) {                    \
    return s_caught();               \
  }                                  \
  return RL_TORCH_OK;
// The same for functions that return a value: `fail` on an exception.
#define S_TRY_OR(fail, ...)          \
  try {                              \
    __VA_ARGS__                      \
  } catch (...) {                    \
    s_caught();                      \
    return fail;                     \
  }

namespace {

const at::Tensor &s_t(const rl_tensor_t *p) {
  if (!p) throw s_arg_error("a tensor argument is NULL");
  return p->t;
}

at::Tensor &s_mt(rl_tensor_t *p) {
  if (!p) throw s_arg_error("a tensor argument is NULL");
  return p->t;
}

c10::optional<at::Tensor> s_opt(const rl_tensor_t *p) {
  if (!p) return c10::nullopt;
  return p->t;
}

void s_out(rl_tensor_t **out, at::Tensor t) {
  if (!out) throw s_arg_error("the out argument is NULL");
  *out = new rl_tensor{std::move(t)};
}

at::ScalarType s_type(int dtype) {
  switch (dtype) {
  case RL_TORCH_FLOAT32: return at::kFloat;
  case RL_TORCH_FLOAT64: return at::kDouble;
  case RL_TORCH_INT32: return at::kInt;
  case RL_TORCH_INT64: return at::kLong;
  case RL_TORCH_UINT8: return at::kByte;
  case RL_TORCH_BOOL: return at::kBool;
  }
  throw s_arg_error("unknown dtype code " + std::to_string(dtype));
}

int s_code(at::ScalarType t) {
  switch (t) {
  case at::kFloat: return RL_TORCH_FLOAT32;
  case at::kDouble: return RL_TORCH_FLOAT64;
  case at::kInt: return RL_TORCH_INT32;
  case at::kLong: return RL_TORCH_INT64;
  case at::kByte: return RL_TORCH_UINT8;
  case at::kBool: return RL_TORCH_BOOL;
  default: return 0;
  }
}

at::TensorOptions s_opts(int dtype) { return at::TensorOptions().dtype(s_type(dtype)); }

at::IntArrayRef s_shape(const int64_t *shape, int ndim) {
  if (ndim < 0 || ndim > RL_TORCH_MAXDIM) throw s_arg_error("ndim " + std::to_string(ndim) + " is not in 0..16");
  if (ndim > 0 && !shape) throw s_arg_error("the shape argument is NULL");
  return at::IntArrayRef(shape, (size_t)ndim);
}

std::vector<at::Tensor> s_list(rl_tensor_t *const *ts, int n) {
  if (n < 0 || (n > 0 && !ts)) throw s_arg_error("bad tensor list");
  std::vector<at::Tensor> v;
  v.reserve((size_t)n);
  for (int i = 0; i < n; i++) v.push_back(s_t(ts[i]));
  return v;
}

c10::List<c10::optional<at::Tensor>> s_indices(rl_tensor_t *const *ts, int n) {
  if (n < 0 || (n > 0 && !ts)) throw s_arg_error("bad index list");
  c10::List<c10::optional<at::Tensor>> l;
  for (int i = 0; i < n; i++) l.push_back(s_opt(ts[i]));
  return l;
}

// ---- memory the caller lends (rl_torch_from_blob) ----

struct s_pin {
  uint64_t id;
  bool readonly;
};
std::mutex s_released_mu;
std::vector<uint64_t> s_released;
thread_local int s_released_here; // pins released on this thread (rl_torch_free's answer)

void s_pin_release(void *ctx) {
  s_pin *p = static_cast<s_pin *>(ctx);
  s_released_here++;
  try {
    std::lock_guard<std::mutex> g(s_released_mu);
    s_released.push_back(p->id);
  } catch (...) {
    // No memory to queue it: the lender keeps its memory (a leak, never a crash).
  }
  delete p;
}

bool s_readonly(const at::Tensor &t) {
  if (!t.defined() || !t.has_storage()) return false;
  const c10::DataPtr &dp = t.storage().data_ptr();
  return dp.get_deleter() == &s_pin_release && static_cast<s_pin *>(dp.get_context())->readonly;
}

at::Tensor &s_writable(rl_tensor_t *p) {
  at::Tensor &t = s_mt(p);
  if (s_readonly(t))
    throw s_arg_error("this tensor is read-only: it shares memory with an object in the store or a read-only "
                      "rayl.array; change a copy (t:clone())");
  return t;
}

// ---- ops by code ----

at::Tensor s_unary(int op, const at::Tensor &t) {
  switch (op) {
  case RL_TORCH_NEG: return at::neg(t);
  case RL_TORCH_ABS: return at::abs(t);
  case RL_TORCH_EXP: return at::exp(t);
  case RL_TORCH_LOG: return at::log(t);
  case RL_TORCH_SQRT: return at::sqrt(t);
  case RL_TORCH_RSQRT: return at::rsqrt(t);
  case RL_TORCH_TANH: return at::tanh(t);
  case RL_TORCH_SIGMOID: return at::sigmoid(t);
  case RL_TORCH_RELU: return at::relu(t);
  case RL_TORCH_SIN: return at::sin(t);
  case RL_TORCH_COS: return at::cos(t);
  case RL_TORCH_FLOOR: return at::floor(t);
  case RL_TORCH_CEIL: return at::ceil(t);
  case RL_TORCH_ROUND: return at::round(t);
  case RL_TORCH_SIGN: return at::sign(t);
  case RL_TORCH_RECIPROCAL: return at::reciprocal(t);
  case RL_TORCH_LOG1P: return at::log1p(t);
  case RL_TORCH_EXPM1: return at::expm1(t);
  case RL_TORCH_SQUARE: return at::square(t);
  case RL_TORCH_LOGICAL_NOT: return at::logical_not(t);
  case RL_TORCH_SOFTPLUS: return at::softplus(t);
  case RL_TORCH_ELU: return at::elu(t);
  case RL_TORCH_GELU: return at::gelu(t);
  case RL_TORCH_SILU: return at::silu(t);
  case RL_TORCH_LOG2: return at::log2(t);
  case RL_TORCH_ERF: return at::erf(t);
  case RL_TORCH_TRUNC: return at::trunc(t);
  }
  throw s_arg_error("unknown unary op " + std::to_string(op));
}

at::Tensor s_binary(int op, const at::Tensor &a, const at::Tensor &b) {
  switch (op) {
  case RL_TORCH_ADD: return at::add(a, b);
  case RL_TORCH_SUB: return at::sub(a, b);
  case RL_TORCH_MUL: return at::mul(a, b);
  case RL_TORCH_DIV: return at::div(a, b);
  case RL_TORCH_POW: return at::pow(a, b);
  case RL_TORCH_REMAINDER: return at::remainder(a, b);
  case RL_TORCH_FLOOR_DIVIDE: return at::div(a, b, "floor");
  case RL_TORCH_MAXIMUM: return at::maximum(a, b);
  case RL_TORCH_MINIMUM: return at::minimum(a, b);
  case RL_TORCH_ATAN2: return at::atan2(a, b);
  case RL_TORCH_EQ: return at::eq(a, b);
  case RL_TORCH_NE: return at::ne(a, b);
  case RL_TORCH_LT: return at::lt(a, b);
  case RL_TORCH_LE: return at::le(a, b);
  case RL_TORCH_GT: return at::gt(a, b);
  case RL_TORCH_GE: return at::ge(a, b);
  case RL_TORCH_LOGICAL_AND: return at::logical_and(a, b);
  case RL_TORCH_LOGICAL_OR: return at::logical_or(a, b);
  case RL_TORCH_LOGICAL_XOR: return at::logical_xor(a, b);
  }
  throw s_arg_error("unknown binary op " + std::to_string(op));
}

// A number as Python passes one: integral values as int64 (integer tensors stay
// integer), others as double (promoting integer tensors to the default float type).
at::Scalar s_number(double s) {
  if (std::isfinite(s) && s == std::floor(s) && std::fabs(s) < 9.2e18) return at::Scalar((int64_t)s);
  return at::Scalar(s);
}

at::Tensor s_wrapped(double s) {
  at::Tensor w = at::scalar_to_tensor(s_number(s));
  w.unsafeGetTensorImpl()->set_wrapped_number(true);
  return w;
}

at::Tensor s_binary_scalar(int op, const at::Tensor &t, double s, bool first) {
  at::Scalar n = s_number(s);
  if (!first) {
    switch (op) {
    case RL_TORCH_ADD: return at::add(t, n);
    case RL_TORCH_SUB: return at::sub(t, n);
    case RL_TORCH_MUL: return at::mul(t, n);
    case RL_TORCH_DIV: return at::div(t, n);
    case RL_TORCH_POW: return at::pow(t, n);
    case RL_TORCH_EQ: return at::eq(t, n);
    case RL_TORCH_NE: return at::ne(t, n);
    case RL_TORCH_LT: return at::lt(t, n);
    case RL_TORCH_LE: return at::le(t, n);
    case RL_TORCH_GT: return at::gt(t, n);
    case RL_TORCH_GE: return at::ge(t, n);
    default: return s_binary(op, t, s_wrapped(s));
    }
  }
  switch (op) {
  case RL_TORCH_ADD: return at::add(t, n);
  case RL_TORCH_MUL: return at::mul(t, n);
  case RL_TORCH_SUB: return at::rsub(t, n);
  case RL_TORCH_POW: return at::pow(n, t);
  default: return s_binary(op, s_wrapped(s), t);
  }
}

std::vector<int64_t> s_dims(const at::Tensor &t, const int64_t *dims, int ndims) {
  if (ndims < 0 || ndims > RL_TORCH_MAXDIM || (ndims > 0 && !dims)) throw s_arg_error("bad dims list");
  std::vector<int64_t> v;
  if (ndims == 0)
    for (int64_t i = 0; i < t.dim(); i++) v.push_back(i);
  else
    v.assign(dims, dims + ndims);
  return v;
}

// Reduces one dim at a time (for ops that take a single dim), highest dim first so
// the lower ones keep their numbers.
template <typename F>
at::Tensor s_each_dim(const at::Tensor &t, std::vector<int64_t> dims, bool keepdim, F f) {
  for (auto &d : dims) d = c10::maybe_wrap_dim(d, t.dim());
  std::sort(dims.rbegin(), dims.rend());
  at::Tensor r = t;
  for (int64_t d : dims) r = f(r, d, keepdim);
  return r;
}

at::Tensor s_reduce(int op, const at::Tensor &t, const int64_t *dims, int ndims, bool keepdim) {
  bool all = ndims == 0 && !keepdim;
  std::vector<int64_t> d = s_dims(t, dims, ndims);
  switch (op) {
  case RL_TORCH_SUM: return all ? at::sum(t) : at::sum(t, d, keepdim);
  case RL_TORCH_MEAN: return all ? at::mean(t) : at::mean(t, d, keepdim);
  case RL_TORCH_PROD:
    if (all) return at::prod(t);
    return s_each_dim(t, d, keepdim, [](const at::Tensor &x, int64_t i, bool k) { return at::prod(x, i, k); });
  case RL_TORCH_AMAX: return at::amax(t, d, keepdim);
  case RL_TORCH_AMIN: return at::amin(t, d, keepdim);
  case RL_TORCH_LOGSUMEXP: return at::logsumexp(t, d, keepdim);
  case RL_TORCH_ANY:
    if (all) return at::any(t);
    return s_each_dim(t, d, keepdim, [](const at::Tensor &x, int64_t i, bool k) { return at::any(x, i, k); });
  case RL_TORCH_ALL:
    if (all) return at::all(t);
    return s_each_dim(t, d, keepdim, [](const at::Tensor &x, int64_t i, bool k) { return at::all(x, i, k); });
  }
  throw s_arg_error("unknown reduction " + std::to_string(op));
}

at::Tensor s_loss(int op, const at::Tensor &in, const at::Tensor &target, int64_t red, double beta) {
  if (red < RL_TORCH_REDUCE_NONE || red > RL_TORCH_REDUCE_SUM)
    throw s_arg_error("unknown loss reduction " + std::to_string(red));
  switch (op) {
  case RL_TORCH_MSE_LOSS: return at::mse_loss(in, target, red);
  case RL_TORCH_L1_LOSS: return at::l1_loss(in, target, red);
  case RL_TORCH_SMOOTH_L1_LOSS: return at::smooth_l1_loss(in, target, red, beta);
  case RL_TORCH_HUBER_LOSS: return at::huber_loss(in, target, red, beta);
  case RL_TORCH_CROSS_ENTROPY: return at::cross_entropy_loss(in, target, {}, red);
  case RL_TORCH_NLL_LOSS: return at::nll_loss(in, target, {}, red);
  case RL_TORCH_BCE_WITH_LOGITS: return at::binary_cross_entropy_with_logits(in, target, {}, {}, red);
  }
  throw s_arg_error("unknown loss " + std::to_string(op));
}

void s_orthogonal(at::Tensor &t, double gain) {
  if (t.dim() < 2) throw s_arg_error("orthogonal init needs a tensor with 2 or more dims");
  at::NoGradGuard no_grad;
  int64_t rows = t.size(0), cols = t.numel() / rows;
  at::Tensor flat = at::empty({rows, cols}, t.options()).normal_(0, 1);
  if (rows < cols) flat = flat.t();
  auto qr = at::linalg_qr(flat);
  at::Tensor q = std::get<0>(qr), r = std::get<1>(qr);
  q = q * at::sign(at::diag(r, 0));
  if (rows < cols) q = q.t();
  t.view_as(q).copy_(q);
  t.mul_(gain);
}

// A function of the BLAS libtorch loaded, or NULL. The BLAS is not in the global scope
// when libtorch came in through dlopen (LuaJIT's ffi.load): ask the loaded library.
void *s_blas_sym(const char *name) {
  if (void *f = dlsym(RTLD_DEFAULT, name)) return f;
  for (const char *lib : {"libblas.so.3", "libopenblas.so.0"}) {
    void *h = dlopen(lib, RTLD_LAZY | RTLD_NOLOAD);
    if (!h) continue;
    void *f = dlsym(h, name);
    dlclose(h);
    if (f) return f;
  }
  return nullptr;
}

void s_set_threads(int n) {
  if (n < 1) throw s_arg_error("the number of threads must be 1 or more, not " + std::to_string(n));
  at::set_num_threads(n);
  // OpenBLAS keeps its own pool, which libtorch's setting does not reach.
  if (void *f = s_blas_sym("openblas_set_num_threads")) reinterpret_cast<void (*)(int)>(f)(n);
}

std::vector<char> s_read_file(const char *path) {
  std::unique_ptr<FILE, int (*)(FILE *)> f(fopen(path, "rb"), fclose);
  if (!f) throw std::runtime_error(std::string("cannot open ") + path + ": " + strerror(errno));
  std::vector<char> data;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f.get())) > 0) data.insert(data.end(), buf, buf + n);
  if (ferror(f.get())) throw std::runtime_error(std::string("cannot read ") + path + ": " + strerror(errno));
  return data;
}

void s_write_file(const char *path, const std::vector<char> &data) {
  std::string tmp = std::string(path) + ".tmp";
  FILE *f = fopen(tmp.c_str(), "wb");
  if (!f) throw std::runtime_error(std::string("cannot write ") + path + ": " + strerror(errno));
  bool ok = fwrite(data.data(), 1, data.size(), f) == data.size();
  ok = fclose(f) == 0 && ok;
  if (!ok || rename(tmp.c_str(), path) != 0) {
    int e = errno;
    remove(tmp.c_str());
    throw std::runtime_error(std::string("cannot write ") + path + ": " + strerror(e));
  }
}

}  // namespace

// ---- errors, library ----

const char *rl_torch_last_error(void) { return s_err.c_str(); }

const char *rl_torch_version(void) { return TORCH_VERSION; }

int rl_torch_set_num_threads(int n) { S_TRY(s_set_threads(n);) }

int rl_torch_get_num_threads(void) { S_TRY_OR(-1, return at::get_num_threads();) }

int rl_torch_blas_threads(void) {
  S_TRY_OR(0, void *f = s_blas_sym("openblas_get_num_threads");
           return f ? reinterpret_cast<int (*)(void)>(f)() : 0;)
}

int rl_torch_manual_seed(uint64_t seed) { S_TRY(at::manual_seed(seed);) }

int rl_torch_set_grad_enabled(int enabled) {
  S_TRY_OR(-1, int was = c10::GradMode::is_enabled(); c10::GradMode::set_enabled(enabled != 0); return was;)
}

int rl_torch_is_grad_enabled(void) { S_TRY_OR(-1, return c10::GradMode::is_enabled();) }

// ---- handles ----

int rl_torch_free(rl_tensor_t *t) {
  S_TRY_OR(0, s_released_here = 0; delete t; return s_released_here > 0;)
}

void rl_torch_release(rl_tensor_ref_t *ref) {
  if (!ref) return;
  rl_torch_free(ref->h);
  ref->h = nullptr;
}

double rl_torch_new_bytes(const rl_tensor_t *t) {
  S_TRY_OR(0, const at::Tensor &x = s_t(t); return x.is_view() ? 0 : (double)x.nbytes();)
}

int rl_torch_dim(const rl_tensor_t *t) { S_TRY_OR(-1, return (int)s_t(t).dim();) }

int rl_torch_dtype(const rl_tensor_t *t) { S_TRY_OR(0, return s_code(s_t(t).scalar_type());) }

int64_t rl_torch_numel(const rl_tensor_t *t) { S_TRY_OR(-1, return s_t(t).numel();) }

int rl_torch_sizes(const rl_tensor_t *t, int64_t *out) {
  S_TRY_OR(-1, const at::Tensor &x = s_t(t); for (int64_t i = 0; i < x.dim(); i++) out[i] = x.size(i);
           return (int)x.dim();)
}

int rl_torch_strides(const rl_tensor_t *t, int64_t *out) {
  S_TRY_OR(-1, const at::Tensor &x = s_t(t); for (int64_t i = 0; i < x.dim(); i++) out[i] = x.stride(i);
           return (int)x.dim();)
}

void *rl_torch_data(const rl_tensor_t *t) {
  S_TRY_OR(nullptr, const at::Tensor &x = s_t(t); return x.numel() ? x.data_ptr() : nullptr;)
}

int rl_torch_is_contiguous(const rl_tensor_t *t) { S_TRY_OR(0, return s_t(t).is_contiguous();) }

int rl_torch_requires_grad(const rl_tensor_t *t) { S_TRY_OR(0, return s_t(t).requires_grad();) }

int rl_torch_is_leaf(const rl_tensor_t *t) { S_TRY_OR(0, return s_t(t).is_leaf();) }

int rl_torch_is_readonly(const rl_tensor_t *t) { S_TRY_OR(0, return s_readonly(s_t(t));) }

int rl_torch_same_storage(const rl_tensor_t *a, const rl_tensor_t *b) {
  S_TRY_OR(0, const at::Tensor &x = s_t(a), &y = s_t(b);
           return x.has_storage() && y.has_storage() && x.storage().is_alias_of(y.storage());)
}

int rl_torch_item(const rl_tensor_t *t, double *out) { S_TRY(*out = s_t(t).item<double>();) }

int rl_torch_equal(const rl_tensor_t *a, const rl_tensor_t *b, int *out) { S_TRY(*out = at::equal(s_t(a), s_t(b));) }

int rl_torch_allclose(const rl_tensor_t *a, const rl_tensor_t *b, double rtol, double atol, int *out) {
  S_TRY(*out = at::allclose(s_t(a), s_t(b), rtol, atol);)
}

// ---- creation ----

int rl_torch_empty(const int64_t *shape, int ndim, int dtype, rl_tensor_t **out) {
  S_TRY(s_out(out, at::empty(s_shape(shape, ndim), s_opts(dtype)));)
}

int rl_torch_full(const int64_t *shape, int ndim, double value, int dtype, rl_tensor_t **out) {
  S_TRY(s_out(out, at::full(s_shape(shape, ndim), value, s_opts(dtype)));)
}

int rl_torch_scalar(double value, int dtype, rl_tensor_t **out) {
  S_TRY(s_out(out, at::scalar_tensor(value, s_opts(dtype)));)
}

int rl_torch_arange(double start, double end, double step, int dtype, rl_tensor_t **out) {
  S_TRY(s_out(out, at::arange(s_number(start), s_number(end), s_number(step), s_opts(dtype)));)
}

int rl_torch_linspace(double start, double end, int64_t steps, int dtype, rl_tensor_t **out) {
  S_TRY(s_out(out, at::linspace(start, end, steps, s_opts(dtype)));)
}

int rl_torch_rand(const int64_t *shape, int ndim, int dtype, rl_tensor_t **out) {
  S_TRY(s_out(out, at::rand(s_shape(shape, ndim), s_opts(dtype)));)
}

int rl_torch_randn(const int64_t *shape, int ndim, int dtype, rl_tensor_t **out) {
  S_TRY(s_out(out, at::randn(s_shape(shape, ndim), s_opts(dtype)));)
}

int rl_torch_randint(int64_t low, int64_t high, const int64_t *shape, int ndim, int dtype, rl_tensor_t **out) {
  S_TRY(s_out(out, at::randint(low, high, s_shape(shape, ndim), s_opts(dtype)));)
}

int rl_torch_from_blob(void *data, const int64_t *shape, int ndim, int dtype, uint64_t pin, int readonly,
                       rl_tensor_t **out) {
  S_TRY(if (!data) throw s_arg_error("from_blob: data is NULL"); at::IntArrayRef sizes = s_shape(shape, ndim);
        at::TensorOptions o = s_opts(dtype); // before the pin exists: nothing to release on a bad dtype
        at::Tensor t = at::for_blob(data, sizes).context(new s_pin{pin, readonly != 0}, &s_pin_release)
                           .options(o).make_tensor();
        s_out(out, std::move(t));)
}

int rl_torch_released(uint64_t *pins, int max) {
  S_TRY_OR(-1, std::lock_guard<std::mutex> g(s_released_mu); int n = 0;
           while (n < max && !s_released.empty()) {
             pins[n++] = s_released.back();
             s_released.pop_back();
           } return n;)
}

uint64_t rl_torch_pin_of(const rl_tensor_t *t) {
  S_TRY_OR(0, const at::Tensor &x = s_t(t); if (!x.has_storage()) return 0;
           const c10::DataPtr &dp = x.storage().data_ptr();
           if (dp.get_deleter() != &s_pin_release || !x.is_contiguous() || x.storage_offset() != 0 ||
               x.nbytes() != x.storage().nbytes()) return 0;
           return static_cast<s_pin *>(dp.get_context())->id;)
}

// ---- shape and layout ----

int rl_torch_reshape(const rl_tensor_t *t, const int64_t *shape, int ndim, rl_tensor_t **out) {
  S_TRY(s_out(out, s_t(t).reshape(s_shape(shape, ndim)));)
}

int rl_torch_view(const rl_tensor_t *t, const int64_t *shape, int ndim, rl_tensor_t **out) {
  S_TRY(s_out(out, s_t(t).view(s_shape(shape, ndim)));)
}

int rl_torch_expand(const rl_tensor_t *t, const int64_t *shape, int ndim, rl_tensor_t **out) {
  S_TRY(s_out(out, s_t(t).expand(s_shape(shape, ndim)));)
}

int rl_torch_permute(const rl_tensor_t *t, const int64_t *dims, int ndim, rl_tensor_t **out) {
  S_TRY(s_out(out, s_t(t).permute(s_shape(dims, ndim)));)
}

int rl_torch_transpose(const rl_tensor_t *t, int64_t dim0, int64_t dim1, rl_tensor_t **out) {
  S_TRY(s_out(out, s_t(t).transpose(dim0, dim1));)
}

int rl_torch_squeeze(const rl_tensor_t *t, int all, int64_t dim, rl_tensor_t **out) {
  S_TRY(s_out(out, all ? s_t(t).squeeze() : s_t(t).squeeze(dim));)
}

int rl_torch_unsqueeze(const rl_tensor_t *t, int64_t dim, rl_tensor_t **out) {
  S_TRY(s_out(out, s_t(t).unsqueeze(dim));)
}

int rl_torch_flatten(const rl_tensor_t *t, int64_t start_dim, int64_t end_dim, rl_tensor_t **out) {
  S_TRY(s_out(out, s_t(t).flatten(start_dim, end_dim));)
}

int rl_torch_cat(rl_tensor_t *const *ts, int n, int64_t dim, rl_tensor_t **out) {
  S_TRY(s_out(out, at::cat(s_list(ts, n), dim));)
}

int rl_torch_stack(rl_tensor_t *const *ts, int n, int64_t dim, rl_tensor_t **out) {
  S_TRY(s_out(out, at::stack(s_list(ts, n), dim));)
}

int rl_torch_slice(const rl_tensor_t *t, int64_t dim, int64_t start, int64_t end, int64_t step, rl_tensor_t **out) {
  S_TRY(s_out(out, s_t(t).slice(dim, start, end, step));)
}

int rl_torch_narrow(const rl_tensor_t *t, int64_t dim, int64_t start, int64_t length, rl_tensor_t **out) {
  S_TRY(s_out(out, s_t(t).narrow(dim, start, length));)
}

int rl_torch_select(const rl_tensor_t *t, int64_t dim, int64_t index, rl_tensor_t **out) {
  S_TRY(s_out(out, s_t(t).select(dim, index));)
}

int rl_torch_index_select(const rl_tensor_t *t, int64_t dim, const rl_tensor_t *index, rl_tensor_t **out) {
  S_TRY(s_out(out, at::index_select(s_t(t), dim, s_t(index)));)
}

int rl_torch_gather(const rl_tensor_t *t, int64_t dim, const rl_tensor_t *index, rl_tensor_t **out) {
  S_TRY(s_out(out, at::gather(s_t(t), dim, s_t(index)));)
}

int rl_torch_scatter(const rl_tensor_t *t, int64_t dim, const rl_tensor_t *index, const rl_tensor_t *src,
                     rl_tensor_t **out) {
  S_TRY(s_out(out, at::scatter(s_t(t), dim, s_t(index), s_t(src)));)
}

int rl_torch_index(const rl_tensor_t *t, rl_tensor_t *const *indices, int n, rl_tensor_t **out) {
  S_TRY(s_out(out, at::index(s_t(t), s_indices(indices, n)));)
}

int rl_torch_index_put_(rl_tensor_t *t, rl_tensor_t *const *indices, int n, const rl_tensor_t *value) {
  S_TRY(s_writable(t).index_put_(s_indices(indices, n), s_t(value));)
}

int rl_torch_where(const rl_tensor_t *cond, const rl_tensor_t *a, const rl_tensor_t *b, rl_tensor_t **out) {
  S_TRY(s_out(out, at::where(s_t(cond), s_t(a), s_t(b)));)
}

int rl_torch_contiguous(const rl_tensor_t *t, rl_tensor_t **out) { S_TRY(s_out(out, s_t(t).contiguous());) }

int rl_torch_clone(const rl_tensor_t *t, rl_tensor_t **out) { S_TRY(s_out(out, s_t(t).clone());) }

int rl_torch_detach(const rl_tensor_t *t, rl_tensor_t **out) { S_TRY(s_out(out, s_t(t).detach());) }

int rl_torch_to_dtype(const rl_tensor_t *t, int dtype, rl_tensor_t **out) {
  S_TRY(s_out(out, s_t(t).to(s_type(dtype)));)
}

int rl_torch_alias(const rl_tensor_t *t, rl_tensor_t **out) { S_TRY(s_out(out, s_t(t));) }

// ---- math ----

int rl_torch_unary(int op, const rl_tensor_t *t, rl_tensor_t **out) { S_TRY(s_out(out, s_unary(op, s_t(t)));) }

int rl_torch_binary(int op, const rl_tensor_t *a, const rl_tensor_t *b, rl_tensor_t **out) {
  S_TRY(s_out(out, s_binary(op, s_t(a), s_t(b)));)
}

int rl_torch_binary_scalar(int op, const rl_tensor_t *t, double s, int scalar_first, rl_tensor_t **out) {
  S_TRY(s_out(out, s_binary_scalar(op, s_t(t), s, scalar_first != 0));)
}

int rl_torch_add_scaled(const rl_tensor_t *a, const rl_tensor_t *b, double alpha, rl_tensor_t **out) {
  S_TRY(s_out(out, at::add(s_t(a), s_t(b), s_number(alpha)));)
}

int rl_torch_clamp(const rl_tensor_t *t, int has_min, double min, int has_max, double max, rl_tensor_t **out) {
  S_TRY(c10::optional<at::Scalar> lo, hi; if (has_min) lo = s_number(min); if (has_max) hi = s_number(max);
        s_out(out, at::clamp(s_t(t), lo, hi));)
}

int rl_torch_softmax(const rl_tensor_t *t, int64_t dim, rl_tensor_t **out) {
  S_TRY(s_out(out, at::softmax(s_t(t), dim));)
}

int rl_torch_log_softmax(const rl_tensor_t *t, int64_t dim, rl_tensor_t **out) {
  S_TRY(s_out(out, at::log_softmax(s_t(t), dim));)
}

int rl_torch_matmul(const rl_tensor_t *a, const rl_tensor_t *b, rl_tensor_t **out) {
  S_TRY(s_out(out, at::matmul(s_t(a), s_t(b)));)
}

int rl_torch_linear(const rl_tensor_t *x, const rl_tensor_t *w, const rl_tensor_t *b, rl_tensor_t **out) {
  S_TRY(s_out(out, at::linear(s_t(x), s_t(w), s_opt(b)));)
}

int rl_torch_conv2d(const rl_tensor_t *x, const rl_tensor_t *w, const rl_tensor_t *b, const int64_t *stride,
                    const int64_t *padding, const int64_t *dilation, int64_t groups, rl_tensor_t **out) {
  S_TRY(s_out(out, at::conv2d(s_t(x), s_t(w), s_opt(b), s_shape(stride, 2), s_shape(padding, 2),
                              s_shape(dilation, 2), groups));)
}

int rl_torch_max_pool2d(const rl_tensor_t *x, const int64_t *kernel, const int64_t *stride,
                        const int64_t *padding, rl_tensor_t **out) {
  S_TRY(s_out(out, at::max_pool2d(s_t(x), s_shape(kernel, 2), s_shape(stride, 2), s_shape(padding, 2)));)
}

int rl_torch_reduce(int op, const rl_tensor_t *t, const int64_t *dims, int ndims, int keepdim, rl_tensor_t **out) {
  S_TRY(s_out(out, s_reduce(op, s_t(t), dims, ndims, keepdim != 0));)
}

int rl_torch_std(const rl_tensor_t *t, const int64_t *dims, int ndims, int unbiased, int keepdim, int var,
                 rl_tensor_t **out) {
  S_TRY(const at::Tensor &x = s_t(t); std::vector<int64_t> d = s_dims(x, dims, ndims);
        s_out(out, var ? at::var(x, at::OptionalIntArrayRef(d), unbiased != 0, keepdim != 0)
                       : at::std(x, at::OptionalIntArrayRef(d), unbiased != 0, keepdim != 0));)
}

int rl_torch_norm(const rl_tensor_t *t, double p, rl_tensor_t **out) { S_TRY(s_out(out, at::norm(s_t(t), p));) }

int rl_torch_max_dim(const rl_tensor_t *t, int64_t dim, int keepdim, int is_min, rl_tensor_t **values,
                     rl_tensor_t **indices) {
  S_TRY(auto r = is_min ? at::min(s_t(t), dim, keepdim != 0) : at::max(s_t(t), dim, keepdim != 0);
        std::unique_ptr<rl_tensor> v(new rl_tensor{std::get<0>(r)}); s_out(indices, std::get<1>(r));
        *values = v.release();)
}

int rl_torch_argmax(const rl_tensor_t *t, int has_dim, int64_t dim, int keepdim, int is_min, rl_tensor_t **out) {
  S_TRY(c10::optional<int64_t> d; if (has_dim) d = dim;
        s_out(out, is_min ? at::argmin(s_t(t), d, keepdim != 0) : at::argmax(s_t(t), d, keepdim != 0));)
}

int rl_torch_cumsum(const rl_tensor_t *t, int64_t dim, rl_tensor_t **out) {
  S_TRY(s_out(out, at::cumsum(s_t(t), dim));)
}

int rl_torch_loss(int op, const rl_tensor_t *input, const rl_tensor_t *target, int reduction, double beta,
                  rl_tensor_t **out) {
  S_TRY(s_out(out, s_loss(op, s_t(input), s_t(target), reduction, beta));)
}

int rl_torch_multinomial(const rl_tensor_t *probs, int64_t n, int replacement, rl_tensor_t **out) {
  S_TRY(s_out(out, at::multinomial(s_t(probs), n, replacement != 0));)
}

int rl_torch_one_hot(const rl_tensor_t *indices, int64_t n, rl_tensor_t **out) {
  S_TRY(s_out(out, at::one_hot(s_t(indices), n));)
}

// ---- in place ----

int rl_torch_scalar_(int op, rl_tensor_t *t, double s) {
  S_TRY(at::Tensor &x = s_writable(t); at::Scalar n = s_number(s); switch (op) {
    case RL_TORCH_ADD_: x.add_(n); break;
    case RL_TORCH_SUB_: x.sub_(n); break;
    case RL_TORCH_MUL_: x.mul_(n); break;
    case RL_TORCH_DIV_: x.div_(n); break;
    case RL_TORCH_POW_: x.pow_(n); break;
    case RL_TORCH_FILL_: x.fill_(n); break;
    case RL_TORCH_CLAMP_MIN_: x.clamp_min_(n); break;
    case RL_TORCH_CLAMP_MAX_: x.clamp_max_(n); break;
    default: throw s_arg_error("unknown in-place op " + std::to_string(op));
  })
}

int rl_torch_add_(rl_tensor_t *t, const rl_tensor_t *other, double alpha) {
  S_TRY(s_writable(t).add_(s_t(other), s_number(alpha));)
}

int rl_torch_sub_(rl_tensor_t *t, const rl_tensor_t *other, double alpha) {
  S_TRY(s_writable(t).sub_(s_t(other), s_number(alpha));)
}

int rl_torch_mul_(rl_tensor_t *t, const rl_tensor_t *other) { S_TRY(s_writable(t).mul_(s_t(other));) }

int rl_torch_div_(rl_tensor_t *t, const rl_tensor_t *other) { S_TRY(s_writable(t).div_(s_t(other));) }

int rl_torch_addcmul_(rl_tensor_t *t, const rl_tensor_t *a, const rl_tensor_t *b, double value) {
  S_TRY(s_writable(t).addcmul_(s_t(a), s_t(b), s_number(value));)
}

int rl_torch_addcdiv_(rl_tensor_t *t, const rl_tensor_t *a, const rl_tensor_t *b, double value) {
  S_TRY(s_writable(t).addcdiv_(s_t(a), s_t(b), s_number(value));)
}

int rl_torch_lerp_(rl_tensor_t *t, const rl_tensor_t *end, double weight) {
  S_TRY(s_writable(t).lerp_(s_t(end), weight);)
}

int rl_torch_copy_(rl_tensor_t *t, const rl_tensor_t *src) { S_TRY(s_writable(t).copy_(s_t(src));) }

int rl_torch_zero_(rl_tensor_t *t) { S_TRY(s_writable(t).zero_();) }

int rl_torch_uniform_(rl_tensor_t *t, double from, double to) {
  S_TRY(at::Tensor &x = s_writable(t); at::NoGradGuard g; x.uniform_(from, to);)
}

int rl_torch_normal_(rl_tensor_t *t, double mean, double std) {
  S_TRY(at::Tensor &x = s_writable(t); at::NoGradGuard g; x.normal_(mean, std);)
}

int rl_torch_orthogonal_(rl_tensor_t *t, double gain) { S_TRY(s_orthogonal(s_writable(t), gain);) }

int rl_torch_unary_(int op, rl_tensor_t *t) {
  S_TRY(at::Tensor &x = s_writable(t); x.copy_(s_unary(op, x));)
}

// ---- autograd ----

int rl_torch_set_requires_grad(rl_tensor_t *t, int requires_grad) {
  S_TRY(s_mt(t).set_requires_grad(requires_grad != 0);)
}

int rl_torch_backward(const rl_tensor_t *t, const rl_tensor_t *grad, int retain_graph) {
  S_TRY(c10::optional<bool> keep; if (retain_graph) keep = true;
        s_t(t).backward(grad ? grad->t : at::Tensor(), keep);)
}

int rl_torch_grad(const rl_tensor_t *t, rl_tensor_t **out) {
  S_TRY(const at::Tensor &x = s_t(t); const at::Tensor &g = x.is_leaf() || x.retains_grad() ? x.grad() : at::Tensor();
        if (g.defined()) s_out(out, g); else *out = nullptr;)
}

int rl_torch_set_grad(rl_tensor_t *t, const rl_tensor_t *grad) {
  S_TRY(s_mt(t).mutable_grad() = grad ? grad->t : at::Tensor();)
}

int rl_torch_retain_grad(rl_tensor_t *t) { S_TRY(s_mt(t).retain_grad();) }

// ---- files ----

int rl_torch_save(const char *path, const char *const *names, rl_tensor_t *const *tensors, int n) {
  S_TRY(if (!path || n < 0 || (n > 0 && (!names || !tensors))) throw s_arg_error("save: bad arguments");
        c10::Dict<std::string, at::Tensor> d; for (int i = 0; i < n; i++) {
          if (!names[i]) throw s_arg_error("save: a name is NULL");
          d.insert(names[i], s_t(tensors[i]));
        } s_write_file(path, torch::jit::pickle_save(c10::IValue(d)));)
}

int rl_torch_load(const char *path, rl_tensor_dict_t **out) {
  S_TRY(if (!path || !out) throw s_arg_error("load: bad arguments");
        c10::IValue v = torch::jit::pickle_load(s_read_file(path));
        if (!v.isGenericDict()) throw std::runtime_error(std::string(path) + " does not hold a dict of tensors");
        std::unique_ptr<rl_tensor_dict> d(new rl_tensor_dict); for (const auto &e : v.toGenericDict()) {
          if (!e.key().isString() || !e.value().isTensor())
            throw std::runtime_error(std::string(path) + " holds a dict entry that is not string: tensor");
          d->names.push_back(e.key().toStringRef());
          d->tensors.push_back(e.value().toTensor());
        } *out = d.release();)
}

int rl_torch_dict_size(const rl_tensor_dict_t *d) { S_TRY_OR(-1, return d ? (int)d->names.size() : -1;) }

int rl_torch_dict_item(const rl_tensor_dict_t *d, int i, const char **name, rl_tensor_t **out) {
  S_TRY(if (!d || i < 0 || (size_t)i >= d->names.size()) throw s_arg_error("dict_item: index out of range");
        s_out(out, d->tensors[(size_t)i]); *name = d->names[(size_t)i].c_str();)
}

void rl_torch_dict_free(rl_tensor_dict_t *d) { delete d; }

// ---- libtorch's errors without C++ backtraces ----

namespace {

// A c10::Error collects a backtrace when it is made; from a call that LuaJIT compiled,
// the unwinder meets machine code without unwind tables and aborts the process. rayl
// reports libtorch's message without the backtrace, so none is collected.
const bool s_no_backtraces = (c10::SetStackTraceFetcher([] { return std::string(); }), true);

}  // namespace

// ---- optimizer steps ----

namespace {

// The state tensor i of an optimizer: writable and of its parameter's shape.
at::Tensor &s_state(rl_tensor_t *const *list, int i, const at::Tensor &p, const char *what) {
  if (!list || !list[i]) throw s_arg_error(std::string("adam_step: ") + what + " " + std::to_string(i) + " is NULL");
  at::Tensor &t = s_writable(list[i]);
  if (!t.sizes().equals(p.sizes()))
    throw s_arg_error(std::string("adam_step: ") + what + " " + std::to_string(i) + " does not have its parameter's shape");
  return t;
}

void s_adam_param(at::Tensor &p, at::Tensor &m, at::Tensor &v, at::Tensor *mx, int64_t step, double lr, double b1,
                  double b2, double eps, double wd, int flags) {
  at::Tensor g = p.grad();
  if (flags & RL_TORCH_ADAM_MAXIMIZE) g = -g;
  if (wd != 0) {
    if (flags & RL_TORCH_ADAM_DECOUPLED) p.mul_(1 - lr * wd);
    else g = g.add(p, wd);
  }
  m.lerp_(g, 1 - b1);
  v.mul_(b2).addcmul_(g, g, 1 - b2);
  double bc1 = 1 - std::pow(b1, (double)step), bc2 = 1 - std::pow(b2, (double)step);
  const at::Tensor *vv = &v;
  if (mx) {
    at::maximum_out(*mx, *mx, v);
    vv = mx;
  }
  at::Tensor denom = (vv->sqrt() / std::sqrt(bc2)).add_(eps);
  p.addcdiv_(m, denom, -lr / bc1);
}

}  // namespace

int rl_torch_adam_step(rl_tensor_t *const *params, rl_tensor_t *const *exp_avg, rl_tensor_t *const *exp_avg_sq,
                       rl_tensor_t *const *max_exp_avg_sq, int64_t *steps, int n, double lr, double beta1,
                       double beta2, double eps, double weight_decay, int flags) {
  S_TRY(if (n < 0 || (n > 0 && (!params || !steps))) throw s_arg_error("adam_step: bad arguments");
        bool ams = flags & RL_TORCH_ADAM_AMSGRAD; at::NoGradGuard no_grad;
        // Every argument is checked before any parameter changes.
        for (int i = 0; i < n; i++) {
          at::Tensor &p = s_writable(params[i]);
          if (!p.grad().defined()) continue;
          if (!p.grad().sizes().equals(p.sizes())) throw s_arg_error("adam_step: a gradient's shape differs from its parameter's");
          s_state(exp_avg, i, p, "exp_avg");
          s_state(exp_avg_sq, i, p, "exp_avg_sq");
          if (ams) s_state(max_exp_avg_sq, i, p, "max_exp_avg_sq");
        } for (int i = 0; i < n; i++) {
          at::Tensor &p = s_mt(params[i]);
          if (!p.grad().defined()) continue;
          s_adam_param(p, s_mt(exp_avg[i]), s_mt(exp_avg_sq[i]), ams ? &s_mt(max_exp_avg_sq[i]) : nullptr, ++steps[i], lr,
                       beta1, beta2, eps, weight_decay, flags);
        })
}

namespace {

// One Adam step from C against the rule by hand; a wrong state shape changes nothing.
void s_adam_selftest() {
  int64_t two = 2;
  double pv[] = {1, -2}, gv[] = {0.5, -1};
  rl_tensor_t *p = nullptr, *q = nullptr, *g = nullptr, *m = nullptr, *v = nullptr, *bad = nullptr;
  bool ok = rl_torch_from_blob(pv, &two, 1, RL_TORCH_FLOAT64, 21, 0, &p) == 0 &&
            rl_torch_from_blob(gv, &two, 1, RL_TORCH_FLOAT64, 22, 1, &g) == 0 &&
            rl_torch_full(&two, 1, 0, RL_TORCH_FLOAT64, &m) == 0 && rl_torch_full(&two, 1, 0, RL_TORCH_FLOAT64, &v) == 0 &&
            rl_torch_full(&two, 1, 3, RL_TORCH_FLOAT64, &q) == 0 && rl_torch_full(&two, 0, 0, RL_TORCH_FLOAT64, &bad) == 0 &&
            rl_torch_set_grad(p, g) == 0;
  if (!ok) throw std::runtime_error(std::string("selftest: adam set-up: ") + s_err);
  rl_tensor_t *ps[] = {p, q}, *ms[] = {m, m}, *vs[] = {v, v}, *badv[] = {bad, v};
  int64_t steps[] = {0, 0};
  // p -= lr * m_hat / (sqrt(v_hat) + eps) with m_hat = g, sqrt(v_hat) = |g| after one step; q has no grad.
  if (rl_torch_adam_step(ps, badv, vs, nullptr, steps, 2, 0.1, 0.9, 0.999, 1e-8, 0, 0) != RL_TORCH_EARG || pv[0] != 1 ||
      steps[0] != 0)
    throw std::runtime_error("selftest: adam_step with a wrong state shape changed something");
  if (rl_torch_adam_step(ps, ms, vs, nullptr, steps, 2, 0.1, 0.9, 0.999, 1e-8, 0, 0) != 0)
    throw std::runtime_error("selftest: adam_step: " + s_err);
  if (std::fabs(pv[0] - 0.9) > 1e-6 || std::fabs(pv[1] + 1.9) > 1e-6 || steps[0] != 1 || steps[1] != 0)
    throw std::runtime_error("selftest: adam_step's update differs from Adam's rule");
  for (rl_tensor_t *t : {p, q, g, m, v, bad}) rl_torch_free(t);
  uint64_t pins[4];
  rl_torch_released(pins, 4);
}

}  // namespace

// ---- selftest ----

namespace {

void s_check(bool ok, const char *what) {
  if (!ok) throw std::runtime_error(std::string("selftest: ") + what);
}

void s_selftest() {
  // matmul against a hand-computed product.
  float a[] = {1, 2, 3, 4}, b[] = {5, 6, 7, 8};
  int64_t sh[] = {2, 2};
  rl_tensor_t *ta = nullptr, *tb = nullptr, *tc = nullptr;
  s_check(rl_torch_from_blob(a, sh, 2, RL_TORCH_FLOAT32, 11, 0, &ta) == 0, "from_blob");
  s_check(rl_torch_from_blob(b, sh, 2, RL_TORCH_FLOAT32, 12, 1, &tb) == 0, "from_blob readonly");
  s_check(rl_torch_matmul(ta, tb, &tc) == 0, "matmul");
  const float *c = static_cast<const float *>(rl_torch_data(tc));
  s_check(c[0] == 19 && c[1] == 22 && c[2] == 43 && c[3] == 50, "matmul values");
  // A bad shape is an error code and libtorch's message, not an exception.
  rl_tensor_t *bad = nullptr, *row = nullptr;
  int64_t rs[] = {1, 3};
  s_check(rl_torch_full(rs, 2, 1.0, RL_TORCH_FLOAT32, &row) == 0, "full");
  s_check(rl_torch_matmul(tb, row, &bad) == RL_TORCH_ETORCH && bad == nullptr, "bad matmul fails");
  s_check(strstr(rl_torch_last_error(), "cannot be multiplied") != nullptr, "bad matmul message");
  // Read-only memory refuses in-place changes, writable memory takes them.
  s_check(rl_torch_scalar_(RL_TORCH_ADD_, tb, 1) == RL_TORCH_EARG && b[0] == 5, "read-only refused");
  s_check(rl_torch_scalar_(RL_TORCH_ADD_, ta, 1) == 0 && a[0] == 2, "writable changed");
  // Pins come back once no tensor uses the memory (views included).
  rl_tensor_t *view = nullptr;
  s_check(rl_torch_select(ta, 0, 1, &view) == 0, "select");
  s_check(rl_torch_pin_of(ta) == 11 && rl_torch_pin_of(view) == 0 && rl_torch_pin_of(tc) == 0, "pin_of");
  s_check(rl_torch_free(ta) == 0, "a's view keeps its memory");
  s_check(rl_torch_free(tb) == 1, "b's memory released");
  uint64_t pins[4];
  s_check(rl_torch_released(pins, 4) == 1 && pins[0] == 12, "pin of b released");
  s_check(rl_torch_new_bytes(view) == 0 && rl_torch_new_bytes(tc) == 16, "new bytes");
  rl_torch_free(view);
  s_check(rl_torch_released(pins, 4) == 1 && pins[0] == 11, "pin of a released with its last view");
  // d(sum(x^2))/dx = 2x.
  rl_tensor_t *x = nullptr, *y = nullptr, *s = nullptr, *g = nullptr;
  s_check(rl_torch_arange(1, 4, 1, RL_TORCH_FLOAT64, &x) == 0, "arange");
  s_check(rl_torch_set_requires_grad(x, 1) == 0, "requires_grad");
  s_check(rl_torch_binary_scalar(RL_TORCH_POW, x, 2, 0, &y) == 0, "pow");
  s_check(rl_torch_reduce(RL_TORCH_SUM, y, nullptr, 0, 0, &s) == 0, "sum");
  s_check(rl_torch_backward(s, nullptr, 0) == 0, "backward");
  s_check(rl_torch_grad(x, &g) == 0 && g, "grad");
  const double *gd = static_cast<const double *>(rl_torch_data(g));
  s_check(gd[0] == 2 && gd[1] == 4 && gd[2] == 6, "grad values");
  for (rl_tensor_t *p : {tc, row, y, s, g}) rl_torch_free(p);
  rl_tensor_ref_t ref = {x};
  rl_torch_release(&ref);
  s_check(ref.h == nullptr, "release clears the box");
  rl_torch_release(&ref); // safe twice
}

}  // namespace

int rl_torch_selftest(void) { S_TRY(s_selftest(); s_adam_selftest();) }
