#!/usr/bin/env python3
"""The Python peer of cadence's benchmarks: the seed solution's stack (PyTorch DataLoader +
albumentations 1.0.3 + timm EfficientNetV2-S behind a learned resizer), timed in three stages.

  input    Dataset (np.load -> ON panels 0,2,4 stacked to (819,256) -> per-panel standardisation ->
           VerticalFlip/ShiftScaleRotate/MotionBlur -> SpecAugment) in a DataLoader (batch 32,
           num_workers=T, shuffle) + per-batch mixup. samples/s over N samples after a warm-up.
  train    LearnedResizer + timm efficientnetv2_s (in_chans=1, num_classes=2), batch 8 of random
           (1,819,256) inputs, AdamW, soft-label cross entropy. samples/s over K steps after 1 warm-up.
  predict  TTA x16: 16 passes of a DataLoader (batch 8, num_workers=T) over N files with the training
           augmentations, eval mode, no_grad, softmax averaged over the rounds. samples/s = N / total.
  fit      (GPU, bench/gpu_compare.sh) the seed's training loop on real data: the input DataLoader
           (batch B, shuffle, pin_memory, num_workers=T) + mixup feeding the model on --device, AdamW,
           autocast (--amp) with a GradScaler, the loss read every step. samples/s of the last epoch
           and the share of its time spent waiting for the DataLoader. --compile: the model through
           torch.compile (what a PyTorch user reaches for; the first epoch pays the compilation).
  steps    (GPU, bench/gpu_compare.sh) where a training step's time goes, on random inputs of the fit's
           batch and size: the whole step eager with --amp (fp16 with its GradScaler), the resizer alone
           (its forward and backward) and the backbone alone at the resizer's output size, eager bf16
           (no GradScaler), and bf16 with the whole step (forward, backward, AdamW) captured in one CUDA
           graph and replayed; plus the share of the step's wall time the GPU is busy (the profiler's
           kernel time over the wall time) and the ten kernels that take the most of it.

On a GPU (--device cuda) train/predict/fit run there: cudnn.benchmark on, --amp fp16 autocast,
--channels-last as timm's train.py; the result adds torch.cuda's peak allocated/reserved memory.

Peak memory: a thread samples every 50 ms the summed Pss (proportional set size, so pages the workers
share copy-on-write with the parent count once) of this process and all its descendants (the
DataLoader workers), found through /proc/<pid>/task/*/children; the max is reported in MiB.

  python peer.py --data ROOT --threads T --stage input|train|predict|all --samples N --steps K --json OUT

`--stage all` runs each stage in a fresh child process (so one stage's memory does not count
towards the next) and merges the results.
"""
import argparse
import glob
import json
import os
import platform
import subprocess
import sys
import threading
import time
import warnings

warnings.filterwarnings("ignore", message=r".*scipy\.ndimage.*", category=DeprecationWarning)  # albumentations 1.0.3
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, RandomSampler

STAGES = ("input", "train", "predict")
AMP = {"off": None, "fp16": torch.float16, "bf16": torch.bfloat16}


def autocast(a):
    dtype = AMP[a.amp]
    if dtype is None:
        import contextlib
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(a.device).type, dtype=dtype)


def prepare(model, a):
    model = model.to(a.device)
    return model.to(memory_format=torch.channels_last) if a.channels_last else model


def maybe_compile(model, a):
    return torch.compile(model) if getattr(a, "compile", False) else model


def gpu_memory(a, r):
    """Adds torch.cuda's peak allocated and reserved MiB on a CUDA device."""
    if torch.device(a.device).type == "cuda":
        torch.cuda.synchronize()
        r["gpu_peak_allocated_mib"] = torch.cuda.max_memory_allocated() / 2**20
        r["gpu_peak_reserved_mib"] = torch.cuda.max_memory_reserved() / 2**20
    r.update({"device": a.device, "amp": a.amp, "channels_last": a.channels_last})
    return r
ON_PANELS = (0, 2, 4)


# ----------------------------------------------------------------------------------------------
# Peak memory: summed Pss of a process tree, sampled by a background thread.

def _children(pid):
    kids = []
    for f in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            with open(f) as fh:
                kids += [int(c) for c in fh.read().split()]
        except OSError:
            pass
    return kids


