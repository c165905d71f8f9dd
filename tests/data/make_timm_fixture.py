#!/usr/bin/env python3
"""Oracle fixture for cadence's EfficientNetV2 (C++/LibTorch), made by timm itself.

Regenerate (run from the repository root):

    apt-get install -y python3-torch python3-torchvision                   # once (Debian torch 1.13.1)
    /usr/bin/python3 -m venv --system-site-packages /work/venv-timm        # once
    /work/venv-timm/bin/pip install --no-deps timm==1.0.31                  # once (--no-deps: keep Debian torch)
    /work/venv-timm/bin/pip install huggingface_hub safetensors==0.8.0 pyyaml  # once (timm's light deps)
    /work/venv-timm/bin/python tests/data/make_timm_fixture.py

Generated with timm 1.0.31 on Debian's torch 1.13.1 (reports 1.13.0a0) and torchvision
0.14.1 (python3-torchvision, needed only because timm.layers imports it).  A plain
`pip install timm` pulls a torch 2.x wheel; don't, the --no-deps line above avoids it.
No pretrained weights are downloaded: everything is random init with fixed seeds.

Writes tests/data/timm/:

  keys_efficientnetv2_s.txt   one line per state_dict entry, in state_dict order:
  keys_efficientnetv2_m.txt     "<name> <shape>"  shape = comma-separated ints, "-" for 0-d
                                (num_batches_tracked).  num_classes=1000, in_chans=3.
                                tf_efficientnetv2_{s,m} have identical keys and shapes (checked
                                below; counts.json "tf_keys_identical"), so no separate files.
  counts.json                 {"versions", "params": {model: sum(numel) over parameters()},
                               "state_dict_entries": {model: n}, "tf_keys_identical": {...}}
  blocks_efficientnetv2.json  per block of efficientnetv2_s / _m (tf_ identical but padding):
                               type, in/mid/out/rd channels, kernel, stride, has_skip, and the
                               drop_path prob each block gets with drop_path_rate=0.2.
  tiny.json / tiny_tf.json    the tiny model definition (arch_def strings, stem, num_features,
                               bn eps/momentum, pad_type, in_chans, num_classes), its expanded
                               blocks, per-stage output shapes for input.npy, file names, and
                               (tf) "same_pads": [left, right, top, bottom] per dynamic conv call.
  tiny.pt / tiny_tf.pt        torch.save(dict(model.state_dict())) (default zipfile format, but a
                               plain dict: libtorch 1.13 torch::pickle_load can't read the
                               OrderedDict that state_dict() returns, see save_sd), with
                               randomized BN affine + running stats (num_batches_tracked = 7),
                               SE / classifier biases.
  tiny.safetensors            the same tensors as tiny.pt in safetensors format (header order is
                               safetensors', not state_dict order: look tensors up by name).
  input.npy                   float32 (2, 1, 67, 45), standard normal, default_rng(1234).
                               NB: for k3/s2, TF 'same' pads total max((ceil(n/2)-1)*2+3-n, 0):
                               2 for odd n -> (1, 1) symmetric, 1 for even n -> (0, 1).  So the
                               stem (67x45) is symmetric here, the later stride-2 convs see 34 and 12
                               and are asymmetric in one dimension each.
  input_even.npy              float32 (2, 1, 66, 44), next draw of the same rng: asymmetric stem.
  tiny_eval_logits.npy        float32 (2, 2)  model.eval()(input)
  tiny_eval_logits_even.npy   float32 (2, 2)  model.eval()(input_even)
  tiny_train_logits.npy       float32 (2, 2)  model.train()(input), fresh copy of tiny.pt, BN on
                               batch stats, drop_rate=0, drop_path_rate=0 (so deterministic)
  tiny_after_train_buffers.pt the BN buffers (running_mean/var, num_batches_tracked) after that one
                               train forward: momentum 0.1, unbiased batch var, num_batches_tracked 8
  tiny_tf_*                   the same for tiny_tf (pad_type='same', bn eps 1e-3; no .safetensors)
  tiny_in3.pt                 state_dict of the tiny (torch padding) model built with in_chans=3
  tiny_in3_adapted_stem.npy   float32 (8, 1, 3, 3) = timm adapt_input_conv(1, conv_stem.weight)
                               (sum over the RGB input channels)
  tiny_in3_adapted_stem_in2.npy / _in4.npy   adapt_input_conv(2|4, ...): channels repeated
                               (cycled) to in_chans then scaled by 3/in_chans

`--only import` (re)writes just the files below (the others stay byte for byte):

  input6.npy                  float32 (2, 6, 67, 45), standard normal, default_rng(4321)
  tiny_stem12_eval_logits.npy, tiny_stem12_eval_logits_even.npy, tiny_tf_stem12_eval_logits.npy,
  tiny_tf_stem12_eval_logits_even.npy  float32 (2, 2): tiny.pt (tiny_tf.pt) with conv_stem.stride set
                               to (1, 2), eval mode, on input.npy (input_even.npy); written alone by
                               `make_timm_fixture.py --only stem_stride`
  tiny_in3_as_in1_eval_logits.npy  float32 (2, 2): tiny_in3.pt loaded into a tiny model built with
  tiny_in3_as_in6_eval_logits.npy  in_chans=1 (6) by timm's own pretrained-weights path
                               (timm.models._builder.load_pretrained, what create_model(...,
                               pretrained=True, in_chans=C) calls: adapt_input_conv on the stem),
                               eval mode, on input.npy (input6.npy)
  tiny_in3_oracle.json        the versions and the pretrained_cfg used
  tiny_named.pt               tiny.pt's tensors plus "timm_model": "tf_efficientnetv2_s.in21k", as
                               samples/seti/export_timm.py records the model name in a .pt dict
  tiny_ordereddict.pt         torch.save(model.state_dict()) as is: an OrderedDict (refused, with how
                               to convert it)
"""
import json
import os
import sys
from functools import partial

