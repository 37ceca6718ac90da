"""megatron_check.py CASES DATA_DIR MEGATRON_LM: every Megatron-LM launch
of the cases (--export megatron, torchrun and slurm) through Megatron-LM's
own argument parser and checks, run on this machine without a GPU.

For each launch, with the command line and environment the stubs recorded
(CUDA_DEVICE_MAX_CONNECTIONS as the export left it), WORLD_SIZE the
plan's devices and the GPU generation of the cluster preset (8: A100,
9: H100, what get_device_arch_version reads from the device):
  - the script is there in the checkout;
  - megatron.training.arguments.parse_args and validate_args accept it
    (the defaults the script passes: the GPT or BERT tokenizer);
  - core_transformer_config_from_args builds the TransformerConfig (its
    own checks of heads, groups, layers over stages), and every pipeline
    rank builds the layers the plan file's stages give it (Megatron-LM's
    get_num_layers_to_build for each virtual stage);
  - the data-parallel size and the padded vocabulary are the plan's;
  - Megatron-LM's micro-batch calculator gives the plan's batch (and its
    ramp) at the samples the plan consumes, with its divisibility check;
  - its learning-rate scheduler (training.get_optimizer_param_scheduler)
    gives the plan's rate at every step within one step's change.
Exit 77 when the checkout or torch is missing (the caller's skip).
"""
import io
import json
import math
import os
import sys
import contextlib

folder, data_dir, megatron_lm = sys.argv[1:4]
sys.path.insert(0, megatron_lm)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import torch  # noqa: F401
    import megatron.training.arguments as A
    from megatron.core import num_microbatches_calculator as nmc
    from megatron.training import global_vars
    from megatron.training.training import get_optimizer_param_scheduler
    from megatron.core.transformer.transformer_block import \
        get_num_layers_to_build
except Exception as e:  # the framework is not here: skip
    print("megatron_check: skipped: cannot import Megatron-LM from %s: %s"
          % (megatron_lm, e))
    sys.exit(77)

from plan_facts import cases, check, failures, refusal

ARCH = {"dgx-a100-80g": 8, "dgx-h100": 9}
class FakeOptimizer:
    """What OptimizerParamScheduler touches: the parameter groups."""
    def __init__(self):
        self.param_groups = [{"lr": 0.0, "weight_decay": 0.0}]


def lr_close(case, step, got):
    want = case.lr_at(step)
    # one step's change of the plan's rate, and a little more: Megatron
    # counts the step being taken, dml the one after it
    slack = max(abs(case.lr_at(step + 1) - want),
                abs(case.lr_at(max(step - 1, 0)) - want),
                1e-6 * case.sched["peak_lr"])
    return abs(got - want) <= 1.01 * slack + 1e-12


def check_stages(case, cfg):
    """Each pipeline rank's layers, Megatron-LM's against the plan file's
    stages (chunk i on rank i % pp), when the file holds the exported
    plan's layout."""
    path = os.path.join(case.folder, "plan.json")
    if not os.path.isfile(path):
        return
    plan = json.load(open(path))
    pp, v = case.par["pp"], case.par.get("v", 1)
    if (plan["parallel"]["pp"], plan["parallel"].get("v", 1)) != (pp, v):
        return
    stages = plan["placement"]["stages"]
    want = [0] * pp
    for i, st in enumerate(stages):
        want[i % pp] += st["last_layer"] - st["first_layer"] + 1
    got = [sum(get_num_layers_to_build(cfg, vp_stage=(vs if v > 1 else None),
                                       pp_rank=r) for vs in range(v))
           for r in range(pp)]
    if v == 1 and sum(want) % pp:
        # an uneven pipeline: Megatron-LM's first and last stages are
        # given their own counts (--decoder-first/last-pipeline-num-
        # layers), the rest even; its fullest stage is the plan's
        check(case, sum(got) == sum(want) and max(got) == max(want),
              "layers per pipeline rank %s: the fullest is not the plan's "
              "%s" % (got, want))
    else:
        check(case, got == want, "layers per pipeline rank %s, the plan's "
              "%s" % (got, want))


