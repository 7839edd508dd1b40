/* How much memory this process may still allocate: see memory.h. */
#include "config.h"

#include "data/memory.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* The number in a one-line file (a cgroup's "max" reads as none), or
 * UINT64_MAX. */
static uint64_t read_number(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        return UINT64_MAX;
    }
    uint64_t v = UINT64_MAX;
    if (fscanf(f, "%" SCNu64, &v) != 1) {
        v = UINT64_MAX;
    }
    fclose(f);
    return v;
}

/* "KEY:   123 kB" of a /proc file, in bytes, or UINT64_MAX. */
static uint64_t read_kb(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        return UINT64_MAX;
    }
    char line[256];
    uint64_t v = UINT64_MAX;
    size_t klen = strlen(key);
    while (fgets(line, sizeof line, f)) {
        uint64_t kb;
        if (strncmp(line, key, klen) == 0 && sscanf(line + klen, " %" SCNu64, &kb) == 1) {
            v = kb * 1024;
            break;
        }
    }
    fclose(f);
    return v;
}

/* What a cgroup limit still allows: limit - usage, or UINT64_MAX. A v1
 * cgroup without a limit reports a number near 2^63, which changes nothing
 * in a minimum. */
static uint64_t cgroup_left(const char *limit_path, const char *usage_path)
{
    uint64_t limit = read_number(limit_path), used = read_number(usage_path);
    if (limit == UINT64_MAX) {
        return UINT64_MAX;
    }
    used = used == UINT64_MAX ? 0 : used;
    return limit > used ? limit - used : 0;
}

/* The cgroup (v2) this process is in, as a folder under /sys/fs/cgroup. */
static int cgroup_folder(char *buf, size_t len)
{
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f) {
        return -1;
    }
    char line[1024];
    int found = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "0::", 3) == 0) {
            line[strcspn(line, "\n")] = '\0';
            found = snprintf(buf, len, "/sys/fs/cgroup%s", line + 3) < (int)len ? 0 : -1;
            break;
        }
    }
    fclose(f);
    return found;
}

/* What an rlimit leaves beyond `used` bytes, or UINT64_MAX. */
static uint64_t rlimit_left(int resource, uint64_t used)
{
    struct rlimit rl;
    if (getrlimit(resource, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) {
        return UINT64_MAX;
    }
    return (uint64_t)rl.rlim_cur > used ? (uint64_t)rl.rlim_cur - used : 0;
}

uint64_t dpt__mem_available(void)
{
    uint64_t avail = read_kb("/proc/meminfo", "MemAvailable:");
    if (avail == UINT64_MAX) {
        long pages = sysconf(_SC_AVPHYS_PAGES), size = sysconf(_SC_PAGESIZE);
        avail = pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : UINT64_MAX;
    }
    char folder[1200], limit[1300], usage[1300];
    if (cgroup_folder(folder, sizeof folder) == 0) {
        snprintf(limit, sizeof limit, "%s/memory.max", folder);
        snprintf(usage, sizeof usage, "%s/memory.current", folder);
        avail = min_u64(avail, cgroup_left(limit, usage));
    }
    avail = min_u64(avail, cgroup_left("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                       "/sys/fs/cgroup/memory/memory.usage_in_bytes"));
    uint64_t vm = read_kb("/proc/self/status", "VmSize:");
    uint64_t data = read_kb("/proc/self/status", "VmData:");
    avail = min_u64(avail, rlimit_left(RLIMIT_AS, vm == UINT64_MAX ? 0 : vm));
    avail = min_u64(avail, rlimit_left(RLIMIT_DATA, data == UINT64_MAX ? 0 : data));
    return avail;
}

const char *dpt__bytes_text(char *buf, size_t len, uint64_t bytes)
{
    static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = (double)bytes;
    size_t u = 0;
    while (v >= 1024.0 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024.0;
        u++;
    }
    if (u == 0) {
        snprintf(buf, len, "%" PRIu64 " bytes", bytes);
    } else {
        snprintf(buf, len, "%.1f %s (%" PRIu64 " bytes)", v, units[u], bytes);
    }
    return buf;
}
