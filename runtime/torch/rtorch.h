/* rtorch.h: rayl's C interface to libtorch (librayl_torch.so): opaque tensor handles,
 * int return codes and a per-thread last error; no C++ exception ever crosses it. */
#ifndef RL_RTORCH_H
#define RL_RTORCH_H
#include <stddef.h>
#include <stdint.h>

/* Conventions (every function below):
 * - A function returning int returns 0 on success and an RL_TORCH_E* code on failure;
 *   rl_torch_last_error() then says why, in libtorch's words (e.g. "mat1 and mat2
 *   shapes cannot be multiplied (2x3 and 2x2)").
 * - rl_tensor_t **out receives a new handle the caller owns (rl_torch_free); it is left
 *   untouched on failure.
 * - Tensor arguments are borrowed; an argument documented "or NULL" may be NULL.
 * - Dimensions are 0-based as in PyTorch; a negative dim counts from the end.
 * - Shapes are int64_t arrays of ndim sizes (ndim <= RL_TORCH_MAXDIM).
 * - In-place functions (name ending in _) fail on a read-only tensor (one made by
 *   rl_torch_from_blob with readonly set, or a view of it): clone it first.
 * The Lua binding (lua/rayl/torch) reads the declarations between the FFI markers,
 * with preprocessor lines dropped: keep them plain C. */

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)
/* FFI-BEGIN */
typedef struct rl_tensor rl_tensor_t;
typedef struct rl_tensor_dict rl_tensor_dict_t;
/* A handle in a struct: what a garbage-collected binding boxes (rl_torch_release frees it). */
typedef struct rl_tensor_ref { rl_tensor_t *h; } rl_tensor_ref_t;

enum { RL_TORCH_MAXDIM = 16 };
/* Return codes. */
enum { RL_TORCH_OK = 0, RL_TORCH_ETORCH = 1, RL_TORCH_ESTD = 2, RL_TORCH_EUNKNOWN = 3, RL_TORCH_EARG = 4 };
/* Element types. 1-5 are rayl.array's dtype numbers (host/array.h); never renumber. */
enum {
  RL_TORCH_FLOAT32 = 1, RL_TORCH_FLOAT64 = 2, RL_TORCH_INT32 = 3, RL_TORCH_INT64 = 4,
  RL_TORCH_UINT8 = 5, RL_TORCH_BOOL = 6
};
/* rl_torch_unary ops. */
enum {
  RL_TORCH_NEG, RL_TORCH_ABS, RL_TORCH_EXP, RL_TORCH_LOG, RL_TORCH_SQRT, RL_TORCH_RSQRT,
  RL_TORCH_TANH, RL_TORCH_SIGMOID, RL_TORCH_RELU, RL_TORCH_SIN, RL_TORCH_COS, RL_TORCH_FLOOR,
  RL_TORCH_CEIL, RL_TORCH_ROUND, RL_TORCH_SIGN, RL_TORCH_RECIPROCAL, RL_TORCH_LOG1P,
  RL_TORCH_EXPM1, RL_TORCH_SQUARE, RL_TORCH_LOGICAL_NOT, RL_TORCH_SOFTPLUS, RL_TORCH_ELU,
  RL_TORCH_GELU, RL_TORCH_SILU, RL_TORCH_LOG2, RL_TORCH_ERF, RL_TORCH_TRUNC, RL_TORCH_UNARY_N
};
/* rl_torch_binary and rl_torch_binary_scalar ops. */
enum {
  RL_TORCH_ADD, RL_TORCH_SUB, RL_TORCH_MUL, RL_TORCH_DIV, RL_TORCH_POW, RL_TORCH_REMAINDER,
  RL_TORCH_FLOOR_DIVIDE, RL_TORCH_MAXIMUM, RL_TORCH_MINIMUM, RL_TORCH_ATAN2, RL_TORCH_EQ,
  RL_TORCH_NE, RL_TORCH_LT, RL_TORCH_LE, RL_TORCH_GT, RL_TORCH_GE, RL_TORCH_LOGICAL_AND,
  RL_TORCH_LOGICAL_OR, RL_TORCH_LOGICAL_XOR, RL_TORCH_BINARY_N
};
/* rl_torch_reduce ops. */
enum {
  RL_TORCH_SUM, RL_TORCH_MEAN, RL_TORCH_PROD, RL_TORCH_AMAX, RL_TORCH_AMIN, RL_TORCH_LOGSUMEXP,
  RL_TORCH_ANY, RL_TORCH_ALL, RL_TORCH_REDUCE_N
};
/* rl_torch_loss ops and reductions. */
enum {
  RL_TORCH_MSE_LOSS, RL_TORCH_L1_LOSS, RL_TORCH_SMOOTH_L1_LOSS, RL_TORCH_HUBER_LOSS,
  RL_TORCH_CROSS_ENTROPY, RL_TORCH_NLL_LOSS, RL_TORCH_BCE_WITH_LOGITS, RL_TORCH_LOSS_N
};
enum { RL_TORCH_REDUCE_NONE = 0, RL_TORCH_REDUCE_MEAN = 1, RL_TORCH_REDUCE_SUM = 2 };
/* rl_torch_scalar_ (in place, with a number) ops. */
enum {
  RL_TORCH_ADD_, RL_TORCH_SUB_, RL_TORCH_MUL_, RL_TORCH_DIV_, RL_TORCH_POW_, RL_TORCH_FILL_,
  RL_TORCH_CLAMP_MIN_, RL_TORCH_CLAMP_MAX_, RL_TORCH_SCALAR_N_
};

