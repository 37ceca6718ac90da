"""check_numbers.py CASES DATA_DIR: every export's numbers against its plan
and its model (issue 12), with nothing but the standard library.

Megatron-LM launches (megatron, torchrun, slurm): the script for the
model, the degrees and the world the launch starts, global batch = micro-
batch x accumulation x data-parallel size (or the ramp's batches, each a
multiple of micro-batch x dp, at the samples the plan consumes), layers
over the stages as Megatron-LM places them, heads, query groups, FFN and
the padded vocabulary divisible by TP, the architecture of the spec (RoPE
base, dropout, norm, activation, biases, tied embeddings), ZeRO as
Megatron-LM has it, the learning rate and length, and the environment the
training script sees (CUDA_DEVICE_MAX_CONNECTIONS). The Slurm script's
#SBATCH values and folder. DeepSpeed configs: the batch identity, the ZeRO
stage (below 2 with a pipeline), only keys DeepSpeed reads, 1F1B, the
scheduler and its parameters. Refusals: exactly the expected ones, in one
line, with nothing written.
"""
import json
import math
import sys

from plan_facts import cases, check, failures, flags, refusal

def close(a, b, rel=1e-5):
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-30)


def one_value(case, f, name):
    v = f.get(name)
    if not check(case, v is not None and len(v) == 1,
                 "%s is given once with one value" % name):
        return None
    return v[0]


