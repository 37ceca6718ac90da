/*
 * fuzz_plan: libFuzzer target for the plan file reader (dml-exec --plan).
 *
 * The input is the text of a plan file. The reader must return a status
 * without crashing, leaking, overflowing (UBSan) or reading out of bounds,
 * an error must format as one line, and an accepted plan must pass
 * dml_plan_validate and read back from dml_plan_to_json to the same plan
 * (dml_fuzz_read checks those), and give every rank coordinates and every
 * layer a stage.
 */
#include <stdint.h>
#include <stdlib.h>

#include "costmodel/plan.h"
#include "fuzz/fuzz_common.h"

DML_FUZZ_READER(dml_plan);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dml_plan *p = dml_fuzz_read(&fuzz_reader, data, size);
    if (!p)
        return 0;
    /* The first and last rank and every layer: what dml-exec asks. */
    int dp_i, pp_i, tp_i;
    DML_FUZZ_ASSERT(dml_plan_rank_coords(p, 0, &dp_i, &pp_i, &tp_i) ==
                    DML_OK);
    if (p->devices <= 1 << 30)
        DML_FUZZ_ASSERT(dml_plan_rank_coords(p, (int)p->devices - 1, &dp_i,
                                             &pp_i, &tp_i) == DML_OK &&
                        dp_i == p->par.dp - 1);
    for (int64_t l = 0; l < p->model.layers && l < 4096; l++)
        DML_FUZZ_ASSERT(dml_plan_stage_of_layer(p, l) >= 0);
    DML_FUZZ_ASSERT(dml_plan_global_batch_at(p, 0) >= 1);
    free(p);
    return 0;
}
