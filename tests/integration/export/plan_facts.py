"""plan_facts.py: what the export checks need to know of a case, read from
the files lib.sh leaves in its folder (no framework needed).

A case is one export of one plan: the plan dml-plan exported (its #1, or
the runner-up its note names), the model spec it was planned for, the
export itself and the commands its launch ran (recorded by the stubs).
The learning rate of a plan at a step is dml's own rule
(costmodel/schedule.c, dml_schedule_lr_at), written again here so that the
frameworks' schedules can be compared with it.
"""
import json
import math
import os
import re


# What a check found wrong, "case-id: what", shared by the check scripts.
failures = []


def check(case, cond, what):
    """Record what is wrong with case unless cond; cond back."""
    if not cond:
        failures.append("%s: %s" % (case.id, what))
    return cond


class Case:
    def __init__(self, folder, data_dir):
        self.folder = folder
        self.id = os.path.basename(folder)
        meta = open(os.path.join(folder, "meta")).read().split()
        self.model_name, self.cluster, self.kind = meta[:3]
        self.args = meta[3:]
        self.rc = int(open(os.path.join(folder, "rc")).read())
        self.err = open(os.path.join(folder, "err")).read()
        self.spec = json.load(open(os.path.join(data_dir, "models",
                                                self.model_name + ".json")))
        self.export = None
        self.plan = None
        if self.rc != 0:
            return
        self.export = open(os.path.join(folder, "export")).read()
        report = json.load(open(os.path.join(folder, "report.json")))
        m = re.search(r"exporting plan #(\d+) instead", self.err)
        self.index = int(m.group(1)) - 1 if m else 0
        self.plan = report["plans"][self.index]
        self.calls = []
        path = os.path.join(folder, "calls")
        if os.path.exists(path):
            self.calls = [json.loads(l) for l in open(path) if l.strip()]

    # the plan
    @property
    def par(self):
        return self.plan["parallel"]

    @property
    def sched(self):
        return self.plan["schedule"]

    @property
    def devices(self):
        return self.plan["devices"]

    @property
    def steps(self):
        s = self.sched.get("steps", 0) or 0
        return math.ceil(s) if s > 0 else 0

    def rope_theta(self):
        return self.spec.get("rope_theta", 10000.0)

    def dropout(self):
        return self.spec.get("dropout", 0.1)

    def causal(self):
        return self.spec.get("causal", True)

    def script(self):
        return ("pretrain_gpt.py" if self.causal()
                else "examples/bert/pretrain_bert.py")

    def samples_until(self, steps):
        """Samples consumed by the plan's first `steps` steps, ramp
        included."""
        samples, prev = 0, 0
        for r in self.sched.get("batch_ramp", []):
            until = min(r["until_step"], steps)
            if until <= prev:
                break
            samples += r["global_batch"] * (until - prev)
            prev = until
        if steps > prev:
            samples += self.sched["global_batch"] * (steps - prev)
        return samples

    def lr_at(self, step):
        """dml_schedule_lr_at: linear warmup from 0 (step + 1 of W), then
        the decay to min_lr over decay_steps, or the peak held."""
        s = self.sched
        w, d = s["warmup_steps"], s["decay_steps"]
        peak, floor = s["peak_lr"], s["min_lr"]
        if step < w:
            return peak * (step + 1) / w
        if s["decay"] == "constant" or d <= 0:
            return peak
        progress = (step - w) / d
        if progress >= 1:
            return floor
        if s["decay"] == "linear":
            return peak - (peak - floor) * progress
        return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    # the launch
    def megatron_call(self):
        """(script, arguments, environment, folder) of the training
        script as launched; None when the export launches nothing."""
        for c in self.calls:
            argv = c["argv"]
            if argv[0] == "python":
                return argv[1], argv[2:], c["env"], c["cwd"]
            if argv[0] == "torchrun":
                i = 1
                while i < len(argv) and argv[i].startswith("--"):
                    i += 1
                return argv[i], argv[i + 1:], c["env"], c["cwd"]
        return None

    def call(self, name):
        for c in self.calls:
            if c["argv"][0] == name:
                return c
        return None


def cases(folder, data_dir):
    return [Case(os.path.join(folder, d), data_dir)
            for d in sorted(os.listdir(folder))
            if os.path.isdir(os.path.join(folder, d))]


def flags(args):
    """Megatron-style arguments as {flag: [values]}; a flag with no value
    maps to []."""
    out, key = {}, None
    for a in args:
        if a.startswith("--"):
            key = a
            out.setdefault(key, [])
        elif key is not None:
            out[key].append(a)
    return out


# What a target cannot run among the chosen plans (lib.sh's special
# table): (plan id, kind) -> a phrase of the one-line refusal.
REFUSED = {
    ("interleaved", "deepspeed"): "no interleaved schedule",
    ("interleaved405", "deepspeed"): "no interleaved schedule",
    ("zero2pp", "deepspeed"): "ZeRO-0 or 1",
    ("ramp", "deepspeed"): "no batch ramp",
}


def refusal(case):
    for (p, k), phrase in REFUSED.items():
        if case.id == "%s-%s-%s" % (p, case.cluster, k):
            return phrase
    return None
