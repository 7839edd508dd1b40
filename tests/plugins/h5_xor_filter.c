/* Test plugin: an HDF5 filter plugin (not a dptrain plugin) for a filter no
 * one ships, for tests/h5_filters_read.sh. Filter id 300 lies in the range
 * HDF5 keeps for testing (256-511), so no real filter has it. It XORs every
 * byte with 0x5a, which undoes itself: encoding and decoding are the same.
 * It calls no HDF5 function, so the one build loads into h5py's serial
 * libhdf5 (to write a file) and into dptrain's openmpi one (to read it). */
#include <H5PLextern.h>
#include <hdf5.h>

#include <stddef.h>

#define XOR_FILTER_ID 300

static size_t xor_filter(unsigned flags, size_t n_cd, const unsigned cd[], size_t nbytes,
                         size_t *buf_size, void **buf)
{
    (void)flags;
    (void)n_cd;
    (void)cd;
    (void)buf_size;
    unsigned char *b = *buf;
    for (size_t i = 0; i < nbytes; i++) {
        b[i] ^= 0x5a;
    }
    return nbytes;
}

static const H5Z_class2_t xor_class = {
    H5Z_CLASS_T_VERS, XOR_FILTER_ID, 1, 1, "xor", NULL, NULL, xor_filter,
};

H5PL_type_t H5PLget_plugin_type(void)
{
    return H5PL_TYPE_FILTER;
}

const void *H5PLget_plugin_info(void)
{
    return &xor_class;
}