import numpy as np
import torch
import torch.nn as nn

import safetensors.torch
import timm
from timm.models.efficientnet import EfficientNet
from timm.models._efficientnet_builder import (
    decode_arch_def, round_channels, resolve_act_layer, BN_EPS_TF_DEFAULT)
from timm.models._efficientnet_blocks import ConvBnAct, EdgeResidual, InvertedResidual, SqueezeExcite
from timm.models._manipulate import adapt_input_conv
from timm.layers import Conv2dSame
from timm.layers.padding import pad_same_arg

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, 'timm')

TINY_ARCH = [
    ['cn_r1_k3_s1_e1_c8_skip'],
    ['er_r2_k3_s2_e4_c16'],
    ['ir_r2_k3_s2_e4_c24_se0.25'],
    ['ir_r1_k3_s1_e6_c32_se0.25'],
]
TINY_STEM = 8
TINY_NUM_FEATURES = 64
TINY_CLASSES = 2
INPUT_SHAPE = (2, 1, 67, 45)
INPUT_EVEN_SHAPE = (2, 1, 66, 44)   # k3/s2 'same' pads (0, 1) on even sizes: covers the stem too


def versions():
    import torchvision
    return {'timm': timm.__version__, 'torch': torch.__version__, 'torchvision': torchvision.__version__,
            'numpy': np.__version__, 'python': sys.version.split()[0]}


def save_sd(sd, path):
    """torch.save of the state_dict as a plain dict (default zipfile format).

    model.state_dict() is a collections.OrderedDict; libtorch 1.13's torch::pickle_load turns the
    OrderedDict global into None (jit Unpickler::readGlobal) and then fails ('Expected GenericDict
    but got None').  A plain dict (insertion order = state_dict order) loads as a GenericDict.
    """
    torch.save({k: v.detach().clone() for k, v in sd.items()}, path)


def shape_str(t):
    return ','.join(str(s) for s in t.shape) if t.dim() > 0 else '-'


def write_keys(model, path):
    with open(path, 'w') as f:
        for k, v in model.state_dict().items():
            f.write(f'{k} {shape_str(v)}\n')


def conv_info(conv):
    """Padding as applied: 'same-dynamic' for Conv2dSame, else the static symmetric padding."""
    if isinstance(conv, Conv2dSame):
        pad = 'same-dynamic'
    else:
        pad = list(conv.padding)
    return dict(kernel=conv.kernel_size[0], stride=conv.stride[0], dilation=conv.dilation[0],
                groups=conv.groups, padding=pad)


def describe_blocks(model):
    out = []
    for si, stage in enumerate(model.blocks):
        for bi, b in enumerate(stage):
            d = dict(name=f'blocks.{si}.{bi}', has_skip=bool(b.has_skip),
                     drop_path=float(getattr(b.drop_path, 'drop_prob', 0.0)))
            if isinstance(b, ConvBnAct):
                d.update(type='cn', in_chs=b.conv.in_channels, out_chs=b.conv.out_channels,
                         conv=conv_info(b.conv))
            elif isinstance(b, EdgeResidual):
                d.update(type='er', in_chs=b.conv_exp.in_channels, mid_chs=b.conv_exp.out_channels,
                         out_chs=b.conv_pwl.out_channels, conv_exp=conv_info(b.conv_exp))
            elif isinstance(b, InvertedResidual):
                d.update(type='ir', in_chs=b.conv_pw.in_channels, mid_chs=b.conv_pw.out_channels,
                         out_chs=b.conv_pwl.out_channels, conv_dw=conv_info(b.conv_dw))
            else:
                raise TypeError(type(b))
            se = getattr(b, 'se', None)
            d['se_rd_chs'] = se.conv_reduce.out_channels if isinstance(se, SqueezeExcite) else 0
            out.append(d)
    return out