def megatron_numbers(case):
    call = case.megatron_call()
    if not check(case, call is not None, "the launch starts the script"):
        return
    script, args, env, cwd = call
    spec, par, sched = case.spec, case.par, case.sched
    f = flags(args)
    tp, pp, dp, v = par["tp"], par["pp"], par["dp"], par["v"]
    mbs, micro = par["mbs"], par["microbatches"]
    check(case, script == case.script(),
          "script %s, not %s" % (script, case.script()))
    check(case, case.kind == "megatron" or cwd == case.code_dir,
          "started in the Megatron-LM checkout (%s, not %s)"
          % (cwd, case.code_dir))
    check(case, int(one_value(case, f, "--tensor-model-parallel-size")) == tp,
          "tp")
    check(case, int(one_value(case, f, "--pipeline-model-parallel-size"))
          == pp, "pp")
    check(case, tp * pp * dp == case.devices, "dp x tp x pp = devices")
    check(case, int(one_value(case, f, "--micro-batch-size")) == mbs, "mbs")
    # the world the launch starts
    if case.kind == "torchrun":
        t = case.call("torchrun")["argv"]
        nn = [a for a in t if a.startswith("--nnodes=")][0].split("=")[1]
        npn = [a for a in t if a.startswith("--nproc_per_node=")][0]
        check(case, int(nn) * int(npn.split("=")[1]) == case.devices,
              "torchrun starts one process per device")
    if case.kind == "slurm":
        s = case.call("srun")["argv"]
        check(case, "--ntasks=%d" % case.devices in s,
              "srun starts one task per device")
        sb = dict((l[len("#SBATCH "):] + "=").split("=")[:2]
                  for l in case.export.splitlines()
                  if l.startswith("#SBATCH "))
        check(case, int(sb["--nodes"]) * int(sb["--ntasks-per-node"])
              == case.devices, "#SBATCH nodes x tasks = devices")
        check(case, sb.get("--time") == "1-00:00:00" and
              sb.get("--partition") == "gpu" and
              sb.get("--account") == "ml.team",
              "#SBATCH --time/--partition/--account as given")
    # batch: B = mbs x accumulation x dp, or the ramp
    ramp = sched.get("batch_ramp", [])
    if ramp:
        check(case, "--global-batch-size" not in f,
              "no --global-batch-size beside the step schedule")
        entries = one_value(case, f, "--step-batch-size-schedule").split()
        got = [(int(t), int(b)) for t, b in (e.split(":") for e in entries)]
        want = [(0, ramp[0]["global_batch"])]
        for i, r in enumerate(ramp):
            nxt = ramp[i + 1]["global_batch"] if i + 1 < len(ramp) \
                else sched["global_batch"]
            want.append((case.samples_until(r["until_step"]), nxt))
        seq = spec["seq_len"]
        check(case, [(t // seq, b) for t, b in got] == want and
              all(t % seq == 0 for t, _ in got),
              "the step schedule is the plan's ramp (%s, want %s)"
              % (got, want))
        check(case, all(b % (mbs * dp) == 0 for _, b in got),
              "every ramp batch a multiple of mbs x dp")
    else:
        b = int(one_value(case, f, "--global-batch-size"))
        check(case, b == sched["global_batch"] == mbs * micro * dp,
              "global batch %d = %d x %d x %d" % (b, mbs, micro, dp))
    # layers over the stages
    L = spec["layers"]
    first = f.get("--decoder-first-pipeline-num-layers")
    last = f.get("--decoder-last-pipeline-num-layers")
    account = "--account-for-embedding-in-pipeline-split" in f
    if v > 1 and account:
        # the embedding and the loss a layer each: L + 2 over the chunks
        n = int(one_value(case, f, "--num-virtual-stages-per-pipeline-rank"))
        check(case, n == v and "--account-for-loss-in-pipeline-split" in f
              and (L + 2) % (pp * v) == 0 and
              "--num-layers-per-virtual-pipeline-stage" not in f,
              "v %d with the embedding and the loss counted: %d + 2 layers "
              "over pp x v" % (n, L))
    elif v > 1:
        n = int(one_value(case, f, "--num-layers-per-virtual-pipeline-stage"))
        check(case, n * pp * v == L, "layers per virtual stage x pp x v")
    if L % pp and not account:
        if check(case, first and last, "an uneven pipeline's first/last"):
            fi, la = int(first[0]), int(last[0])
            rest = L - fi - la
            mid = rest // (pp - 2) if pp > 2 else 0
            most = -(-L // pp)
            check(case, (pp == 2 and rest == 0) or
                  (pp > 2 and rest % (pp - 2) == 0),
                  "the middle stages share the rest evenly")
            check(case, max(fi, la, mid) <= most,
                  "no stage holds more than the plan's %d layers" % most)
    else:
        check(case, not first and not last, "an even pipeline")
    # divisibility by TP
    heads, kv = spec["heads"], spec.get("kv_heads", spec["heads"])
    check(case, int(one_value(case, f, "--num-attention-heads")) == heads
          and heads % tp == 0, "heads divisible by tp")
    if kv != heads:
        check(case, "--group-query-attention" in f and
              int(one_value(case, f, "--num-query-groups")) == kv and
              kv % tp == 0, "query groups = kv_heads, divisible by tp")
    ffn = int(one_value(case, f, "--ffn-hidden-size"))
    check(case, ffn == spec.get("ffn_hidden", 4 * spec["hidden"])
          and ffn % tp == 0, "FFN divisible by tp")
    pv = int(one_value(case, f, "--padded-vocab-size"))
    voc = spec["vocab"]
    check(case, pv % (128 * tp) == 0 and voc <= pv < voc + 128 * tp,
          "padded vocabulary %d: vocabulary %d rounded up to 128 x tp"
          % (pv, voc))
    check(case, int(one_value(case, f, "--num-layers")) == L and
          int(one_value(case, f, "--hidden-size")) == spec["hidden"] and
          int(one_value(case, f, "--seq-length")) == spec["seq_len"],
          "layers, hidden, sequence")
    # architecture
    rotary = spec.get("position_embedding") == "rotary"
    if rotary:
        check(case, one_value(case, f, "--position-embedding-type") == "rope"
              and float(one_value(case, f, "--rotary-base"))
              == case.rope_theta(), "RoPE with the spec's base")
    else:
        check(case, "--rotary-base" not in f, "no RoPE base")
    check(case, float(one_value(case, f, "--attention-dropout"))
          == case.dropout() == float(one_value(case, f, "--hidden-dropout")),
          "dropout as the spec says")
    check(case, ("--swiglu" in f) == (spec.get("activation") == "swiglu"),
          "SwiGLU as the spec")
    check(case, (f.get("--normalization") == ["RMSNorm"]) ==
          (spec.get("norm") == "rmsnorm"), "RMSNorm as the spec")
    check(case, ("--disable-bias-linear" in f) == (not spec.get("bias", True)),
          "biases as the spec")
    check(case, ("--untie-embeddings-and-output-weights" in f) ==
          (not spec.get("tied_embeddings", False)), "tied as the spec")
    check(case, ("--bf16" in f) == (spec.get("dtype", "bf16") == "bf16"),
          "bf16")
    # ZeRO and the environment
    zero = par["zero"]
    env = env.get("CUDA_DEVICE_MAX_CONNECTIONS")
    if zero >= 2:
        check(case, "--use-megatron-fsdp" in f and
              f.get("--data-parallel-sharding-strategy") ==
              ["optim_grads" if zero == 2 else "optim_grads_params"] and
              f.get("--ckpt-format") == ["fsdp_dtensor"],
              "ZeRO-%d as Megatron-FSDP" % zero)
        check(case, env is None,
              "CUDA_DEVICE_MAX_CONNECTIONS unset for Megatron-FSDP (%s)" % env)
    else:
        check(case, ("--use-distributed-optimizer" in f) == (zero == 1),
              "ZeRO-1 as the distributed optimizer")
        check(case, "--use-megatron-fsdp" not in f, "no FSDP")
        if tp > 1:
            check(case, env == "1",
                  "CUDA_DEVICE_MAX_CONNECTIONS=1 with tp > 1 (%s)" % env)
    check(case, ("--sequence-parallel" in f) == (par["sp"] and tp > 1),
          "sequence parallelism")
    check(case, f.get("--attention-backend") ==
          ["flash" if par["attention"] == "flash" else "unfused"],
          "the attention kernel")
    if par["sync"] == "bf16":
        check(case, "--grad-reduce-in-bf16" in f and
              "--ddp-reduce-scatter-with-fp32-accumulation" in f,
              "sync=bf16")
    # learning rate and length
    check(case, close(float(one_value(case, f, "--lr")), sched["peak_lr"]),
          "peak LR")
    constant = sched["decay"] == "constant" or sched["decay_steps"] <= 0
    style = one_value(case, f, "--lr-decay-style")
    check(case, style == ("constant" if constant else sched["decay"]),
          "decay style %s" % style)
    W, D = sched["warmup_steps"], sched["decay_steps"]
    if ramp:
        check(case, int(one_value(case, f, "--lr-warmup-samples")) ==
              case.samples_until(W), "warmup in samples")
        if not constant:
            check(case, int(one_value(case, f, "--lr-decay-samples")) ==
                  case.samples_until(W + D), "decay in samples")
        if case.steps:
            check(case, int(one_value(case, f, "--train-samples")) ==
                  case.samples_until(case.steps), "length in samples")
    else:
        check(case, int(one_value(case, f, "--lr-warmup-iters")) == W,
              "warmup iterations")
        if not constant:
            check(case, int(one_value(case, f, "--lr-decay-iters")) == W + D,
                  "decay iterations")
            check(case, close(float(one_value(case, f, "--min-lr")),
                              sched["min_lr"]), "min LR")
        if case.steps:
            check(case, int(one_value(case, f, "--train-iters"))
                  == case.steps, "train iterations")
        else:
            check(case, "--train-iters" not in f, "no length without one")


def deepspeed_numbers(case):
    try:
        j = json.loads(case.export)
    except ValueError as e:
        check(case, False, "not JSON: %s" % e)
        return
    par, sched = case.par, case.sched
    dp, mbs = par["dp"], par["mbs"]
    B = j["train_batch_size"]
    check(case, B == sched["global_batch"] ==
          j["train_micro_batch_size_per_gpu"] *
          j["gradient_accumulation_steps"] * dp,
          "train_batch_size = micro x accumulation x dp")
    check(case, j["train_micro_batch_size_per_gpu"] == mbs, "mbs")
    z = j["zero_optimization"]["stage"]
    check(case, z == par["zero"], "ZeRO stage")
    check(case, par["pp"] == 1 or z < 2,
          "DeepSpeed's pipeline engine takes ZeRO-0 or 1")
    check(case, par["schedule"] == "1f1b" and j["_dml"]["v"] == 1,
          "1F1B only")
    check(case, "tensor_parallel" not in j, "no autotp_size")
    check(case, set(j.get("pipeline", {})) <=
          {"activation_checkpoint_interval"}, "only pipeline keys it reads")
    check(case, j["_dml"]["tp"] == par["tp"] and j["_dml"]["pp"] ==
          par["pp"] and j["_dml"]["dp"] == dp, "the degrees in _dml")
    check(case, close(j["optimizer"]["params"]["lr"], sched["peak_lr"]),
          "LR")
    W, D = sched["warmup_steps"], sched["decay_steps"]
    constant = sched["decay"] == "constant" or D <= 0
    sch = j.get("scheduler")
    if constant and W == 0:
        check(case, sch is None, "no scheduler for a constant rate")
    elif check(case, sch is not None, "a scheduler"):
        p = sch["params"]
        check(case, p.get("warmup_type") == "linear" and
              p["warmup_num_steps"] == max(W, 1), "linear warmup of W steps")
        if constant:
            check(case, sch["type"] == "WarmupLR" and
                  close(p["warmup_max_lr"], sched["peak_lr"]), "WarmupLR")
        elif sched["decay"] == "cosine":
            check(case, sch["type"] == "WarmupCosineLR" and
                  p["total_num_steps"] == W + D and
                  close(p["cos_min_ratio"],
                        sched["min_lr"] / sched["peak_lr"], 1e-4),
                  "WarmupCosineLR to the plan's floor")
        else:
            check(case, sch["type"] == "WarmupDecayLR", "WarmupDecayLR")
    dt = case.spec.get("dtype", "bf16")
    check(case, j.get("bf16", {}).get("enabled", False) == (dt == "bf16"),
          "bf16")
    if par["sync"] in ("bf16", "fp16"):
        check(case, j.get("communication_data_type") == par["sync"],
              "sync as communication_data_type")


def main():
    folder, data_dir, code_dir = sys.argv[1:4]
    n = refused = 0
    for case in cases(folder, data_dir):
        case.code_dir = code_dir
        n += 1
        why = refusal(case)
        if why:
            refused += 1
            lines = case.err.strip().splitlines()
            check(case, case.rc == 2 and len(lines) == 1 and
                  lines[0].startswith("dml-plan: error: ") and
                  why in lines[0], "refused in one line saying '%s': %s"
                  % (why, case.err.strip()))
            continue
        if not check(case, case.rc == 0, "exported (%s)" % case.err.strip()):
            continue
        try:
            if case.kind == "deepspeed":
                deepspeed_numbers(case)
            else:
                megatron_numbers(case)
        except (TypeError, ValueError, KeyError, IndexError,
                AttributeError) as e:
            # a flag or key missing, or not a number: what came before
            # says which
            check(case, False, "unreadable: %s: %s" % (type(e).__name__, e))
    for f in failures[:40]:
        print(f)
    print("check_numbers: %d exports, %d refusals as expected, %d failures"
          % (n - refused, refused, len(failures)))
    sys.exit(1 if failures else 0)


main()
