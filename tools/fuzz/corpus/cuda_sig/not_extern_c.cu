__global__ void k(signed char a, unsigned short b, long c, unsigned d, const double *const e)
{
}
