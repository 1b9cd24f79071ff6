extern "C" __global__ void k(float *x, const float *y, int n, double a) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] = a * y[i];
}
