/*
 * fuzz_cluster_spec: libFuzzer target for the cluster spec reader.
 *
 * The input is the text of a cluster spec file (as dml-probe writes and
 * people edit). The reader must return a status without crashing, leaking
 * or reading out of bounds, an error must format as one line, and an
 * accepted spec must read back from dml_cluster_spec_to_json to the same
 * spec, as the planner's copies of it do.
 */
#include <stdint.h>
#include <stdlib.h>

#include "costmodel/cluster_spec.h"
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
    /* About 60 kB each: on the heap, as the tools keep them. */
    dml_cluster_spec *c = malloc(sizeof *c), *back = malloc(sizeof *back);
    DML_FUZZ_ASSERT(c && back);
    dml_status s = dml_cluster_spec_parse(&root, c, &err);
    dml_json_doc_free(doc);
    if (s != DML_OK) {
        dml_fuzz_check_error(&err);
    } else {
        DML_FUZZ_ASSERT(dml_cluster_spec_validate(c, &err) == DML_OK);
        DML_FUZZ_ASSERT(dml_cluster_spec_devices(c) >= 1);
        json_t *j = dml_cluster_spec_to_json(c);
        DML_FUZZ_ASSERT(j != NULL);
        s = dml_cluster_spec_from_json(j, "round-trip", back, &err);
        json_decref(j);
        DML_FUZZ_ASSERT(s == DML_OK);
        DML_FUZZ_ASSERT(dml_fuzz_same_json(dml_cluster_spec_to_json(c),
                                           dml_cluster_spec_to_json(back)));
    }
    free(c);
    free(back);
    return 0;
}
