/* Rank agreement at start-up: every rank describes what it built, and a rank
 * that built something else than rank 0 is named before the first step.
 *
 * Three descriptions, one line per item, compared by hash (one 64-bit
 * allreduce each), in this order: the training data (the file each rank
 * opened, its arrays' shapes and dtypes as stored), the plugin files the
 * network uses (kind, name, version, the file and an XXH3 hash of its
 * contents) and the model (the model description every rank was given,
 * and the network it built: nodes, their plugins' versions, sample shapes,
 * parameter counts). Nodes with different plugin builds, or node-local
 * data copies that differ, would otherwise train on, or hang in a
 * collective of the wrong size. Only when a hash differs is the odd rank's description sent
 * to the others, so that the message can show the first line that differs.
 */
#ifndef DPT_TRAIN_FINGERPRINT_H
#define DPT_TRAIN_FINGERPRINT_H

#include "data/dataset.h"
#include "dist/dist.h"
#include "model/net.h"
#include "model/spec.h"
#include "plugin/registry.h"

#include <dptrain/dptrain.h>

/* Collective; call it with every rank's network built. 0 when every rank
 * describes the same model, plugins and data; else the same error on every
 * rank: "rank R differs from rank 0 in its plugins: rank 0 has LINE; rank
 * R has LINE". */
int dpt_fingerprint_agree(const struct dpt_dist *d, const struct dpt_spec *spec,
                          const struct dpt_net *net, const struct dpt_registry *reg,
                          const struct dpt_dataset *ds, struct dpt_err *err);

#endif
