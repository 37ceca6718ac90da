/*
 * fuzz_plan: libFuzzer target for the plan file reader (dml-exec --plan).
 *
 * The input is the text of a plan file. The reader must return a status
 * without crashing, leaking, overflowing (UBSan) or reading out of bounds,
 * an error must format as one line, and an accepted plan must pass
 * dml_plan_validate, give every rank coordinates and every layer a stage,
 * and read back from dml_plan_to_json to the same plan.
 */
#include <stdint.h>
#include <stdlib.h>

#include "costmodel/plan.h"
#include "fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dml_json_doc *doc = NULL;
    dml_error err;
    dml_error_clear(&err);
    if (dml_json_doc_load_text("fuzz.json", (const char *)data, size, &doc,
                               &err) != DML_OK) {
        dml_fuzz_check_error(&err);
        return 0;
    }
    dml_json_obj root;
    dml_json_obj_root(doc, &root);
    dml_plan *p = malloc(sizeof *p), *back = malloc(sizeof *back);
    DML_FUZZ_ASSERT(p && back);
    dml_status s = dml_plan_parse(&root, p, &err);
    dml_json_doc_free(doc);
    if (s != DML_OK) {
        dml_fuzz_check_error(&err);
    } else {
        DML_FUZZ_ASSERT(dml_plan_validate(p, &err) == DML_OK);
        /* The first and last rank and every layer: what dml-exec asks. */
        int dp_i, pp_i, tp_i;
        DML_FUZZ_ASSERT(dml_plan_rank_coords(p, 0, &dp_i, &pp_i, &tp_i) ==
                        DML_OK);
        if (p->devices <= 1 << 30)
            DML_FUZZ_ASSERT(dml_plan_rank_coords(p, (int)p->devices - 1,
                                                 &dp_i, &pp_i,
                                                 &tp_i) == DML_OK &&
                            dp_i == p->par.dp - 1);
        for (int64_t l = 0; l < p->model.layers && l < 4096; l++)
            DML_FUZZ_ASSERT(dml_plan_stage_of_layer(p, l) >= 0);
        DML_FUZZ_ASSERT(dml_plan_global_batch_at(p, 0) >= 1);
        json_t *j = dml_plan_to_json(p);
        DML_FUZZ_ASSERT(j != NULL);
        s = dml_plan_from_json(j, "round-trip", back, &err);
        json_decref(j);
        DML_FUZZ_ASSERT(s == DML_OK);
        DML_FUZZ_ASSERT(dml_fuzz_same_json(dml_plan_to_json(p),
                                           dml_plan_to_json(back)));
    }
    free(p);
    free(back);
    return 0;
}
