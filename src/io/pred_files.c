/* Predictions as CSV and .npy: see pred_files.h. */
#include "config.h"

#include "io/pred_files.h"
#include "io/output.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* s as one CSV field: as it is, or quoted with its quotes doubled when it
 * holds a comma, a quote or a line break (RFC 4180). */
static void put_field(FILE *m, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, m);
        return;
    }
    fputc('"', m);
    for (; *s; s++) {
        if (*s == '"') {
            fputc('"', m);
        }
        fputc(*s, m);
    }
    fputc('"', m);
}

int dpt_predictions_save_csv(const char *path, const float *pred, const int *labels, size_t n,
                             size_t n_out, const char *const *names, size_t n_names,
                             struct dpt_err *err)
{
    int named = labels && n_names > 0;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m) {
        return dpt_err_set(err, DPT_ENOMEM, "%s: out of memory", path);
    }
    for (size_t j = 0; j < n_out; j++) {
        fprintf(m, "%spred_%zu", j ? "," : "", j);
    }
    fputs(named ? ",label,class\n" : labels ? ",label\n" : "\n", m);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n_out; j++) {
            fprintf(m, "%s%.9g", j ? "," : "", (double)pred[i * n_out + j]);
        }
        if (labels) {
            fprintf(m, ",%d", labels[i]);
        }
        if (named) {
            fputc(',', m);
            put_field(m, labels[i] >= 0 && (size_t)labels[i] < n_names ? names[labels[i]] : "");
        }
        fputc('\n', m);
    }
    /* A memory stream fails only for want of memory; fclose says so. */
    int rc = ferror(m) | fclose(m) ? dpt_err_set(err, DPT_ENOMEM, "%s: out of memory "
                                                 "formatting %zu rows", path, n)
                                   : dpt_output_write_atomically(path, buf, len, err);
    free(buf);
    return rc;
}

/* An .npy file of count 4-byte values (float32 or int32, by descr) of the
 * given shape text "(N, K)", written at path. The header is padded with
 * spaces so that the data starts on a 64-byte boundary, as numpy writes it
 * (format 1.0: a 2-byte header length). */
static int save_npy(const char *path, const char *descr, const char *shape, const void *values,
                    size_t count, struct dpt_err *err)
{
    char dict[256];
    int k = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                     descr, shape);
    size_t head = 10 + (size_t)k + 1; /* magic, version, length; the dict; '\n' */
    size_t pad = (64 - head % 64) % 64;
    size_t hlen = (size_t)k + pad + 1, total = 10 + hlen + 4 * count;
    uint8_t *buf = malloc(total);
    if (!buf) {
        return dpt_err_set(err, DPT_ENOMEM, "%s: out of memory (%zu bytes)", path, total);
    }
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (uint8_t)(hlen & 0xff);
    buf[9] = (uint8_t)(hlen >> 8);
    memcpy(buf + 10, dict, (size_t)k);
    memset(buf + 10 + k, ' ', pad);
    buf[10 + hlen - 1] = '\n';
    /* Little-endian whatever the machine: each value's bits, low byte first. */
    uint8_t *out = buf + 10 + hlen;
    for (size_t i = 0; i < count; i++) {
        uint32_t v;
        memcpy(&v, (const uint8_t *)values + 4 * i, 4);
        for (int b = 0; b < 4; b++) {
            out[4 * i + (size_t)b] = (uint8_t)(v >> (8 * b));
        }
    }
    int rc = dpt_output_write_atomically(path, buf, total, err);
    free(buf);
    return rc;
}

int dpt_predictions_save_npy(const char *path, const float *pred, const int *labels,
                             const char *label_path, size_t n, size_t n_out,
                             struct dpt_err *err)
{
    char shape[64];
    snprintf(shape, sizeof shape, "(%zu, %zu)", n, n_out);
    int rc = save_npy(path, "<f4", shape, pred, n * n_out, err);
    if (rc == 0 && labels) {
        snprintf(shape, sizeof shape, "(%zu,)", n);
        rc = save_npy(label_path, "<i4", shape, labels, n, err);
    }
    return rc;
}
