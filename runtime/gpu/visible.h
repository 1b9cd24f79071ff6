/* visible.h: the GPU devices a worker may use, as its environment says them. */
#ifndef RL_GPU_VISIBLE_H
#define RL_GPU_VISIBLE_H

/* Sets this process's CUDA_VISIBLE_DEVICES to ids ("0,1", as the node manager assigned
 * them) and RAYL_GPU_IDS (what rayl.get_gpu_ids() returns) to the same; for no ids
 * (""), CUDA_VISIBLE_DEVICES is set empty (no device is visible, as Ray does for tasks
 * without GPUs) and RAYL_GPU_IDS is removed. Call it in a new worker before its code
 * runs, and before anything there initializes CUDA. */
void rl_gpu_env_set(const char *ids);

#endif
