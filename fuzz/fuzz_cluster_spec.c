/*
 * fuzz_cluster_spec: libFuzzer target for the cluster spec reader.
 *
 * The input is the text of a cluster spec file (as dml-probe writes and
 * people edit). The reader must return a status without crashing, leaking
 * or reading out of bounds, an error must format as one line, and an
 * accepted spec must pass dml_cluster_spec_validate and read back from
 * dml_cluster_spec_to_json to the same spec, as the planner's copies of it
 * do (dml_fuzz_read checks those), and have at least one device.
 */
#include <stdint.h>
#include <stdlib.h>

#include "costmodel/cluster_spec.h"
#include "fuzz/fuzz_common.h"

DML_FUZZ_READER(dml_cluster_spec);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dml_cluster_spec *c = dml_fuzz_read(&fuzz_reader, data, size);
    if (c)
        DML_FUZZ_ASSERT(dml_cluster_spec_devices(c) >= 1);
    free(c);
    return 0;
}
