/* Fuzzing harness: the trained-model and checkpoint loaders
 * (src/io/model_file.c, src/io/checkpoint.c).
 *
 * Feeds: the input's bytes, written to a scratch file, to the calls
 * `dptrain inspect FILE` makes: dpt_model_file_kind, then dpt_model_load
 * (the /config text parsed, the network built with the build tree's
 * plugins, the layer tensors and /standardize read, as `dptrain eval` and
 * `predict` load a model), and for a checkpoint dpt_checkpoint_load into
 * that network with a buffer for the best weights (as `train --resume`
 * loads one: /train, /optimizer, /callbacks, the checksum), then
 * dpt_model_read_records; and dpt_model_read_config and dpt_weights_load
 * (`train --init`) into the same network. Every refusal must come with a
 * message (fuzz.h).
 */
#include "config.h"

#include "data/norm.h"
#include "fuzz.h"
#include "io/checkpoint.h"
#include "io/model_file.h"
#include "model/net.h"
#include "model/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *file_path;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    file_path = fuzz_scratch("model.h5");
    fuzz_registry();
    return 0;
}

/* The checkpoint's state into buffers of the network's sizes, as a resume
 * allocates them (train/train.c). */
static void load_checkpoint(struct dpt_net *net, struct dpt_norm *norm)
{
    float *ostate = calloc(net->opt_floats * net->n_params + 1, sizeof *ostate);
    float *best = calloc(net->n_params + 1, sizeof *best);
    struct dpt_train_state st = {.cb.best = best};
    struct dpt_err err = {0};
    if (ostate && best) {
        int rc = dpt_checkpoint_load(file_path, net, ostate, norm, &st, NULL, &err);
        fuzz_check_result("dpt_checkpoint_load", rc, &err);
    }
    free(best);
    free(ostate);
}

/* What else reads such a file: the records inspect prints, the /config
 * text a resume compares, the weights --init reads. */
static void read_rest(struct dpt_net *net)
{
    struct dpt_err err = {0};
    struct dpt_layer_record *rec = calloc(net->n_nodes + 1, sizeof *rec);
    if (rec) {
        int rc = dpt_model_read_records(file_path, net, rec, &err);
        fuzz_check_result("dpt_model_read_records", rc, &err);
    }
    free(rec);
    char *text = NULL;
    int rc = dpt_model_read_config(file_path, &text, &err);
    fuzz_check_result("dpt_model_read_config", rc, &err);
    free(text);
    rc = dpt_weights_load(file_path, net, NULL, &err);
    fuzz_check_result("dpt_weights_load", rc, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write(file_path, data, size);
    enum dpt_file_kind kind;
    struct dpt_err err = {0};
    int rc = dpt_model_file_kind(file_path, &kind, &err);
    fuzz_check_result("dpt_model_file_kind", rc, &err);
    struct dpt_spec spec;
    struct dpt_net *net = NULL;
    struct dpt_norm norm;
    if (rc == 0) {
        rc = dpt_model_load(file_path, fuzz_registry(), &spec, &net, &norm, NULL, &err);
        fuzz_check_result("dpt_model_load", rc, &err);
        if (rc == 0 && kind == DPT_FILE_CHECKPOINT) {
            load_checkpoint(net, &norm);
        }
        if (rc == 0) {
            read_rest(net);
        }
        dpt_net_destroy(net);
        dpt_norm_cleanup(&norm);
        dpt_spec_cleanup(&spec);
    }
    fuzz_check_clean();
    return 0;
}