/* ---- errors, library ---- */
/* Why the last failing call on this thread failed ("" if none did). Borrowed: valid
 * until this thread's next failing call. */
const char *rl_torch_last_error(void);
/* libtorch's version, e.g. "1.13.1". */
const char *rl_torch_version(void);
/* Runs the shim's own checks; 0 when all pass (else the failure is the last error). */
int rl_torch_selftest(void);
/* Threads for intra-op parallelism: libtorch's pool and, when the BLAS is OpenBLAS,
 * OpenBLAS's (which libtorch does not control). n >= 1. */
int rl_torch_set_num_threads(int n);
int rl_torch_get_num_threads(void);
/* OpenBLAS's thread count, or 0 when libtorch's BLAS is not OpenBLAS. */
int rl_torch_blas_threads(void);
/* Seeds libtorch's default CPU generator. */
int rl_torch_manual_seed(uint64_t seed);
/* Turns gradient recording on this thread on or off; returns the previous setting. */
int rl_torch_set_grad_enabled(int enabled);
int rl_torch_is_grad_enabled(void);

/* ---- handles and what they hold (these cannot fail for a valid handle) ---- */
/* Frees a handle (NULL is fine). The data lives on while other tensors share it.
 * Returns 1 when this freed memory lent by rl_torch_from_blob (rl_torch_released has
 * pins to give back), else 0. */
int rl_torch_free(rl_tensor_t *t);
/* Frees ref->h and sets it NULL (safe twice): a finalizer for boxed handles. */
void rl_torch_release(rl_tensor_ref_t *ref);
/* The bytes of t's elements when t is not a view of another tensor's data, else 0: what
 * a garbage-collected caller counts to know when to collect dropped handles. */
double rl_torch_new_bytes(const rl_tensor_t *t);
int rl_torch_dim(const rl_tensor_t *t);
/* Its RL_TORCH_* dtype, or 0 for a type rayl does not name (e.g. float16). */
int rl_torch_dtype(const rl_tensor_t *t);
int64_t rl_torch_numel(const rl_tensor_t *t);
/* Writes dim sizes (strides, in elements) to out; returns dim. */
int rl_torch_sizes(const rl_tensor_t *t, int64_t *out);
int rl_torch_strides(const rl_tensor_t *t, int64_t *out);
/* The address of its first element (NULL when it has none). */
void *rl_torch_data(const rl_tensor_t *t);
int rl_torch_is_contiguous(const rl_tensor_t *t);
int rl_torch_requires_grad(const rl_tensor_t *t);
int rl_torch_is_leaf(const rl_tensor_t *t);
/* 1 if in-place changes are refused (see rl_torch_from_blob). */
int rl_torch_is_readonly(const rl_tensor_t *t);
/* 1 if both share the same storage (views of one another, or the same data). */
int rl_torch_same_storage(const rl_tensor_t *a, const rl_tensor_t *b);
/* The one element's value (fails unless numel is 1). */
int rl_torch_item(const rl_tensor_t *t, double *out);
/* 1 if same shape and elements (at::equal); fails on different dtypes. */
int rl_torch_equal(const rl_tensor_t *a, const rl_tensor_t *b, int *out);
/* 1 if |a - b| <= atol + rtol * |b| everywhere (at::allclose). */
int rl_torch_allclose(const rl_tensor_t *a, const rl_tensor_t *b, double rtol, double atol, int *out);

