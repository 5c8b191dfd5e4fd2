// ckpt.h: training checkpoints (DESIGN.md format 4).
//
//   DIR/step_%08d/config.json          the model config, byte for byte the file the run started from
//   DIR/step_%08d/model.safetensors    fp32 weights under the reference's Hugging Face names (a tied model
//                                      stores no lm_head.weight, as save_pretrained), metadata format=pt
//   DIR/step_%08d/optimizer.safetensors  fp32 "master.<name>", AdamW "exp_avg.<name>", "exp_avg_sq.<name>"
//   DIR/step_%08d/trainer.json         step, tokens, data cursor, RNG state, the full run arguments
//   DIR/latest                         "step_%08d\n": the newest complete checkpoint
//
// A checkpoint is written into DIR/step_%08d.tmp and renamed when complete, then `latest` is replaced
// atomically, so a reader never sees a partial one: a directory without `.tmp` is complete.
#ifndef SCOUT_CKPT_H
#define SCOUT_CKPT_H

#include <jansson.h>
#include <stdint.h>

#include "config.h"
#include "model.h"

// mkdir -p; dies (exit 4) on failure.
void ckpt_make_dir(const char *path);
// Writes the checkpoint of `step`; trainer is the trainer.json object. Dies (exit 4) on I/O failure.
void ckpt_save(const char *run_dir, uint64_t step, const model *m, const model_config *cfg, const json_t *trainer);

// The checkpoint a --resume PATH names: PATH itself when it holds trainer.json; else the run directory's
// `latest`, or failing that its highest complete step_* directory. Dies (exit 4) when there is none.
// Returns a malloc'd path.
char *ckpt_resolve(const char *path);
// 1 when run_dir holds a checkpoint (a fresh run must not write into it).
int ckpt_run_has_checkpoint(const char *run_dir);

// trainer.json of a checkpoint directory; dies (exit 3) when missing fields or malformed.
json_t *ckpt_read_trainer(const char *ckpt_dir);
// The fp32 master weights and AdamW moments of a checkpoint into the model (forward weights refreshed).
// Dies (exit 3) when a tensor is missing, shaped otherwise, or foreign: a checkpoint of another architecture.
void ckpt_load_state(const char *ckpt_dir, model *m);
// Weights under the reference names (model.safetensors of a checkpoint or of Hugging Face) into the
// model, for --init; the AdamW moments stay zero.
void ckpt_load_weights(const char *path, model *m);

#endif
