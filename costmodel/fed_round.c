/*
 * fed_round.c: the federated round pricer of fed_round.h.
 */
#include "costmodel/fed_round.h"

#include <math.h>

#include "costmodel/collective.h"

void dml_fed_round_price_of(const dml_fed_round_input *in,
                            dml_fed_round_price *out)
{
    const dml_fed_spec *f = in->fed;
    int m = (int)lround(f->sample * f->clients);
    m = m < 1 ? 1 : m > f->clients ? f->clients : m;
    double n_c = in->samples / f->clients;
    double b = f->batch > 0 && f->batch < n_c ? (double)f->batch : n_c;
    double steps = f->epochs > 0 ? ceil(f->epochs * n_c / b - 1e-9) : 1.0;
    double per_rank = ceil((double)m / (in->ranks > 0 ? in->ranks : 1));
    out->clients = m;
    out->client_steps = steps;
    out->compute_s = per_rank * steps * b * 3.0 * in->flops_per_sample /
                     in->rank_flops;
    out->secagg_s = f->secagg ? per_rank * (m - 1) * in->params /
                                    in->mask_values_per_s
                              : 0.0;
    double model = 4.0 * in->params;
    double up = f->secagg ? 4.0 * in->params + 8.0 * m : 8.0 * in->params;
    int others = in->ranks - 1;
    out->server_link_bytes = others * (model + up);
    out->comm_s = others > 0 ? others * (dml_p2p_time(&in->server_link, model) +
                                         dml_p2p_time(&in->server_link, up))
                             : 0.0;
    out->round_s = out->compute_s + out->secagg_s + out->comm_s;
    out->logical_down_bytes = m * model;
    out->logical_up_bytes = m * (f->secagg ? 4.0 * in->params + 8.0 : model);
}