/* ---- creation ---- */
int rl_torch_empty(const int64_t *shape, int ndim, int dtype, rl_tensor_t **out);
int rl_torch_full(const int64_t *shape, int ndim, double value, int dtype, rl_tensor_t **out);
/* A 0-dim tensor holding value. */
int rl_torch_scalar(double value, int dtype, rl_tensor_t **out);
/* [start, end) by step. */
int rl_torch_arange(double start, double end, double step, int dtype, rl_tensor_t **out);
/* steps values from start to end inclusive. */
int rl_torch_linspace(double start, double end, int64_t steps, int dtype, rl_tensor_t **out);
/* Uniform in [0, 1), standard normal, integers in [low, high). */
int rl_torch_rand(const int64_t *shape, int ndim, int dtype, rl_tensor_t **out);
int rl_torch_randn(const int64_t *shape, int ndim, int dtype, rl_tensor_t **out);
int rl_torch_randint(int64_t low, int64_t high, const int64_t *shape, int ndim, int dtype, rl_tensor_t **out);
/* A contiguous tensor over memory the caller keeps alive (no copy). When the last
 * tensor using it goes, `pin` is queued for rl_torch_released, which tells the caller
 * it may let the memory go. readonly: in-place changes fail (shared memory). */
int rl_torch_from_blob(void *data, const int64_t *shape, int ndim, int dtype, uint64_t pin, int readonly,
                       rl_tensor_t **out);
/* Takes up to max pins whose memory no tensor uses any more; returns how many. */
int rl_torch_released(uint64_t *pins, int max);
/* The pin of the memory under t when t is exactly that memory (made by
 * rl_torch_from_blob, or a contiguous view of all of it), else 0. */
uint64_t rl_torch_pin_of(const rl_tensor_t *t);

/* ---- shape and layout (views share memory with their input) ---- */
int rl_torch_reshape(const rl_tensor_t *t, const int64_t *shape, int ndim, rl_tensor_t **out);
int rl_torch_view(const rl_tensor_t *t, const int64_t *shape, int ndim, rl_tensor_t **out);
int rl_torch_expand(const rl_tensor_t *t, const int64_t *shape, int ndim, rl_tensor_t **out);
int rl_torch_permute(const rl_tensor_t *t, const int64_t *dims, int ndim, rl_tensor_t **out);
int rl_torch_transpose(const rl_tensor_t *t, int64_t dim0, int64_t dim1, rl_tensor_t **out);
/* all: drop every size-1 dim; else only dim (if its size is 1). */
int rl_torch_squeeze(const rl_tensor_t *t, int all, int64_t dim, rl_tensor_t **out);
int rl_torch_unsqueeze(const rl_tensor_t *t, int64_t dim, rl_tensor_t **out);
int rl_torch_flatten(const rl_tensor_t *t, int64_t start_dim, int64_t end_dim, rl_tensor_t **out);
int rl_torch_cat(rl_tensor_t *const *ts, int n, int64_t dim, rl_tensor_t **out);
int rl_torch_stack(rl_tensor_t *const *ts, int n, int64_t dim, rl_tensor_t **out);
/* Elements start, start+step, ... below end along dim (Python's t[start:end:step]);
 * start and end are clamped to the size, negative ones count from the end. */
int rl_torch_slice(const rl_tensor_t *t, int64_t dim, int64_t start, int64_t end, int64_t step,
                   rl_tensor_t **out);
int rl_torch_narrow(const rl_tensor_t *t, int64_t dim, int64_t start, int64_t length, rl_tensor_t **out);
/* The slice at index along dim (that dim removed). */
int rl_torch_select(const rl_tensor_t *t, int64_t dim, int64_t index, rl_tensor_t **out);
int rl_torch_index_select(const rl_tensor_t *t, int64_t dim, const rl_tensor_t *index, rl_tensor_t **out);
int rl_torch_gather(const rl_tensor_t *t, int64_t dim, const rl_tensor_t *index, rl_tensor_t **out);
/* out = t with src's values written at index along dim (at::scatter). */
int rl_torch_scatter(const rl_tensor_t *t, int64_t dim, const rl_tensor_t *index, const rl_tensor_t *src,
                     rl_tensor_t **out);
/* Advanced indexing t[i1, i2, ...] with index tensors (int64 or bool masks); a NULL
 * entry takes the whole dim. */
