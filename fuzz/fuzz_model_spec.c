/*
 * fuzz_model_spec: libFuzzer target for the model spec reader.
 *
 * The input is the text of a model spec file. Whatever it holds, the
 * reader must return a status without crashing, leaking or reading out of
 * bounds (ASan, UBSan), and an error must format as one line. A spec it
 * accepts must survive the round trip the planner relies on: written back
 * with dml_model_spec_to_json, it reads again to the same spec.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "costmodel/model_spec.h"
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
    dml_model_spec m;
    dml_status s = dml_model_spec_parse(&root, &m, &err);
    dml_json_doc_free(doc);
    if (s != DML_OK) {
        dml_fuzz_check_error(&err);
        return 0;
    }
    json_t *j = dml_model_spec_to_json(&m);
    DML_FUZZ_ASSERT(j != NULL);
    dml_model_spec back;
    s = dml_model_spec_from_json(j, "round-trip", &back, &err);
    json_decref(j);
    DML_FUZZ_ASSERT(s == DML_OK);
    DML_FUZZ_ASSERT(dml_fuzz_same_json(dml_model_spec_to_json(&m),
                                       dml_model_spec_to_json(&back)));
    DML_FUZZ_ASSERT(dml_model_spec_validate(&m, &err) == DML_OK);
    return 0;
}