def build_tiny(tf, in_chans=1, seed=0):
    """timm's own EfficientNet + builder, wired exactly as _gen_efficientnetv2_s does."""
    torch.manual_seed(seed)
    kwargs = {}
    if tf:
        kwargs = dict(bn_eps=BN_EPS_TF_DEFAULT, pad_type='same')   # as tf_efficientnetv2_s does
    pad_type = kwargs.pop('pad_type', '')
    from timm.models._efficientnet_builder import resolve_bn_args
    round_chs_fn = partial(round_channels, multiplier=1.0)
    model = EfficientNet(
        block_args=decode_arch_def(TINY_ARCH, 1.0),
        num_features=round_chs_fn(TINY_NUM_FEATURES),
        stem_size=TINY_STEM,
        round_chs_fn=round_chs_fn,
        norm_layer=partial(nn.BatchNorm2d, **resolve_bn_args(kwargs)),
        act_layer=resolve_act_layer({}, 'silu'),
        pad_type=pad_type,
        in_chans=in_chans,
        num_classes=TINY_CLASSES,
        drop_rate=0.0,
        drop_path_rate=0.0,
    )
    return model


@torch.no_grad()
def randomize(model, seed):
    """Make eval-mode parity meaningful: non-trivial BN affine/running stats and biases."""
    g = torch.Generator().manual_seed(seed)
    for name, m in model.named_modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.weight.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.num_batches_tracked.fill_(7)
        elif isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None:
            m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)


def stage_shapes(model, x):
    shapes = {}
    hooks = [model.bn1.register_forward_hook(lambda m, i, o: shapes.__setitem__('stem', list(o.shape)))]
    for si, stage in enumerate(model.blocks):
        hooks.append(stage.register_forward_hook(
            lambda m, i, o, si=si: shapes.__setitem__(f'blocks.{si}', list(o.shape))))
    hooks.append(model.bn2.register_forward_hook(lambda m, i, o: shapes.__setitem__('head', list(o.shape))))
    model(x)
    for h in hooks:
        h.remove()
    return shapes


def same_pads(model, x):
    """(module, input HxW, [left, right, top, bottom]) for every dynamic-'same' conv."""
    rec = []
    hooks = []
    for name, m in model.named_modules():
        if isinstance(m, Conv2dSame):
            def pre(mod, inp, name=name):
                ih, iw = inp[0].shape[-2:]
                rec.append(dict(module=name, in_hw=[ih, iw],
                                pad_lrtb=[int(v) for v in pad_same_arg([ih, iw], mod.weight.shape[-2:],
                                                                        mod.stride, mod.dilation)]))
            hooks.append(m.register_forward_pre_hook(pre))
    model(x)
    for h in hooks:
        h.remove()
    return rec


