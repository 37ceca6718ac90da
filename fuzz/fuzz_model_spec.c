/*
 * fuzz_model_spec: libFuzzer target for the model spec reader.
 *
 * The input is the text of a model spec file. Whatever it holds, the
 * reader must return a status without crashing, leaking or reading out of
 * bounds (ASan, UBSan), and an error must format as one line. A spec it
 * accepts must pass dml_model_spec_validate and survive the round trip the
 * planner relies on: written back with dml_model_spec_to_json, it reads
 * again to the same spec (dml_fuzz_read checks all of it).
 */
#include <stdint.h>
#include <stdlib.h>

#include "costmodel/model_spec.h"
#include "fuzz/fuzz_common.h"

DML_FUZZ_READER(dml_model_spec);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    free(dml_fuzz_read(&fuzz_reader, data, size));
    return 0;
}
