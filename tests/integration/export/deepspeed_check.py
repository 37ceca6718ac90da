"""deepspeed_check.py CASES DATA_DIR: every DeepSpeed config of the cases
through DeepSpeed's own code, on this machine without a GPU.

For each config:
  - DeepSpeedConfig (deepspeed/runtime/config.py) reads it with the
    data-parallel size Megatron-DeepSpeed's mpu would give it, so its batch
    assertion checks train_batch_size = micro-batch x accumulation x dp,
    and its ZeRO, precision and optimizer sections are parsed;
  - the pipeline engine's rule (pipe/engine.py, PipelineEngine.__init__:
    the ZeRO stage below gradients, 2) is read from the installed source
    and applied when the plan has a pipeline;
  - the scheduler is built as the engine builds it (lr_schedules, the
    class the config names, with its params, on a torch optimizer) and
    stepped as the engine steps it (after each optimizer step, from -1):
    the rate of every training step is the plan's within two steps'
    change (DeepSpeed's count starts two steps later during warmup).
Exit 77 when deepspeed or torch cannot be imported (the caller's skip).
"""
import inspect
import io
import json
import contextlib
import logging
import os
import sys

folder, data_dir = sys.argv[1:3]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    with contextlib.redirect_stdout(io.StringIO()):
        import torch
        import deepspeed
        from deepspeed.runtime import config as ds_config
        from deepspeed.runtime import lr_schedules
        from deepspeed.runtime.pipe.engine import PipelineEngine
except Exception as e:
    print("deepspeed_check: skipped: cannot import deepspeed: %s" % e)
    sys.exit(77)
logging.getLogger("DeepSpeed").setLevel(logging.ERROR)

from plan_facts import cases, check, failures, refusal

class Mpu:
    """Megatron-DeepSpeed's mpu, as far as DeepSpeedConfig asks it."""
    def __init__(self, dp):
        self.dp = dp

    def get_data_parallel_world_size(self):
        return self.dp


# This process is no distributed job: rank 0 (DeepSpeedConfig asks the
# rank before it asks the mpu for the data-parallel size).
ds_config.dist.get_rank = lambda *a, **k: 0

# The pipeline engine's ZeRO rule, from the installed source.
PIPE_RULE = "zero_optimization_stage()<ZeroStageEnum.gradients"
pipe_rule_present = PIPE_RULE in "".join(
    inspect.getsource(PipelineEngine.__init__).split())


def one(case):
    j = json.loads(case.export)
    par = case.par
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            cfg = ds_config.DeepSpeedConfig(j, mpu=Mpu(par["dp"]))
    except BaseException as e:
        check(case, False, "DeepSpeedConfig refuses it: %s: %s"
              % (type(e).__name__, e))
        return
    check(case, cfg.train_batch_size == case.sched["global_batch"],
          "train_batch_size")
    check(case, cfg.zero_optimization_stage == par["zero"], "ZeRO stage")
    if par["pp"] > 1:
        check(case, pipe_rule_present and cfg.zero_optimization_stage < 2,
              "the pipeline engine's ZeRO rule (%s)" % PIPE_RULE)
    # the scheduler, built and stepped as the engine does
    w = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([w], lr=cfg.optimizer_params["lr"]) \
        if cfg.optimizer_name in ("adamw", "adam", "lamb") else \
        torch.optim.SGD([w], lr=cfg.optimizer_params["lr"])
    name = cfg.scheduler_name
    if name is None:
        rates = lambda k: cfg.optimizer_params["lr"]  # noqa: E731
    else:
        try:
            sch = getattr(lr_schedules, name)(opt, **cfg.scheduler_params)
        except BaseException as e:
            check(case, False, "%s refuses its params: %s" % (name, e))
            return

        def rates(k):
            if k > 0:
                sch.step(k - 1)
            return opt.param_groups[0]["lr"]
    s = case.sched
    W, D = s["warmup_steps"], s["decay_steps"]
    last = W + D if D > 0 else W + 100
    for k in sorted({0, 1, 2, max(W - 1, 0), W, W + 1, W + 2, W + D // 3,
                     W + D // 2, max(last - 1, 0)}):
        got = float(rates(k))
        want = case.lr_at(k)
        slack = max(abs(case.lr_at(k + d) - want) for d in (-2, -1, 1, 2)
                    if k + d >= 0)
        if not check(case, abs(got - want) <= 1.01 * slack +
                     1e-6 * s["peak_lr"],
                     "%s: LR %.6g at step %d, the plan's %.6g"
                     % (name, got, k, want)):
            break


def main():
    n = 0
    for case in cases(folder, data_dir):
        if case.kind != "deepspeed" or case.rc != 0 or refusal(case):
            continue
        n += 1
        one(case)
    for f in failures[:40]:
        print(f)
    print("deepspeed_check: %d configs through DeepSpeed %s, %d failures"
          % (n, deepspeed.__version__, len(failures)))
    sys.exit(1 if failures or n == 0 else 0)


main()
