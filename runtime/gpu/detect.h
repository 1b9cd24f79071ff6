/* detect.h: how many GPUs this machine has, asked of the CUDA driver (libcuda.so.1,
 * loaded at run time; rayl never links it). */
#ifndef RL_GPU_DETECT_H
#define RL_GPU_DETECT_H
#include <stddef.h>

/* Loads libcuda.so.1 and asks it: cuInit(0), then cuDeviceGetCount. Returns the number
 * of devices (those CUDA_VISIBLE_DEVICES lets this process see), or 0 with a one-line
 * reason in why: no driver (the library cannot be loaded), the toolkit's stub in its
 * place (cuInit returns 34), no device (100), or another driver error. why is "" when
 * GPUs were found. Never fails otherwise; call it before starting threads (the driver
 * stays loaded). */
int rl_gpu_detect(char *why, size_t whylen);

#endif