def _children_by_scan(pid):  # fallback for kernels without CONFIG_PROC_CHILDREN
    kids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as fh:
                    stat = fh.read()
                if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                    kids.append(int(d))
            except (OSError, ValueError):
                pass
    return kids


_HAVE_CHILDREN_FILE = os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")


def _proc_kib(path, key):
    """The kB value of the line starting with `key` in a /proc file, or None."""
    try:
        with open(path) as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _pss_kib(pid):
    """The process' proportional set size (Pss, kB): pages shared with other processes (the DataLoader
    workers' copy-on-write pages of the parent, shared libraries) are split between them, so summing it
    over a process tree counts each page once. Falls back to VmRSS where smaps_rollup is missing."""
    pss = _proc_kib(f"/proc/{pid}/smaps_rollup", "Pss:")
    if pss is None:
        pss = _proc_kib(f"/proc/{pid}/status", "VmRSS:")
    return pss or 0


def tree_pss_mib(root=None):
    """Summed Pss (MiB) of `root` (default: this process) and all its descendants."""
    root = os.getpid() if root is None else root
    list_children = _children if _HAVE_CHILDREN_FILE else _children_by_scan
    total, pending, seen = 0, [root], set()
    while pending:
        pid = pending.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += _pss_kib(pid)
        pending += list_children(pid)
    return total / 1024.0


class PeakRss:
    """Context manager: samples tree_pss_mib() every `interval` s; .peak is the max seen."""

    def __init__(self, interval=0.05):
        self.interval, self.peak = interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while True:
            self.peak = max(self.peak, tree_pss_mib())
            if self._stop.wait(self.interval):
                return

    def __enter__(self):
        self.peak = tree_pss_mib()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_pss_mib())


# ----------------------------------------------------------------------------------------------
# Data: the seed's Dataset, augmentations, SpecAugment and mixup.

def read_labels(root):
    ids, targets = [], []
    with open(os.path.join(root, "train_labels.csv")) as fh:
        header = fh.readline().strip().split(",")
        i_id, i_t = header.index("id"), header.index("target")
        for line in fh:
            parts = line.strip().split(",")
            if len(parts) > max(i_id, i_t):
                ids.append(parts[i_id])
                targets.append(float(parts[i_t]))
    if not ids:
        sys.exit(f"peer: no rows in {root}/train_labels.csv")
    return ids, targets


def make_augment():
    import albumentations as A
    return A.Compose([A.VerticalFlip(p=0.5), A.ShiftScaleRotate(p=0.5), A.MotionBlur(p=0.5)])


def spec_augment(img, p=0.5, alpha=0.1):
    """The seed's SpecAugment on an (H, W) image: with probability p zero one band of up to
    floor(alpha*H) rows and one of up to floor(alpha*W) columns, each start uniform inside the image."""
    if np.random.rand() >= p:
        return img
    img = img.copy()
    h, w = img.shape[:2]
    th = np.random.randint(0, int(alpha * h) + 1)
    t0 = np.random.randint(0, h - th + 1)
    img[t0:t0 + th, :] = 0
    fw = np.random.randint(0, int(alpha * w) + 1)
    f0 = np.random.randint(0, w - fw + 1)
    img[:, f0:f0 + fw] = 0
    return img


class SetiDataset(Dataset):
    """Kaggle layout: <root>/train/<id[0]>/<id>.npy, float16 (6, 273, 256). Returns a
    (1, 819, 256) float tensor, a 2-column soft label [1-t, t] and the index."""

    def __init__(self, root, ids, targets, augment=True):
        self.paths = [os.path.join(root, "train", i[0], i + ".npy") for i in ids]
        self.targets = targets
        self.aug = make_augment() if augment else None
        self.augment = augment

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        x = np.load(self.paths[i]).astype(np.float32)          # (6, 273, 256)
        x = x[list(ON_PANELS)]                                   # (3, 273, 256)
        mean = x.mean(axis=(1, 2), keepdims=True)
        std = x.std(axis=(1, 2), keepdims=True)
        x = (x - mean) / np.maximum(std, 1e-6)
        img = np.vstack(x)                                       # (819, 256)
        if self.augment:
            img = self.aug(image=img)["image"]
            img = spec_augment(img)
        img = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))[None]
        t = self.targets[i]
        label = torch.tensor([1.0 - t, t], dtype=torch.float32)
        return img, label, i


