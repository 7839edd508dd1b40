/* How much memory this process may still allocate, for the checks that
 * refuse a data set too large for a rank before anything big is allocated
 * (dpt_dataset_check_memory in dataset.h, and its callers).
 *
 * The figure is the smallest of: the kernel's MemAvailable (/proc/meminfo;
 * sysconf's available pages where there is none), what the process's
 * cgroup still allows (a Slurm job's memory limit is one: cgroup v2
 * memory.max - memory.current, or v1 memory.limit_in_bytes -
 * memory.usage_in_bytes), and the address-space and data-segment limits
 * (ulimit -v, -d) less what the process already uses. It is an estimate:
 * other processes allocate too, and MemAvailable does not count swap. So a
 * check refuses what surely cannot fit, and a run that passes may still
 * find memory short later (and then says "out of memory"). Nothing here
 * talks MPI: each rank checks its own node.
 */
#ifndef DPT_DATA_MEMORY_H
#define DPT_DATA_MEMORY_H

#include <stddef.h>
#include <stdint.h>

/* Bytes this process may still allocate (see above); UINT64_MAX when no
 * figure can be read at all. */
uint64_t dpt__mem_available(void);

/* "1.5 GiB (1610612736 bytes)" into buf; returns buf. */
const char *dpt__bytes_text(char *buf, size_t len, uint64_t bytes);

#endif
