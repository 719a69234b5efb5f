"""PyTorch peer of `npm run bench:vs-pytorch`: the project's networks and phases, timed the same way.

Networks (as in the project's backbones, and in the SupSup / ExSSNeT reference code):
- lenet: LeNet 300-100 of masked dense layers, bias-free, 28x28x1 inputs, 10 outputs;
- resnet18: the GEM reduced ResNet-18 (BasicBlock [2, 2, 2, 2], base width nf, 3x3 stride-1 stem,
  1x1 shortcut + BN where the shape changes, 1x1 conv head), bias-free masked convolutions,
  non-affine batch norm with running statistics, 32x32x1 inputs (Fashion-MNIST padded);
- resnet50: Bottleneck [3, 4, 6, 3], same conventions, 64x64x1 inputs (Fashion-MNIST padded).
Phases (density 0.1, Adam, batch 64):
- mask: weights frozen (signed constant), scores trained through the edge-popup top-k mask with the
  straight-through gradient. The top-k is the reference code's GetSubnet (a full sort of |scores|
  each step) unless --select kthvalue;
- weight: the mask fixed, the weights trained with their gradient masked to the mask (ExSSNeT's
  weight phase for the first task).
Prints one JSON line: {"net", "phase", "samples_per_second", "cpu_ms_per_step" (CPU time of the
process, every thread), "steps", "batch", "threads", "torch"}.
Synthetic inputs and labels (the cost of a step does not depend on the values). Exit 3 when torch
is missing (the caller reports the peer as not installed).
"""

import argparse
import json
import math
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    print(json.dumps({"error": "torch is not installed"}))
    sys.exit(3)


class GetSubnet(torch.autograd.Function):
    """Edge-popup top-k of |scores| with the straight-through gradient (the reference code)."""

    @staticmethod
    def forward(ctx, scores, density, select):
        flat = scores.abs().flatten()
        k = max(1, int(round(density * flat.numel())))
        out = torch.zeros_like(flat)
        if select == "sort":
            _, idx = flat.sort()
            out[idx[flat.numel() - k:]] = 1
        else:
            threshold = torch.kthvalue(flat, flat.numel() - k + 1).values
            out[flat >= threshold] = 1
        return out.view_as(scores)

    @staticmethod
    def backward(ctx, g):
        return g, None, None


class Masked:
    """Mixin: effective weight W * M, with M from the scores (mask phase) or fixed (weight phase)."""

    def setup_mask(self, phase, density, select):
        self.phase = phase
        self.density = density
        self.select = select
        fan_in = self.weight[0].numel()
        with torch.no_grad():
            self.weight.copy_(self.weight.sign() * math.sqrt(2.0 / fan_in))
        self.scores = nn.Parameter(torch.empty_like(self.weight))
        nn.init.kaiming_uniform_(self.scores, a=math.sqrt(5))
        self.weight.requires_grad_(phase == "weight")
        self.scores.requires_grad_(phase == "mask")
        if phase == "weight":
            fixed = GetSubnet.apply(self.scores.detach(), density, select)
            self.register_buffer("fixed_mask", fixed)
            self.weight.register_hook(lambda g: g * self.fixed_mask)

    def effective_weight(self):
        if self.phase == "mask":
            return self.weight * GetSubnet.apply(self.scores, self.density, self.select)
        return self.weight * self.fixed_mask


class MaskedLinear(nn.Linear, Masked):
    def forward(self, x):
        return F.linear(x, self.effective_weight())


class MaskedConv(nn.Conv2d, Masked):
    def forward(self, x):
        return F.conv2d(x, self.effective_weight(), None, self.stride, self.padding)


def bn(c):
    return nn.BatchNorm2d(c, affine=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, conv, cin, planes, stride):
        super().__init__()
        self.conv1, self.bn1 = conv(cin, planes, 3, stride, 1), bn(planes)
        self.conv2, self.bn2 = conv(planes, planes, 3, 1, 1), bn(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != planes:
            self.shortcut = nn.Sequential(conv(cin, planes, 1, stride, 0), bn(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, conv, cin, planes, stride):
        super().__init__()
        out = planes * 4
        self.c1, self.b1 = conv(cin, planes, 1, 1, 0), bn(planes)
        self.c2, self.b2 = conv(planes, planes, 3, stride, 1), bn(planes)
        self.c3, self.b3 = conv(planes, out, 1, 1, 0), bn(out)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != out:
            self.shortcut = nn.Sequential(conv(cin, out, 1, stride, 0), bn(out))

    def forward(self, x):
        h = F.relu(self.b1(self.c1(x)))
        h = F.relu(self.b2(self.c2(h)))
        return F.relu(self.b3(self.c3(h)) + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, conv, block, stages, nf, channels, outputs):
        super().__init__()
        self.stem, self.stem_bn = conv(channels, nf, 3, 1, 1), bn(nf)
        layers, cin = [], nf
        for s, count in enumerate(stages):
            for i in range(count):
                layers.append(block(conv, cin, nf * 2**s, 2 if (i == 0 and s > 0) else 1))
                cin = nf * 2**s * block.expansion
        self.blocks = nn.Sequential(*layers)
        self.head = conv(cin, outputs, 1, 1, 0)

    def forward(self, x):
        h = self.blocks(F.relu(self.stem_bn(self.stem(x))))
        h = F.adaptive_avg_pool2d(h, 1)
        return self.head(h).flatten(1)


class LeNet(nn.Module):
    def __init__(self, linear):
        super().__init__()
        self.fc = nn.ModuleList([linear(784, 300), linear(300, 100), linear(100, 10)])

    def forward(self, x):
        h = x.flatten(1)
        for i, layer in enumerate(self.fc):
            h = layer(h)
            if i < len(self.fc) - 1:
                h = F.relu(h)
        return h


def build(net, phase, density, select):
    def masked(module):
        module.setup_mask(phase, density, select)
        return module

    def conv(cin, cout, k, stride, pad):
        return masked(MaskedConv(cin, cout, k, stride, pad, bias=False))

    def linear(cin, cout):
        return masked(MaskedLinear(cin, cout, bias=False))

    if net == "lenet":
        return LeNet(linear), (1, 28, 28)
    if net == "resnet18":
        return ResNet(conv, BasicBlock, [2, 2, 2, 2], 20, 1, 10), (1, 32, 32)
    if net == "resnet50":
        return ResNet(conv, Bottleneck, [3, 4, 6, 3], 64, 1, 10), (1, 64, 64)
    raise SystemExit(f"unknown net {net}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--net", required=True, choices=["lenet", "resnet18", "resnet50"])
    p.add_argument("--phase", required=True, choices=["mask", "weight"])
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--density", type=float, default=0.1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--select", choices=["sort", "kthvalue"], default="sort")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model, shape = build(a.net, a.phase, a.density, a.select)
    model.train()
    params = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.Adam(params, lr=0.01 if a.phase == "mask" else 0.001)
    x = torch.randn(a.batch, *shape)
    y = torch.randint(0, 10, (a.batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    start = time.perf_counter()
    cpu_start = time.process_time()
    for _ in range(a.steps):
        step()
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    print(json.dumps({
        "net": a.net, "phase": a.phase, "samples_per_second": a.batch * a.steps / seconds, "steps": a.steps,
        "cpu_ms_per_step": 1000 * cpu_seconds / a.steps,
        "batch": a.batch, "threads": a.threads, "select": a.select, "seed": a.seed, "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