int rl_torch_index(const rl_tensor_t *t, rl_tensor_t *const *indices, int n, rl_tensor_t **out);
/* t[i1, ...] = value in place (value broadcasts). */
int rl_torch_index_put_(rl_tensor_t *t, rl_tensor_t *const *indices, int n, const rl_tensor_t *value);
/* cond ? a : b, elementwise with broadcasting. */
int rl_torch_where(const rl_tensor_t *cond, const rl_tensor_t *a, const rl_tensor_t *b, rl_tensor_t **out);
int rl_torch_contiguous(const rl_tensor_t *t, rl_tensor_t **out);
int rl_torch_clone(const rl_tensor_t *t, rl_tensor_t **out);
/* The same data, out of the autograd graph. */
int rl_torch_detach(const rl_tensor_t *t, rl_tensor_t **out);
int rl_torch_to_dtype(const rl_tensor_t *t, int dtype, rl_tensor_t **out);
/* A new handle to the same tensor (shares everything, autograd included). */
int rl_torch_alias(const rl_tensor_t *t, rl_tensor_t **out);

/* ---- math (broadcasting and type promotion as in PyTorch) ---- */
int rl_torch_unary(int op, const rl_tensor_t *t, rl_tensor_t **out);
int rl_torch_binary(int op, const rl_tensor_t *a, const rl_tensor_t *b, rl_tensor_t **out);
/* op with a number s as a Python scalar would be (an integral s keeps integer tensors
 * integer; a fractional one promotes them to float32); scalar_first: s op t. */
int rl_torch_binary_scalar(int op, const rl_tensor_t *t, double s, int scalar_first, rl_tensor_t **out);
/* a + alpha * b. */
int rl_torch_add_scaled(const rl_tensor_t *a, const rl_tensor_t *b, double alpha, rl_tensor_t **out);
/* Bounds absent when has_min / has_max is 0. */
int rl_torch_clamp(const rl_tensor_t *t, int has_min, double min, int has_max, double max, rl_tensor_t **out);
int rl_torch_softmax(const rl_tensor_t *t, int64_t dim, rl_tensor_t **out);
int rl_torch_log_softmax(const rl_tensor_t *t, int64_t dim, rl_tensor_t **out);
int rl_torch_matmul(const rl_tensor_t *a, const rl_tensor_t *b, rl_tensor_t **out);
/* x @ w^T + b; b or NULL. */
int rl_torch_linear(const rl_tensor_t *x, const rl_tensor_t *w, const rl_tensor_t *b, rl_tensor_t **out);
/* 2-d convolution, NCHW; b or NULL; stride, padding, dilation: {h, w}. */
int rl_torch_conv2d(const rl_tensor_t *x, const rl_tensor_t *w, const rl_tensor_t *b, const int64_t *stride,
                    const int64_t *padding, const int64_t *dilation, int64_t groups, rl_tensor_t **out);
/* 2-d max pooling, NCHW; kernel, stride, padding: {h, w}. */
int rl_torch_max_pool2d(const rl_tensor_t *x, const int64_t *kernel, const int64_t *stride,
                        const int64_t *padding, rl_tensor_t **out);
/* Reduce over the ndims dims listed (all dims when ndims is 0); keepdim keeps them as
 * size 1. */
int rl_torch_reduce(int op, const rl_tensor_t *t, const int64_t *dims, int ndims, int keepdim, rl_tensor_t **out);
/* Standard deviation (var: variance) with Bessel's correction when unbiased. */
int rl_torch_std(const rl_tensor_t *t, const int64_t *dims, int ndims, int unbiased, int keepdim, int var,
                 rl_tensor_t **out);
/* p-norm of all elements. */
int rl_torch_norm(const rl_tensor_t *t, double p, rl_tensor_t **out);
/* Largest (smallest when is_min) values along dim and their int64 indices. */
int rl_torch_max_dim(const rl_tensor_t *t, int64_t dim, int keepdim, int is_min, rl_tensor_t **values,
                     rl_tensor_t **indices);
/* Index of the largest (smallest when is_min) element: flat when has_dim is 0. */
int rl_torch_argmax(const rl_tensor_t *t, int has_dim, int64_t dim, int keepdim, int is_min, rl_tensor_t **out);
int rl_torch_cumsum(const rl_tensor_t *t, int64_t dim, rl_tensor_t **out);
/* Losses (input, target as at::*_loss take them); beta: smooth_l1's beta, huber's delta. */
int rl_torch_loss(int op, const rl_tensor_t *input, const rl_tensor_t *target, int reduction, double beta,
                  rl_tensor_t **out);
/* n samples from each row of probs (int64 indices). */
int rl_torch_multinomial(const rl_tensor_t *probs, int64_t n, int replacement, rl_tensor_t **out);
/* Rows of eye(n) picked by the int64 indices: one-hot along a new last dim. */
int rl_torch_one_hot(const rl_tensor_t *indices, int64_t n, rl_tensor_t **out);