def make_tiny(prefix, tf, seed, x, x_even):
    model = build_tiny(tf, seed=seed)
    randomize(model, seed + 100)
    sd_path = os.path.join(OUT, f'{prefix}.pt')
    save_sd(model.state_dict(), sd_path)
    if not tf:
        safetensors.torch.save_file({k: v.contiguous() for k, v in model.state_dict().items()},
                                    os.path.join(OUT, f'{prefix}.safetensors'))

    model.eval()
    with torch.no_grad():
        eval_logits = model(x)
        shapes = stage_shapes(model, x)
        eval_logits_even = model(x_even)
        pads = same_pads(model, x) + same_pads(model, x_even)
    np.save(os.path.join(OUT, f'{prefix}_eval_logits.npy'), eval_logits.numpy().astype(np.float32))
    np.save(os.path.join(OUT, f'{prefix}_eval_logits_even.npy'), eval_logits_even.numpy().astype(np.float32))

    # train mode on a fresh copy of the saved weights
    model2 = build_tiny(tf, seed=seed)
    model2.load_state_dict(torch.load(sd_path))
    model2.train()
    with torch.no_grad():
        train_logits = model2(x)
    np.save(os.path.join(OUT, f'{prefix}_train_logits.npy'), train_logits.numpy().astype(np.float32))
    save_sd({k: v for k, v in model2.state_dict().items()
             if k.endswith(('running_mean', 'running_var', 'num_batches_tracked'))},
            os.path.join(OUT, f'{prefix}_after_train_buffers.pt'))

    bn = model.bn1
    spec = dict(
        versions=versions(),
        builder='timm.models.efficientnet.EfficientNet(block_args=decode_arch_def(arch_def, 1.0), '
                'round_chs_fn=partial(round_channels, multiplier=1.0), act_layer=silu, '
                'norm_layer=partial(nn.BatchNorm2d, eps=...)) -- as _gen_efficientnetv2_s',
        arch_def=TINY_ARCH,
        stem_size=TINY_STEM,
        num_features=TINY_NUM_FEATURES,
        bn_eps=bn.eps,
        bn_momentum=bn.momentum,
        pad_type='same' if tf else '',
        padding_mode='tf_same' if tf else 'torch_symmetric',
        act='silu',
        in_chans=1,
        num_classes=TINY_CLASSES,
        drop_rate=0.0,
        drop_path_rate=0.0,
        param_count=sum(p.numel() for p in model.parameters()),
        stem=conv_info(model.conv_stem),
        blocks=describe_blocks(model),
        input='input.npy',
        input_shape=list(x.shape),
        stage_shapes=shapes,
        input_even='input_even.npy',
        input_even_shape=list(x_even.shape),
        eval_logits_even=f'{prefix}_eval_logits_even.npy',
        same_pads=pads,
        state_dict=f'{prefix}.pt',
        eval_logits=f'{prefix}_eval_logits.npy',
        train_logits=f'{prefix}_train_logits.npy',
        after_train_buffers=f'{prefix}_after_train_buffers.pt',
        keys=[f'{k} {shape_str(v)}' for k, v in model.state_dict().items()],
    )
    with open(os.path.join(OUT, f'{prefix}.json'), 'w') as f:
        json.dump(spec, f, indent=1)
    return model


@torch.no_grad()
def make_import_extras():
    """The stem adaptation judged by timm's whole pretrained path, on the logits."""
    from timm.models._builder import load_pretrained
    path = os.path.join(OUT, 'tiny_in3.pt')
    cfg = {'file': path, 'first_conv': 'conv_stem', 'classifier': 'classifier', 'num_classes': TINY_CLASSES}
    x6 = np.random.default_rng(4321).standard_normal((2, 6) + INPUT_SHAPE[2:]).astype(np.float32)
    np.save(os.path.join(OUT, 'input6.npy'), x6)
    x1 = np.load(os.path.join(OUT, 'input.npy'))
    for c, x in ((1, x1), (6, x6)):
        m = build_tiny(False, in_chans=c, seed=44)
        load_pretrained(m, pretrained_cfg=cfg, num_classes=TINY_CLASSES, in_chans=c)
        m.eval()
        np.save(os.path.join(OUT, f'tiny_in3_as_in{c}_eval_logits.npy'), m(torch.from_numpy(x)).numpy())
    with open(os.path.join(OUT, 'tiny_in3_oracle.json'), 'w') as f:
        json.dump({'versions': versions(), 'pretrained_cfg': {**cfg, 'file': 'tiny_in3.pt'}}, f, indent=1)
    sd = torch.load(os.path.join(OUT, 'tiny.pt'))
    torch.save({**sd, 'timm_model': 'tf_efficientnetv2_s.in21k'}, os.path.join(OUT, 'tiny_named.pt'))
    m = build_tiny(False, in_chans=1, seed=55)
    torch.save(m.state_dict(), os.path.join(OUT, 'tiny_ordereddict.pt'))


def make_stem_stride():
    """The tiny models' saved weights with the stem's stride set to (1, 2), as the 1st place of the
    competition changed it to keep the time resolution: timm's conv (and Conv2dSame's dynamic padding)
    read the stride at forward time, so setting the attribute is the whole change."""
    for prefix, tf, seed in (('tiny', False, 11), ('tiny_tf', True, 22)):
        model = build_tiny(tf, seed=seed)
        model.load_state_dict(torch.load(os.path.join(OUT, f'{prefix}.pt')))
        model.conv_stem.stride = (1, 2)
        model.eval()
        for name in ('input', 'input_even'):
            x = torch.from_numpy(np.load(os.path.join(OUT, f'{name}.npy')))
            with torch.no_grad():
                y = model(x)
            suffix = '' if name == 'input' else '_even'
            np.save(os.path.join(OUT, f'{prefix}_stem12_eval_logits{suffix}.npy'), y.numpy().astype(np.float32))