def one(case):
    script, argv, env, cwd = case.megatron_call()
    check(case, os.path.isfile(os.path.join(megatron_lm, script)),
          "%s is in the checkout" % script)
    par, sched = case.par, case.sched
    for k in ("CUDA_DEVICE_MAX_CONNECTIONS",):
        if env.get(k) is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = env[k]
    os.environ["WORLD_SIZE"] = str(case.devices)
    os.environ["RANK"] = "0"
    A.get_device_arch_version = lambda: ARCH[case.cluster]
    sys.argv = [script] + argv
    defaults = {"tokenizer_type": "GPT2BPETokenizer" if case.causal()
                else "BertWordPieceLowerCase"}
    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log):
            args = A.parse_args()
            A.validate_args(args, defaults)
            # What TransformerConfig checks of the installation rather than
            # of the arguments: fused RoPE needs Transformer Engine, which
            # a GPU machine has and this one does not.
            args.apply_rope_fusion = False
            cfg = A.core_transformer_config_from_args(args)
    except BaseException as e:  # argparse exits, asserts, ValueErrors
        check(case, False, "Megatron-LM refuses it: %s: %s"
              % (type(e).__name__, e))
        return
    check_stages(case, cfg)
    tp = par["tp"]
    check(case, args.data_parallel_size == par["dp"],
          "data-parallel size %d" % args.data_parallel_size)
    check(case, args.padded_vocab_size % tp == 0 and
          args.padded_vocab_size >= case.spec["vocab"],
          "padded vocabulary %d" % args.padded_vocab_size)
    # the batch, step by step, by Megatron-LM's calculator
    nmc.destroy_num_microbatches_calculator()
    with contextlib.redirect_stdout(log):
        nmc.init_num_microbatches_calculator(
            rank=0, rampup_batch_size=None,
            global_batch_size=args.global_batch_size,
            micro_batch_size=args.micro_batch_size,
            data_parallel_size=args.data_parallel_size,
            decrease_batch_size_if_needed=False,
            step_batch_size_schedule=args.step_batch_size_schedule,
            seq_length=args.seq_length)
    ramp = sched.get("batch_ramp", [])
    probe = [0] + [r["until_step"] - 1 for r in ramp] + \
        [r["until_step"] for r in ramp] + [max(case.steps, 1) - 1]
    for step in sorted(set(probe)):
        want = sched["global_batch"]
        for r in ramp:
            if step < r["until_step"]:
                want = r["global_batch"]
                break
        try:
            nmc.update_num_microbatches(case.samples_until(step),
                                        consistency_check=True)
        except AssertionError as e:
            check(case, False, "batch at step %d: %s" % (step, e))
            break
        got = nmc.get_current_global_batch_size()
        if not check(case, got == want,
                     "batch %d at step %d, the plan's %d" % (got, step, want)):
            break
    if not ramp:
        check(case, nmc.get_num_microbatches() == par["microbatches"],
              "micro-batches %d" % nmc.get_num_microbatches())
    # the learning rate, by Megatron-LM's scheduler; without a length
    # the user gives one (the rate is constant after warmup anyway)
    if not (args.train_iters or args.train_samples):
        args.train_iters = sched["warmup_steps"] + 1000
    global_vars._GLOBAL_ARGS = args
    try:
        with contextlib.redirect_stdout(log):
            ps = get_optimizer_param_scheduler(FakeOptimizer())
    except BaseException as e:
        check(case, False, "no LR scheduler: %s" % e)
        return
    finally:
        global_vars._GLOBAL_ARGS = None
    W, D = sched["warmup_steps"], sched["decay_steps"]
    last = W + D if D > 0 else W + 1000
    for step in sorted({0, max(W - 1, 0), W, W + 1, W + D // 3, W + D // 2,
                        max(last - 1, 0)}):
        # Megatron-LM's scheduler counts samples (iterations x batch)
        ps.num_steps = case.samples_until(step) if (
            args.train_samples or ramp) else step * args.global_batch_size
        got = ps.get_lr({})
        if ramp:
            # With a ramp Megatron-LM counts warmup and decay in samples
            # (the plan's steps converted at its batches), and a step of
            # the ramp is fewer samples than one after it: its rate is
            # the plan's schedule over samples, within 3 % of the peak of
            # the plan's over steps (the export says so).
            x = case.samples_until(step)
            ws, es = case.samples_until(W), case.samples_until(W + D)
            peak, floor = sched["peak_lr"], sched["min_lr"]
            if x <= ws:
                want = peak * x / ws
            else:
                pr = min(1.0, (x - ws) / (es - ws))
                want = floor + (peak - floor) * 0.5 * (1 + math.cos(
                    math.pi * pr)) if sched["decay"] == "cosine" else \
                    peak - (peak - floor) * pr
            ok = abs(got - want) <= 1e-6 * peak and \
                abs(got - case.lr_at(step)) <= 0.03 * peak + \
                abs(case.lr_at(step + 1) - case.lr_at(max(step - 1, 0)))
        else:
            ok = lr_close(case, step, got)
        if not check(case, ok, "LR %.6g at step %d, the plan's %.6g"
                     % (got, step, case.lr_at(step))):
            break


def main():
    n = 0
    for case in cases(folder, data_dir):
        if case.kind == "deepspeed" or case.rc != 0 or refusal(case):
            continue
        n += 1
        one(case)
    for f in failures[:40]:
        print(f)
    print("megatron_check: %d launches through Megatron-LM's parser and "
          "checks, %d failures" % (n, len(failures)))
    sys.exit(1 if failures or n == 0 else 0)


main()
