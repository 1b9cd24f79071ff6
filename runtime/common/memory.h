/* memory.h: the memory limit a process runs under, and the kernel's out-of-memory kill count. */
#ifndef RL_MEMORY_H
#define RL_MEMORY_H
#include <stddef.h>
#include <stdint.h>

/* The number after `key` on a line "key N" of text (memory.events, memory.oom_control,
 * /proc/vmstat), or -1 if no such line. Can't fail otherwise. */
int64_t rl_mem_counter(const char *text, const char *key);

/* From the text of /proc/self/cgroup, the folder of this process's memory cgroup:
 * returns 1 for cgroup v1 ("N:...memory...:/path"; folder under /sys/fs/cgroup/memory),
 * 2 for cgroup v2 ("0::/path"; under /sys/fs/cgroup), 0 if neither is there. The path
 * (from the line, always starting with '/') goes to out. */
int rl_mem_cgroup_path(const char *proc_cgroup, char *out, size_t n);

/* Processes the kernel's out-of-memory killer has killed so far in this process's memory
 * cgroup (its own and global out-of-memory kills both count there), or in the whole
 * machine when no cgroup counter can be read (/proc/vmstat); -1 if neither is known. */
int64_t rl_mem_oom_kills(void);

/* Describes the tightest memory limit this process runs under into out, e.g.
 * "256.0 MiB (RLIMIT_AS of the process)", "2.0 GiB (cgroup memory.max)", or
 * "none set (the machine has 23.4 GiB)". Can't fail. */
void rl_mem_limit_describe(char *out, size_t n);

#endif