def mixup(x, y, p=0.5, alpha=1.0):
    """Per-batch mixup with probability p, lambda ~ Beta(alpha, alpha), soft labels."""
    if np.random.rand() >= p:
        return x, y
    lam = float(np.random.beta(alpha, alpha))
    perm = torch.randperm(x.size(0))
    return lam * x + (1 - lam) * x[perm], lam * y + (1 - lam) * y[perm]


# ----------------------------------------------------------------------------------------------
# Model: learned resizer (Talebi & Milanfar 2021) + timm EfficientNetV2-S.

class ResBlock(nn.Module):
    def __init__(self, n, slope):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(n, n, 3, padding=1, bias=False), nn.BatchNorm2d(n), nn.LeakyReLU(slope),
            nn.Conv2d(n, n, 3, padding=1, bias=False), nn.BatchNorm2d(n))

    def forward(self, x):
        return x + self.body(x)


class LearnedResizer(nn.Module):
    def __init__(self, channels=1, size=(256, 256), test_size=(256, 256), filters=16, blocks=1, slope=0.2):
        super().__init__()
        self.size, self.test_size, self.slope = tuple(size), tuple(test_size), slope
        n = filters
        self.conv1 = nn.Conv2d(channels, n, 7, padding=3)
        self.conv2 = nn.Conv2d(n, n, 1)
        self.bn2 = nn.BatchNorm2d(n)
        self.res = nn.Sequential(*[ResBlock(n, slope) for _ in range(blocks)])
        self.conv3 = nn.Conv2d(n, n, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(n)
        self.conv4 = nn.Conv2d(n, channels, 7, padding=3)

    def forward(self, x):
        hw = self.size if self.training else self.test_size
        skip = F.interpolate(x, size=hw, mode="bilinear", align_corners=False)
        y = F.leaky_relu(self.conv1(x), self.slope)
        y = self.bn2(F.leaky_relu(self.conv2(y), self.slope))
        z = F.interpolate(y, size=hw, mode="bilinear", align_corners=False)
        y = self.bn3(self.conv3(self.res(z))) + z
        return self.conv4(y) + skip


def make_model(arch, image_size):
    import timm
    return nn.Sequential(LearnedResizer(1, image_size, image_size),
                         timm.create_model(arch, pretrained=False, in_chans=1, num_classes=2))


def soft_ce(logits, y):
    return -(y * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


# ----------------------------------------------------------------------------------------------
# Stages. Each returns {"samples_per_s": .., "peak_rss_mib": .., ...}.

def stage_input(a):
    ids, targets = read_labels(a.data)
    ds = SetiDataset(a.data, ids, targets, augment=True)
    bs, warm = 32, a.warmup_batches * 32
    sampler = RandomSampler(ds, replacement=False, num_samples=warm + a.samples)  # reshuffles per pass
    with PeakRss() as mem:
        t0 = time.perf_counter()  # with --warmup-batches 0 the DataLoader's start (worker forks) is timed too
        dl = DataLoader(ds, batch_size=bs, sampler=sampler, num_workers=a.threads)
        it = iter(dl)
        seen = 0
        while seen < warm:
            x, y, _ = next(it)
            x, y = mixup(x, y)
            seen += x.size(0)
        if warm:
            seen, t0 = 0, time.perf_counter()
        for x, y, _ in it:
            x, y = mixup(x, y)
            seen += x.size(0)
        dt = time.perf_counter() - t0
        del it, dl
    return {"samples_per_s": seen / dt, "peak_rss_mib": mem.peak, "samples": seen, "seconds": dt,
            "batch_size": bs, "num_workers": a.threads, "warmup_samples": warm}


def make_step(model, a):
    """The seed's training step: AdamW, autocast (--amp) with a GradScaler, soft-label cross entropy.
    Returns step(x, y) -> float loss (read every step, as the seed's AverageMeter does)."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    scaler = torch.cuda.amp.GradScaler(enabled=a.amp == "fp16")

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        with autocast(a):
            loss = soft_ce(model(x).float(), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        return float(loss)
    return step


def stage_train(a):
    torch.manual_seed(0)
    bs = a.batch_size or 8
    with PeakRss() as mem:
        model = prepare(make_model(a.arch, a.image_size), a).train()
        train_step = make_step(model, a)
        x = torch.randn(bs, 1, 819, 256).to(a.device)
        if a.channels_last:
            x = x.to(memory_format=torch.channels_last)
        t = torch.rand(bs)
        y = torch.stack([1 - t, t], dim=1).to(a.device)

        def step():
            return train_step(x, y)

        step()  # warm-up
        t0 = time.perf_counter()
        for _ in range(a.steps):
            loss = step()
        dt = time.perf_counter() - t0
    return gpu_memory(a, {"samples_per_s": a.steps * bs / dt, "peak_rss_mib": mem.peak, "steps": a.steps,
                          "batch_size": bs, "seconds": dt, "last_loss": loss})


def stage_predict(a):
    ids, targets = read_labels(a.data)
    if a.samples > len(ids):
        sys.exit(f"peer: --samples {a.samples} > {len(ids)} files in {a.data}")
    ds = SetiDataset(a.data, ids[:a.samples], targets[:a.samples], augment=True)
    bs, rounds = a.batch_size or 8, 16
    gpu = torch.device(a.device).type == "cuda"
    with PeakRss() as mem:
        model = prepare(make_model(a.arch, a.image_size), a).eval()
        with torch.no_grad(), autocast(a):
            w = torch.randn(bs, 1, 819, 256).to(a.device)
            model(w.to(memory_format=torch.channels_last) if a.channels_last else w)  # warm-up forward, not timed
            probs = torch.zeros(len(ds), 2)
            t0 = time.perf_counter()
            for _ in range(rounds):
                dl = DataLoader(ds, batch_size=bs, shuffle=False, num_workers=a.threads, pin_memory=gpu)
                for x, _, idx in dl:
                    x = x.to(a.device, non_blocking=True)
                    if a.channels_last:
                        x = x.to(memory_format=torch.channels_last)
                    probs[idx] += F.softmax(model(x).float(), dim=1).cpu()
            probs /= rounds
            dt = time.perf_counter() - t0
    return gpu_memory(a, {"samples_per_s": len(ds) / dt, "peak_rss_mib": mem.peak, "samples": len(ds), "tta": rounds,
                          "batch_size": bs, "num_workers": a.threads, "seconds": dt,
                          "mean_p1": float(probs[:, 1].mean())})


def stage_fit(a):
    """The seed's training loop on real data: DataLoader (augment on the CPU workers) + mixup -> device."""
    torch.manual_seed(0)
    ids, targets = read_labels(a.data)
    ds = SetiDataset(a.data, ids, targets, augment=True)
    bs = a.batch_size or 32
    gpu = torch.device(a.device).type == "cuda"
    with PeakRss() as mem:
        model = prepare(make_model(a.arch, a.image_size), a).train()
        step = make_step(maybe_compile(model, a), a)
        dl = DataLoader(ds, batch_size=bs, shuffle=True, num_workers=a.threads, pin_memory=gpu, drop_last=True,
                        persistent_workers=a.threads > 0)
        epochs = []
        for _ in range(a.epochs):
            seen, waited, t0 = 0, 0.0, time.perf_counter()
            it = iter(dl)
            while True:
                t = time.perf_counter()
                try:
                    x, y, _ = next(it)
                except StopIteration:
                    break
                waited += time.perf_counter() - t
                x, y = mixup(x, y)
                x, y = x.to(a.device, non_blocking=True), y.to(a.device, non_blocking=True)
                if a.channels_last:
                    x = x.to(memory_format=torch.channels_last)
                step(x, y)
                seen += x.size(0)
            dt = time.perf_counter() - t0
            epochs.append({"samples_per_s": seen / dt, "data_wait": waited / dt, "samples": seen, "seconds": dt})
        del dl
    last = epochs[-1]
    return gpu_memory(a, {"samples_per_s": last["samples_per_s"], "data_wait": last["data_wait"], "epochs": epochs,
                          "peak_rss_mib": mem.peak, "batch_size": bs, "num_workers": a.threads,
                          "compiled": bool(getattr(a, "compile", False))})


def _timed(fn, steps, device):
    """Seconds per call of fn over `steps` calls after two warm-up calls, the device synchronised."""
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    for _ in range(2):
        fn()
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    sync()
    return (time.perf_counter() - t0) / steps


def _profile_step(step, x, y, r):
    from torch.profiler import profile, ProfilerActivity
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(5):
            step(x, y)
        torch.cuda.synchronize()
        wall = time.perf_counter() - t0
    events = prof.key_averages()
    attr = "device_time_total" if hasattr(events[0], "device_time_total") else "cuda_time_total"
    kernels = [e for e in events if getattr(e, "device_type", None) is not None
               and str(e.device_type).endswith("CUDA") and getattr(e, attr, 0) > 0]
    busy_us = sum(getattr(e, "self_device_time_total", getattr(e, "self_cuda_time_total", 0)) for e in kernels)
    r["gpu_busy_share"] = busy_us / 1e6 / wall
    r["kernel_launches_per_step"] = sum(e.count for e in kernels) / 5
    top = sorted(kernels, key=lambda e: -getattr(e, "self_device_time_total", getattr(e, "self_cuda_time_total", 0)))[:10]
    r["top_kernels"] = [{"name": e.key[:120], "ms_per_step": getattr(e, "self_device_time_total",
                         getattr(e, "self_cuda_time_total", 0)) / 1e3 / 5, "calls_per_step": e.count / 5} for e in top]


def stage_steps(a):
    """Where the GPU training step's time goes (see the module's docstring). Random inputs, no loader."""
    torch.manual_seed(0)
    bs, steps = a.batch_size or 32, a.steps
    cuda = torch.device(a.device).type == "cuda"
    x = torch.randn(bs, 1, 819, 256, device=a.device)
    t = torch.rand(bs, device=a.device)
    y = torch.stack([1 - t, t], dim=1)
    cl = (lambda v: v.contiguous(memory_format=torch.channels_last)) if a.channels_last else (lambda v: v)
    x = cl(x)
    r = {"batch_size": bs, "steps": steps, "amp": a.amp}

    def variant(amp):
        b = argparse.Namespace(**vars(a))
        b.amp = amp
        return b

    # the whole step, eager, as the fit stage runs it (--amp, fp16 with its GradScaler)
    model = prepare(make_model(a.arch, a.image_size), a).train()
    step = make_step(model, a)
    r["eager"] = _timed(lambda: step(x, y), steps, a.device)
    # its parts: the resizer alone (forward + backward of a scalar of its output), the backbone alone on the
    # resizer's output size (forward + backward + AdamW, as the whole step)
    resizer, backbone = model[0], model[1]

    def resizer_step():
        with autocast(a):
            out = resizer(x)
        out.float().mean().backward()
    r["resizer_fwd_bwd"] = _timed(resizer_step, steps, a.device)
    z = cl(torch.randn(bs, 1, *a.image_size, device=a.device))
    bstep = make_step(backbone, a)
    r["backbone_step"] = _timed(lambda: bstep(z, y), steps, a.device)
    # the share of the eager step's wall time the GPU is busy, and the kernels that take the most of it
    if cuda:
        try:
            _profile_step(step, x, y, r)
        except Exception as e:  # a profiler API that moved must not cost the timings around it
            r["profile_error"] = repr(e)[:300]
    del step, bstep, model
    # eager bf16 (no GradScaler), then the same step captured whole in a CUDA graph
    b = variant("bf16")
    model = prepare(make_model(a.arch, a.image_size), b).train()
    step = make_step(model, b)
    r["eager_bf16"] = _timed(lambda: step(x, y), steps, a.device)
    del step, model
    if cuda:
        try:
            _graph_step(a, b, x, y, r, steps)
        except Exception as e:  # capture can fail on a module that syncs; say so and keep the other rows
            r["graph_error"] = repr(e)[:300]
    r["samples_per_s"] = bs / r["eager"]
    r["peak_rss_mib"] = 0.0
    return gpu_memory(a, r)


def _graph_step(a, b, x, y, r, steps):
    """bf16 training step (forward, backward, AdamW) captured whole in one CUDA graph, replayed."""
    model = prepare(make_model(a.arch, a.image_size), b).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2, capturable=True)
    sx, sy = x.clone(), y.clone()

    def body():
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, cache_enabled=False):
            loss = soft_ce(model(sx).float(), sy)
        loss.backward()
        opt.step()
        return loss
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up outside the graph: cuDNN's autotuner, AdamW's state
        for _ in range(3):
            opt.zero_grad(set_to_none=True)
            body()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    opt.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        static_loss = body()

    def replay():
        sx.copy_(x)
        sy.copy_(y)
        graph.replay()
        return float(static_loss)  # the loss read every step, as the eager steps do
    r["graph_bf16"] = _timed(replay, steps, a.device)
    r["graph_bf16_loss_finite"] = bool(torch.isfinite(static_loss).item())
    del graph, opt, model


