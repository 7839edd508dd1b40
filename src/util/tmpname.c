/* Unpredictable, exclusively created temporary names: see tmpname.h. */
#include "config.h"

#include "util/tmpname.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

int dpt__random_name(const char *prefix, char *name, size_t len)
{
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    unsigned char bytes[DPT__RANDOM_LEN];
    size_t n = strlen(prefix);
    if (n + DPT__RANDOM_LEN + 1 > len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    /* getrandom gives up to 256 bytes whole unless a signal interrupts it
     * before it starts; then it is asked again. */
    ssize_t got;
    do {
        got = getrandom(bytes, sizeof bytes, 0);
    } while (got < 0 && errno == EINTR);
    if (got != (ssize_t)sizeof bytes) {
        if (got >= 0) {
            errno = EIO;
        }
        return -1;
    }
    memcpy(name, prefix, n);
    for (size_t i = 0; i < DPT__RANDOM_LEN; i++) {
        /* 256 % 36 != 0 favours a few characters slightly; each still
         * carries over 5 bits, about 62 for the name. */
        name[n + i] = alphabet[bytes[i] % 36];
    }
    name[n + DPT__RANDOM_LEN] = '\0';
    return 0;
}

int dpt__open_excl(const char *name)
{
    /* O_EXCL alone already fails on a symbolic link at name (even a
     * dangling one) and never follows it; O_NOFOLLOW says so for readers
     * and for file systems that honour only one of them. */
    return open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
}

int dpt__create_excl(const char *prefix, char *name, size_t len)
{
    for (int i = 0; i < DPT__CREATE_TRIES; i++) {
        if (dpt__random_name(prefix, name, len) < 0) {
            return -1;
        }
        int fd = dpt__open_excl(name);
        if (fd >= 0 || errno != EEXIST) {
            return fd;
        }
    }
    return -1; /* errno is EEXIST */
}

int dpt__tmp_is_ours(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid();
}
