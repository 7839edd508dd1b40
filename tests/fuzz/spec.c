/* Fuzzing harness: the model-file reader (src/model/spec.c).
 *
 * Feeds: the input up to its first NUL byte is the text of a model file,
 * written to a scratch file and read with dpt_spec_load, as `dptrain train
 * MODEL.cfg` reads it; each NUL-separated piece after that (up to 8) is a
 * --set "section.key=value" override applied to it. A model file accepted
 * this way must then also survive what dptrain does with it later:
 * - its text as saved into a model file (dpt_spec_to_string) parses again
 *   with dpt_spec_parse, as `dptrain eval` reads a model file's /config;
 * - the network is built from it (dpt_net_create, with the build tree's
 *   plugins, which check each layer's, the loss's and the optimizer's
 *   settings) for samples of shape [6], or [8, 2] when the text names a
 *   1-D layer, or [8, 8, 1] when it names a 2-D layer.
 * A refusal must come with a message (fuzz.h). The dictionary spec.dict
 * holds the keys and the punctuation of the format.
 */
#include "config.h"

#include "fuzz.h"
#include "model/net.h"
#include "model/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SETS 8

static const char *model_path;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    model_path = fuzz_scratch("model.cfg");
    fuzz_registry();
    return 0;
}

/* What dptrain does with an accepted spec: save its text, read it back,
 * build the network. */
static void use_spec(const struct dpt_spec *spec, const char *text)
{
    char *saved = dpt_spec_to_string(spec);
    if (!saved) {
        fprintf(stderr, "fuzz: dpt_spec_to_string failed\n");
        abort();
    }
    struct dpt_spec again;
    struct dpt_err err = {0};
    int rc = dpt_spec_parse(&again, saved, "saved", &err);
    if (rc < 0) {
        fprintf(stderr, "fuzz: an accepted model file does not read back once saved: %s\n"
                "--- saved text:\n%s\n", err.msg, saved);
        abort();
    }
    dpt_spec_cleanup(&again);
    free(saved);

    struct dpt_shape in = dpt_shape_flat(6);
    if (strstr(text, "1d")) {
        in = (struct dpt_shape){.rank = 2, .dims = {8, 2}};
    } else if (strstr(text, "2d")) {
        in = (struct dpt_shape){.rank = 3, .dims = {8, 8, 1}};
    }
    struct dpt_net *net = NULL;
    rc = dpt_net_create(&net, spec, fuzz_registry(), &in, &err);
    fuzz_check_result("dpt_net_create", rc, &err);
    dpt_net_destroy(net);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf) {
        return 0;
    }
    memcpy(buf, data, size);
    buf[size] = '\0';
    size_t text_len = strlen(buf);
    char *sets[MAX_SETS];
    size_t n_sets = 0;
    for (size_t at = text_len + 1; at < size && n_sets < MAX_SETS; at += strlen(buf + at) + 1) {
        sets[n_sets++] = buf + at;
    }
    fuzz_write(model_path, buf, text_len);

    struct dpt_spec spec;
    struct dpt_err err = {0};
    int rc = dpt_spec_load(&spec, model_path, sets, n_sets, &err);
    fuzz_check_result("dpt_spec_load", rc, &err);
    if (rc == 0) {
        use_spec(&spec, buf);
    }
    dpt_spec_cleanup(&spec);
    free(buf);
    fuzz_check_clean();
    return 0;
}
