template <typename T> __device__ T sq(T v) { return v * v; }
// __global__ void k(int x)
/* __global__ void k(char c) */
extern "C" __global__ void __launch_bounds__(256) k(unsigned char *p, short s, unsigned long long u, void *v, float2 f, int **pp) { }
