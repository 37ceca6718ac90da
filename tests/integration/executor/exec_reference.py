#!/usr/bin/env python3
"""exec_reference.py: dml-exec re-implemented from executor/README.md
("Reproducing a run") alone, in plain Python (no numpy), to check that
the documentation says everything a run depends on.

    exec_reference.py PLAN.json DATA_DIR SEED none|epoch STEPS OUT.json

Trains the plan's MLP (fp32 spec; the arithmetic here is double, so it
matches dml-exec to float32 rounding, not bitwise) on the Fashion-MNIST
IDX files of DATA_DIR for STEPS steps and writes {"losses": [...],
"weights": [[W rows..., b], ...], "test_accuracy": A} (the weights
after the last step, and the fraction of the t10k files' samples whose
largest logit is their label).
Small models only: a 784-16-10 MLP takes about a second a step.
"""
import gzip
import json
import math
import struct
import sys

M64 = (1 << 64) - 1


def f32(x):
    """Round a double to float32, as C's (float) cast does."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


class Rng:
    """xoshiro256** seeded by four calls of splitmix64 (common/rng.c)."""

    def __init__(self, seed):
        x = seed & M64
        self.s = []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & M64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            self.s.append(z ^ (z >> 31))

    @staticmethod
    def rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & M64

    def next(self):
        s = self.s
        result = (self.rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self.rotl(s[3], 45)
        return result

    def uniform(self):
        return (self.next() >> 11) * 2.0 ** -53

    def below(self, n):
        limit = M64 - M64 % n
        while True:
            x = self.next()
            if x < limit:
                return x % n


def read_idx(path):
    raw = gzip.open(path).read()
    magic = struct.unpack(">I", raw[:4])[0]
    dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * dims, raw[4:4 + 4 * dims])
    return shape, raw[4 + 4 * dims:]


def load(data_dir, split="train"):
    shape, pixels = read_idx(f"{data_dir}/{split}-images-idx3-ubyte.gz")
    _, labels = read_idx(f"{data_dir}/{split}-labels-idx1-ubyte.gz")
    n, dim = shape[0], shape[1] * shape[2]
    return n, dim, pixels, labels


def init_weights(widths, acts, seed):
    layers = []
    for i in range(len(widths) - 1):
        fan_in, fan_out = widths[i], widths[i + 1]
        if acts[i] in ("relu", "gelu"):
            bound = math.sqrt(6.0 / fan_in)
        else:
            bound = math.sqrt(6.0 / (fan_in + fan_out))
        r = Rng(seed ^ ((0xD1B54A32D192ED03 * (i + 1)) & M64))
        W = [[f32((2.0 * r.uniform() - 1.0) * bound) for _ in range(fan_in)]
             for _ in range(fan_out)]
        layers.append([W, [0.0] * fan_out])
    return layers


class Order:
    def __init__(self, n, shuffle, seed):
        self.n, self.shuffle, self.seed = n, shuffle, seed
        self.epoch, self.perm = -1, None

    def sample(self, q):
        if not self.shuffle:
            return q % self.n
        e = q // self.n
        if e != self.epoch:
            r = Rng((self.seed + e * 0x9E3779B97F4A7C15) & M64)
            perm = list(range(self.n))
            for i in range(self.n, 1, -1):
                j = r.below(i)
                perm[i - 1], perm[j] = perm[j], perm[i - 1]
            self.epoch, self.perm = e, perm
        return self.perm[q % self.n]


def activation(kind, z):
    if kind == "relu":
        return z if z > 0 else 0.0
    if kind == "tanh":
        return math.tanh(z)
    raise SystemExit(f"exec_reference: activation {kind} not implemented")


def activation_grad(kind, z, a):
    if kind == "relu":
        return 1.0 if z > 0 else 0.0
    return 1.0 - a * a


def lr_at(s, step):
    peak, low = s["peak_lr"], s.get("min_lr", 0.0)
    warm, decay = s.get("warmup_steps", 0), s.get("decay_steps", 0)
    if step < warm:
        return peak * (step + 1) / warm
    kind = s.get("decay", "cosine")
    if kind == "constant" or decay <= 0:
        return peak
    p = (step - warm) / decay
    if p >= 1:
        return low
    if kind == "linear":
        return peak - (peak - low) * p
    return low + (peak - low) * 0.5 * (1.0 + math.cos(math.pi * p))


def logits(layers, acts, x):
    a = x
    for i, (W, b) in enumerate(layers):
        z = [sum(wr[c] * a[c] for c in range(len(a))) + b[o]
             for o, wr in enumerate(W)]
        a = [activation(acts[i], v) for v in z] if acts[i] else z
    return a


def test_accuracy(layers, acts, data_dir):
    n, dim, pixels, labels = load(data_dir, "t10k")
    right = 0
    for i in range(n):
        z = logits(layers, acts,
                   [f32(p / 255.0) for p in pixels[i * dim:(i + 1) * dim]])
        right += max(range(len(z)), key=lambda j: (z[j], -j)) == labels[i]
    return right / n


def step_gradients(layers, acts, xs, ys):
    """Mean loss over the batch and the gradient of the mean."""
    B = len(xs)
    grads = [[[[0.0] * len(W[0]) for _ in W], [0.0] * len(b)]
             for W, b in layers]
    total = 0.0
    for x, y in zip(xs, ys):
        inputs, pre, post = [], [], []
        a = x
        for i, (W, b) in enumerate(layers):
            z = [sum(wr[c] * a[c] for c in range(len(a))) + b[o]
                 for o, wr in enumerate(W)]
            inputs.append(a)
            pre.append(z)
            a = [activation(acts[i], v) for v in z] if acts[i] else z
            post.append(a)
        zmax = max(a)
        lse = math.log(sum(math.exp(v - zmax) for v in a))
        total += lse - (a[y] - zmax)
        d = [(math.exp(v - zmax - lse) - (1.0 if j == y else 0.0)) / B
             for j, v in enumerate(a)]
        for i in range(len(layers) - 1, -1, -1):
            if acts[i]:
                d = [d[o] * activation_grad(acts[i], pre[i][o], post[i][o])
                     for o in range(len(d))]
            gW, gb = grads[i]
            inp = inputs[i]
            for o, do in enumerate(d):
                if do:
                    row = gW[o]
                    for c in range(len(inp)):
                        row[c] += do * inp[c]
                gb[o] += do
            if i:
                W = layers[i][0]
                d = [sum(d[o] * W[o][c] for o in range(len(d)))
                     for c in range(len(inp))]
    return total / B, grads


def update(kind, s, t, lr, values, grads, state, bias):
    """One tensor (a flat list) by the README's rule; biases: no decay,
    no trust ratio."""
    wd = 0.0 if bias else s.get("weight_decay", 0.0)
    mu = s.get("momentum", 0.9)
    b1, b2 = s.get("beta1", 0.9), s.get("beta2", 0.999)
    eps = s.get("eps", 1e-8)
    n = len(values)
    m = state.setdefault("m", [0.0] * n)
    if kind == "sgd":
        for k in range(n):
            m[k] = mu * m[k] + grads[k] + wd * values[k]
            values[k] -= lr * m[k]
        return
    if kind == "lars":
        wn = math.sqrt(sum(w * w for w in values))
        gn = math.sqrt(sum(g * g for g in grads))
        local = 0.001 * wn / (gn + wd * wn) if not bias and wn > 0 and gn > 0 \
            else 1.0
        for k in range(n):
            m[k] = mu * m[k] + lr * local * (grads[k] + wd * values[k])
            values[k] -= m[k]
        return
    v = state.setdefault("v", [0.0] * n)
    c1, c2 = 1.0 - b1 ** t, 1.0 - b2 ** t
    if kind == "adamw":
        for k in range(n):
            values[k] *= 1.0 - lr * wd
    u = []
    for k in range(n):
        g = grads[k] + (wd * values[k] if kind == "adam" else 0.0)
        m[k] = b1 * m[k] + (1 - b1) * g
        v[k] = b2 * v[k] + (1 - b2) * g * g
        u.append(m[k] / c1 / (math.sqrt(v[k] / c2) + eps) +
                 (wd * values[k] if kind == "lamb" else 0.0))
    ratio = 1.0
    if kind == "lamb" and not bias:
        wn = math.sqrt(sum(w * w for w in values))
        un = math.sqrt(sum(x * x for x in u))
        ratio = wn / un if wn > 0 and un > 0 else 1.0
    for k in range(n):
        values[k] -= lr * ratio * u[k]


def main():
    if len(sys.argv) != 7:
        raise SystemExit(__doc__)
    plan = json.load(open(sys.argv[1]))
    data_dir, seed = sys.argv[2], int(sys.argv[3])
    shuffle, steps, out = sys.argv[4] == "epoch", int(sys.argv[5]), sys.argv[6]
    model, s = plan["model"], plan["schedule"]
    widths = [model["input"]] + model["hidden"] + [model["output"]]
    act = model.get("activation", "relu")
    acts = [act] * (len(widths) - 2) + [None]
    n, dim, pixels, labels = load(data_dir)
    layers = init_weights(widths, acts, seed)
    order = Order(n, shuffle, seed)
    B = s["global_batch"]
    states = [[{}, {}] for _ in layers]
    losses = []
    for step in range(steps):
        idx = [order.sample(step * B + r) for r in range(B)]
        xs = [[f32(p / 255.0) for p in pixels[i * dim:(i + 1) * dim]]
              for i in idx]
        ys = [labels[i] for i in idx]
        loss, grads = step_gradients(layers, acts, xs, ys)
        losses.append(loss)
        lr = lr_at(s, step)
        for li, (W, b) in enumerate(layers):
            flat = [w for row in W for w in row]
            gflat = [g for row in grads[li][0] for g in row]
            update(s["optimizer"], s, step + 1, lr, flat, gflat,
                   states[li][0], False)
            cols = len(W[0])
            layers[li][0] = [flat[o * cols:(o + 1) * cols]
                             for o in range(len(W))]
            update(s["optimizer"], s, step + 1, lr, b, grads[li][1],
                   states[li][1], True)
    json.dump({"losses": losses, "weights": layers,
               "test_accuracy": test_accuracy(layers, acts, data_dir)},
              open(out, "w"))


if __name__ == "__main__":
    main()
