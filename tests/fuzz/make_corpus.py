#!/usr/bin/env python3
"""Seed corpora for the fuzz targets (tests/fuzz/corpus/<target>/): small valid inputs and near
misses, so that libFuzzer starts from the formats' real shapes. Run from the repository root:

    python3 tests/fuzz/make_corpus.py

Needs numpy (Debian's python3-numpy) for the .npy seeds; the rest is written by hand.
"""
import io
import json
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def npy_bytes(a, version=None):
    b = io.BytesIO()
    if version is None:
        np.save(b, a)
    else:
        np.lib.format.write_array(b, a, version=version)
    return b.getvalue()


def safetensors(tensors, metadata=None):
    header, blobs, off = {}, [], 0
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {'dtype': dtype, 'shape': shape, 'data_offsets': [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if metadata:
        header['__metadata__'] = metadata
    h = json.dumps(header).encode()
    return struct.pack('<Q', len(h)) + h + b''.join(blobs)


def main():
    rng = np.random.default_rng(7)
    put('npy', 'f2_cadence_small.npy', npy_bytes(rng.standard_normal((6, 4, 8)).astype(np.float16)))
    put('npy', 'f4_v1.npy', npy_bytes(rng.standard_normal((2, 3)).astype(np.float32)))
    put('npy', 'f2_v2.npy', npy_bytes(rng.standard_normal((3, 5)).astype(np.float16), version=(2, 0)))
    put('npy', 'f2_empty.npy', npy_bytes(np.zeros((0, 4), np.float16)))
    put('npy', 'scalar.npy', npy_bytes(np.float32(1.5)))
    put('csv', 'labels.csv', 'id,target\n0a1b2c,0\n0a1b2d,1\n')
    put('csv', 'submission.csv', 'id,target\nabc,0.25\nabd,1e-3\n')
    put('csv', 'crlf.csv', 'id,target\r\nx_1,1\r\n\r\n')
    put('csv', 'folds.csv', 'id,fold\nabc,0\n')
    put('csv', 'truth.csv', 'id,target,snr,drift,signal,interference,energy,signal_params,interference_params\n'
        'a1,0,,,,static,,,snr=5.5;line=straight+constant+box;drift_hz_s=0\n'
        'a2,1,7.25,-0.004,sine+pulsed+gaussian+skip2,,0.2684,start_channel=40.5;duty=0.41;skip_panel=2,\n')
    put('csv', 'truth_v1.csv', 'id,target,snr,drift,signal,interference\nb1,1,12,0.003,straight+constant+sinc2,off_only\n')
    put('config', 'ensemble.json', json.dumps({'ensemble': {'dir': 'runs/e', 'blend': 'rank', 'set': ['train.epochs=1'],
        'members': [{'name': 'a', 'config': 'demo.json', 'weight': 0.5}, {'name': 'b', 'config': 'demo.json', 'set': ['model.width=8']}]}}))
    put('config', 'with_sets.txt', '--set ensemble.blend=prob\n--set ensemble.members=[]\n{"ensemble": {"members": []}}')
    put('config', 'synth.json', json.dumps({'synth': {'train': 10, 'positive_rate': 0.2, 'root': 'x'}}))
    f32 = np.arange(6, dtype=np.float32).tobytes()
    put('safetensors', 'two.safetensors', safetensors({'w': ('F32', [2, 3], f32), 'b': ('F16', [2], np.ones(2, np.float16).tobytes())},
                                                      {'timm_model': 'tf_efficientnetv2_s.in21k'}))
    put('safetensors', 'empty.safetensors', safetensors({}))

    def sp(s):  # a SIGPROC string: int32 length, then the bytes
        return struct.pack('<i', len(s)) + s.encode()
    header = (sp('HEADER_START') + sp('source_name') + sp('TARGET') + sp('fch1') + struct.pack('<d', 6095.2) + sp('foff') +
              struct.pack('<d', -2.79e-6) + sp('nchans') + struct.pack('<i', 4) + sp('tsamp') + struct.pack('<d', 18.25) +
              sp('nbits') + struct.pack('<i', 32) + sp('nifs') + struct.pack('<i', 1) + sp('signed') + b'\x00' + sp('HEADER_END'))
    put('filterbank', 'a1_header.fil', header + np.ones(8, np.float32).tobytes())
    put('filterbank', 'truncated.fil', header[:-20])


if __name__ == '__main__':
    main()