/* ---- in place (for optimizers and initialisation; they bump autograd's version) ---- */
int rl_torch_scalar_(int op, rl_tensor_t *t, double s);
/* t += alpha * other */
int rl_torch_add_(rl_tensor_t *t, const rl_tensor_t *other, double alpha);
int rl_torch_sub_(rl_tensor_t *t, const rl_tensor_t *other, double alpha);
int rl_torch_mul_(rl_tensor_t *t, const rl_tensor_t *other);
int rl_torch_div_(rl_tensor_t *t, const rl_tensor_t *other);
/* t += value * a * b;  t += value * a / b */
int rl_torch_addcmul_(rl_tensor_t *t, const rl_tensor_t *a, const rl_tensor_t *b, double value);
int rl_torch_addcdiv_(rl_tensor_t *t, const rl_tensor_t *a, const rl_tensor_t *b, double value);
/* t = t + weight * (end - t) */
int rl_torch_lerp_(rl_tensor_t *t, const rl_tensor_t *end, double weight);
int rl_torch_copy_(rl_tensor_t *t, const rl_tensor_t *src);
int rl_torch_zero_(rl_tensor_t *t);
int rl_torch_uniform_(rl_tensor_t *t, double from, double to);
int rl_torch_normal_(rl_tensor_t *t, double mean, double std);
/* A (semi-)orthogonal matrix over t's first dim and the rest flattened, times gain
 * (torch.nn.init.orthogonal_). */
int rl_torch_orthogonal_(rl_tensor_t *t, double gain);
int rl_torch_unary_(int op, rl_tensor_t *t);

/* ---- autograd ---- */
int rl_torch_set_requires_grad(rl_tensor_t *t, int requires_grad);
/* Accumulates d(t)/d(leaves) into the leaves' grads. grad: d(loss)/d(t), or NULL when t
 * has one element. retain_graph: keep the graph for another backward. */
int rl_torch_backward(const rl_tensor_t *t, const rl_tensor_t *grad, int retain_graph);
/* Its accumulated gradient in *out, or NULL when it has none. */
int rl_torch_grad(const rl_tensor_t *t, rl_tensor_t **out);
/* Replaces its gradient (grad or NULL: none). */
int rl_torch_set_grad(rl_tensor_t *t, const rl_tensor_t *grad);
/* Keeps the gradient of a non-leaf tensor on the next backward. */
int rl_torch_retain_grad(rl_tensor_t *t);

/* ---- files (torch.save's format: torch.load in Python and torch::pickle_load read them) ---- */
/* Saves a dict {names[i]: tensors[i]}. */
int rl_torch_save(const char *path, const char *const *names, rl_tensor_t *const *tensors, int n);
/* Loads a file saved by rl_torch_save or torch.save({str: tensor}) in Python. */
int rl_torch_load(const char *path, rl_tensor_dict_t **out);
int rl_torch_dict_size(const rl_tensor_dict_t *d);
/* Entry i (0-based): its name (borrowed from d) and a new handle to its tensor. */
int rl_torch_dict_item(const rl_tensor_dict_t *d, int i, const char **name, rl_tensor_t **out);
void rl_torch_dict_free(rl_tensor_dict_t *d);

/* ---- optimizer steps (rayl.torch.optim: one call updates a whole parameter group) ---- */
enum { RL_TORCH_ADAM_AMSGRAD = 1, RL_TORCH_ADAM_MAXIMIZE = 2, RL_TORCH_ADAM_DECOUPLED = 4 };
/* One Adam step of n parameters by PyTorch's rule, without recording gradients: for each
 * params[i] that has a gradient g: g += weight_decay * p (DECOUPLED, AdamW's: p *= 1 -
 * lr * weight_decay instead); steps[i] += 1; exp_avg[i] lerps to g by 1 - beta1;
 * exp_avg_sq[i] = beta2 * it + (1 - beta2) * g^2 (AMSGRAD: max_exp_avg_sq[i] keeps its
 * running maximum and replaces it below); p -= lr / (1 - beta1^step) * exp_avg /
 * (sqrt(exp_avg_sq) / sqrt(1 - beta2^step) + eps). MAXIMIZE: g is negated. Parameters
 * without a gradient are left alone (their step too). max_exp_avg_sq may be NULL unless
 * AMSGRAD. Nothing changes when an argument is wrong (shapes, read-only tensors). */
int rl_torch_adam_step(rl_tensor_t *const *params, rl_tensor_t *const *exp_avg, rl_tensor_t *const *exp_avg_sq,
                       rl_tensor_t *const *max_exp_avg_sq, int64_t *steps, int n, double lr, double beta1,
                       double beta2, double eps, double weight_decay, int flags);
/* FFI-END */
#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