# ----------------------------------------------------------------------------------------------

def versions():
    import albumentations
    import cv2
    import timm
    import torchvision
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"gpu": gpu, "cuda": torch.version.cuda,"python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
            "timm": timm.__version__, "albumentations": albumentations.__version__, "numpy": np.__version__,
            "opencv": cv2.__version__, "torch_file": torch.__file__, "debian_python3_torch": _dpkg("python3-torch"),
            "mkldnn": torch.backends.mkldnn.is_available(), "torch_num_threads": torch.get_num_threads(),
            "cpus": os.cpu_count(), "machine": platform.machine(), "platform": platform.platform()}


def _dpkg(pkg):  # Debian's torch reports 1.13.0a0; the package says 1.13.1+dfsg-...
    try:
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True,
                              check=True).stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None


def report(name, r):
    print(f"peer {name:7s}: {r['samples_per_s']:9.2f} samples/s   peak memory (Pss) {r['peak_rss_mib']:8.1f} MiB", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="dataset root in the Kaggle layout (needed by input and predict)")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads and DataLoader workers")
    p.add_argument("--stage", choices=STAGES + ("fit", "steps", "all"), default="all")
    p.add_argument("--samples", type=int, default=256, help="input: samples timed; predict: files predicted")
    p.add_argument("--predict-samples", type=int, help="with --stage all: predict's N (default --samples)")
    p.add_argument("--steps", type=int, default=5, help="train: timed steps (after 1 warm-up step)")
    p.add_argument("--warmup-batches", type=int, default=2, help="input: batches before the timer starts")
    p.add_argument("--arch", default="efficientnetv2_s")
    p.add_argument("--image-size", type=int, nargs=2, default=[256, 256], metavar=("H", "W"),
                   help="the resizer's output, train and eval")
    p.add_argument("--device", default="cpu", help="cpu or cuda (train, predict, fit)")
    p.add_argument("--amp", choices=tuple(AMP), default="off", help="autocast dtype (fp16 with a GradScaler)")
    p.add_argument("--channels-last", action="store_true", help="NHWC weights and inputs, as timm's --channels-last")
    p.add_argument("--batch-size", type=int, default=0, help="train/predict/fit batch (0: 8, 8, 32)")
    p.add_argument("--epochs", type=int, default=2, help="fit: epochs over the dataset; the last one is timed")
    p.add_argument("--compile", action="store_true", help="fit: the model through torch.compile")
    p.add_argument("--json", help="write the results here")
    a = p.parse_args()
    if a.threads < 1:
        p.error("--threads must be >= 1")
    if torch.device(a.device).type == "cuda":
        torch.backends.cudnn.benchmark = True  # as the seed
    if a.stage in ("input", "predict", "fit", "all") and not a.data:
        p.error("--data is needed for input and predict")
    torch.set_num_threads(a.threads)

    results = {}
    if a.stage == "all":  # one child process per stage: each stage's peak memory is its own
        import tempfile
        for s in STAGES:
            with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tf:
                out = tf.name
            n = a.predict_samples if (s == "predict" and a.predict_samples) else a.samples
            cmd = [sys.executable, os.path.abspath(__file__), "--stage", s, "--threads", str(a.threads),
                   "--samples", str(n), "--steps", str(a.steps), "--warmup-batches", str(a.warmup_batches),
                   "--arch", a.arch, "--image-size", *map(str, a.image_size), "--json", out]
            if a.data:
                cmd += ["--data", a.data]
            subprocess.run(cmd, check=True)
            with open(out) as fh:
                results[s] = json.load(fh)[s]
            os.unlink(out)
    else:
        results[a.stage] = {"input": stage_input, "train": stage_train, "predict": stage_predict, "fit": stage_fit,
                            "steps": stage_steps}[a.stage](a)
        report(a.stage, results[a.stage])
    for s in results:
        results[s]["threads"] = a.threads
    results["versions"] = versions()
    if a.json:
        tmp = a.json + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(results, fh, indent=2)
        os.replace(tmp, a.json)


if __name__ == "__main__":
    main()