def main():
    os.makedirs(OUT, exist_ok=True)
    if sys.argv[1:] == ['--only', 'import']:
        make_import_extras()
        return
    if sys.argv[1:] == ['--only', 'stem_stride']:
        make_stem_stride()
        return

    # --- full-size models: keys, counts, per-block description --------------------------
    counts = dict(versions=versions(), params={}, state_dict_entries={}, tf_keys_identical={})
    blocks = dict(versions=versions(), note='drop_path = drop_path_rate * global_block_idx / total_blocks '
                  'with drop_path_rate=0.2; tf_ variants are identical except padding and bn eps')
    for v in ('s', 'm'):
        torch.manual_seed(0)
        m = timm.create_model(f'efficientnetv2_{v}', num_classes=1000, in_chans=3)
        mt = timm.create_model(f'tf_efficientnetv2_{v}', num_classes=1000, in_chans=3)
        write_keys(m, os.path.join(OUT, f'keys_efficientnetv2_{v}.txt'))
        for name, mm in ((f'efficientnetv2_{v}', m), (f'tf_efficientnetv2_{v}', mt)):
            counts['params'][name] = sum(p.numel() for p in mm.parameters())
            counts['state_dict_entries'][name] = len(mm.state_dict())
        k1 = [(k, tuple(t.shape)) for k, t in m.state_dict().items()]
        k2 = [(k, tuple(t.shape)) for k, t in mt.state_dict().items()]
        counts['tf_keys_identical'][f'efficientnetv2_{v}'] = k1 == k2
        assert k1 == k2
        md = timm.create_model(f'efficientnetv2_{v}', drop_path_rate=0.2)
        blocks[f'efficientnetv2_{v}'] = dict(stem=conv_info(md.conv_stem), stem_chs=md.conv_stem.out_channels,
                                             head_chs=md.conv_head.out_channels,
                                             blocks=describe_blocks(md))
        blocks[f'tf_efficientnetv2_{v}'] = dict(stem=conv_info(mt.conv_stem), bn_eps=mt.bn1.eps,
                                                bn_momentum=mt.bn1.momentum)
        blocks[f'efficientnetv2_{v}']['bn_eps'] = m.bn1.eps
        blocks[f'efficientnetv2_{v}']['bn_momentum'] = m.bn1.momentum
    assert counts['params']['efficientnetv2_s'] == 21458488, counts
    assert counts['params']['efficientnetv2_m'] == 54139356, counts
    # num_classes / in_chans effects on the counts
    for nc in (0, 2):
        m = timm.create_model('efficientnetv2_s', num_classes=nc, in_chans=1)
        counts['params'][f'efficientnetv2_s(num_classes={nc},in_chans=1)'] = sum(p.numel() for p in m.parameters())
    with open(os.path.join(OUT, 'counts.json'), 'w') as f:
        json.dump(counts, f, indent=1)
    with open(os.path.join(OUT, 'blocks_efficientnetv2.json'), 'w') as f:
        json.dump(blocks, f, indent=1)

    # --- tiny models ----------------------------------------------------------------------
    rng = np.random.default_rng(1234)
    x_np = rng.standard_normal(INPUT_SHAPE).astype(np.float32)
    np.save(os.path.join(OUT, 'input.npy'), x_np)
    x = torch.from_numpy(x_np)
    xe_np = rng.standard_normal(INPUT_EVEN_SHAPE).astype(np.float32)
    np.save(os.path.join(OUT, 'input_even.npy'), xe_np)
    xe = torch.from_numpy(xe_np)
    make_tiny('tiny', tf=False, seed=11, x=x, x_even=xe)
    make_tiny('tiny_tf', tf=True, seed=22, x=x, x_even=xe)

    # --- in_chans adaptation ------------------------------------------------------------
    m3 = build_tiny(False, in_chans=3, seed=33)
    randomize(m3, 133)
    save_sd(m3.state_dict(), os.path.join(OUT, 'tiny_in3.pt'))
    w = m3.state_dict()['conv_stem.weight']
    np.save(os.path.join(OUT, 'tiny_in3_adapted_stem.npy'), adapt_input_conv(1, w.clone()).numpy())
    for c in (2, 4):
        np.save(os.path.join(OUT, f'tiny_in3_adapted_stem_in{c}.npy'), adapt_input_conv(c, w.clone()).numpy())

    total = 0
    for fn in sorted(os.listdir(OUT)):
        sz = os.path.getsize(os.path.join(OUT, fn))
        total += sz
        print(f'{sz:9d}  {fn}')
    print(f'{total:9d}  total')


if __name__ == '__main__':
    main()
