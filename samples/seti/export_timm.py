#!/usr/bin/env python3
"""Export timm EfficientNetV2 weights for cadence's Model<EffNetV2S/M> (nn/timm_import.hpp).

    python3 samples/seti/export_timm.py efficientnetv2_s weights.safetensors            # random init
    python3 samples/seti/export_timm.py tf_efficientnetv2_s.in21k weights.safetensors --pretrained
    python3 samples/seti/export_timm.py efficientnetv2_m weights.pt                     # torch.save

Then in the run's JSON: "model": {"arch": "tf_efficientnetv2_s", "weights": "weights.safetensors"}
(the stem adapts to 1 or 6 input channels and a new class count gets a new head, as timm does).
The timm model name is recorded in the file (safetensors metadata `timm_model`, or a `timm_model`
string entry of the .pt dict), and cadence refuses weights whose recorded architecture is not the
configured `model.arch` (an efficientnetv2_s file into a tf_efficientnetv2_s network, say).

Needs torch and timm (pip install timm; --pretrained also needs the weights from the hub or its
cache). Written as a plain dict: LibTorch 1.13 cannot unpickle the OrderedDict of state_dict().
"""
import argparse

import timm
import torch


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="a timm model name, e.g. efficientnetv2_s, tf_efficientnetv2_m.in21k_ft_in1k")
    ap.add_argument("out", help="output file: .safetensors or .pt")
    ap.add_argument("--pretrained", action="store_true", help="timm's pretrained weights instead of a random init")
    args = ap.parse_args()
    model = timm.create_model(args.model, pretrained=args.pretrained)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if args.out.endswith(".safetensors"):
        from safetensors.torch import save_file
        save_file(state, args.out, metadata={"timm_model": args.model})
    else:
        torch.save({**state, "timm_model": args.model}, args.out)
    count = sum(p.numel() for p in model.parameters())
    print(f"wrote {args.out}: {args.model}, {len(state)} tensors, {count:,} parameters")


if __name__ == "__main__":
    main()
