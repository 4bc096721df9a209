#!/usr/bin/env python3
"""Builds fuzzing seed corpora from real files into OUT/<harness>/ (scripts/fuzz.sh calls it).

  make-seeds.py OUT REPO_ROOT ONNX_NODE_TESTS NSFWJS_DIR

Sources: the ONNX node tests of Debian's libonnx-testdata (every model.onnx under 16 KB, and their
input tensors); the shipped models of models/*/ shrunk to a few KB each with their real metadata
and architecture (a mult-dae recommender, a bag-of-words review model, a conv tagger, a tag head,
in F16 and F32); .npy files of several shapes; TF.js layers models (a Dense/Conv stack in the
nsfwjs model.json's own format, and nsfwjs's model.json with a truncated weights file); review
sentences; images. Everything written is small (libFuzzer's -max_len is 64 KB at most).
"""
import glob
import json
import os
import struct
import sys

import numpy as np

out, root, node_tests, nsfwjs = sys.argv[1:5]
rng = np.random.default_rng(20261202)


def write(harness, name, data):
    d = os.path.join(out, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data if isinstance(data, (bytes, bytearray)) else data.encode())


def safetensors(tensors, metadata, dtype='F16'):
    header, blobs, offset = {'__metadata__': metadata}, [], 0
    for name, array in tensors.items():
        a = np.asarray(array, dtype=np.float16 if dtype == 'F16' else np.float32)
        b = a.tobytes()
        header[name] = {'dtype': dtype, 'shape': list(a.shape), 'data_offsets': [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)
    return struct.pack('<Q', len(h)) + h + b''.join(blobs)


def read_safetensors(path):
    b = open(path, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    return json.loads(b[8:8 + n])['__metadata__']


# ---- onnx: node tests ------------------------------------------------------------------------
for path in sorted(glob.glob(os.path.join(node_tests, '*', 'model.onnx'))):
    if os.path.getsize(path) <= 16384:
        write('onnx', os.path.basename(os.path.dirname(path)) + '.onnx', open(path, 'rb').read())
for path in sorted(glob.glob(os.path.join(root, 'tests/fixtures/hostile/*.onnx'))):
    write('onnx', 'hostile_' + os.path.basename(path), open(path, 'rb').read())
# typed inputs and outputs (int64 ids, bool mask, Gather / Equal / Where / ArgMax)
for path in sorted(glob.glob(os.path.join(root, 'tests/fixtures/control-flow/*.onnx'))):
    write('onnx', 'control_flow_' + os.path.basename(path), open(path, 'rb').read())
write('onnx', 'typed_model.onnx', open(os.path.join(root, 'tests/fixtures/typed-model/model.onnx'), 'rb').read())

# ---- model files: the shipped models, shrunk ---------------------------------------------------
# A Mult-DAE written out here (the shipped recommender may be another kind), with the shipped
# model's file metadata and first item ids.
rec = read_safetensors(os.path.join(root, 'models/recommend/movielens.safetensors'))
items, hidden = 8, 4
recm = {'kind': 'mult-dae', 'items': json.loads(rec['recommender'])['items'][:items],
        'training': {'dim': hidden, 'epochs': 110, 'batch_size': 100, 'learning_rate': 0.001, 'weight_decay': 0,
                     'optimizer': 'adam', 'seed': 20261128, 'dropout': 0.5}}
dae = {'inputs': [{'name': 'x', 'shape': [1, items]}],
       'nodes': [{'op': 'dense', 'name': 'enc', 'inputs': ['x', 'enc.w', 'enc.b'], 'attrs': {}},
                 {'op': 'tanh', 'name': 'h', 'inputs': ['enc'], 'attrs': {}},
                 {'op': 'dense', 'name': 'dec', 'inputs': ['h', 'dec.w', 'dec.b'], 'attrs': {}}],
       'outputs': [{'value': 'dec', 'name': 'scores'}]}
meta = dict(rec, recommender=json.dumps(recm), architecture=json.dumps(dae, separators=(',', ':')))
rec_tensors = {'enc.w': rng.normal(size=(hidden, items)), 'enc.b': rng.normal(size=hidden),
               'dec.w': rng.normal(size=(items, hidden)), 'dec.b': rng.normal(size=items)}
for dtype in ('F16', 'F32'):
    write('model_file', f'recommender_mult_dae_{dtype}.safetensors', safetensors(rec_tensors, meta, dtype))

rev = read_safetensors(os.path.join(root, 'models/reviews/fine-foods.safetensors'))
revm = json.loads(rev['review'])
entries, buckets = 48, 16
revm['vocab']['entries'] = revm['vocab']['entries'][:entries]
revm['vocab']['merges'] = revm['vocab']['merges'][:24]
revm['vocab']['bigram_buckets'] = buckets
rows = entries + buckets
meta = dict(rev, review=json.dumps(revm))
rev_tensors = {'table': rng.normal(size=(rows, 4)), 'out.w': rng.normal(size=(2, 4)), 'out.b': rng.normal(size=2),
               'feature_weights': rng.normal(size=(rows, 1))}
for dtype in ('F16', 'F32'):
    write('model_file', f'review_bag_{dtype}.safetensors', safetensors(rev_tensors, meta, dtype))

tag = read_safetensors(os.path.join(root, 'models/tagger/fashion-mnist.safetensors'))
tagm = json.loads(tag['tagger'])
tagm['input']['height'] = tagm['input']['width'] = 8
arch = tag['architecture'].replace('[1,28,28,1]', '[1,8,8,1]')
meta = dict(tag, tagger=json.dumps(tagm), architecture=arch)
c1, c2, emb = 4, 4, 8
tag_tensors = {'conv1_1.w': rng.normal(size=(c1, 3, 3, 1)), 'conv1_1.b': rng.normal(size=c1),
               'conv1_2.w': rng.normal(size=(c1, 3, 3, c1)), 'conv1_2.b': rng.normal(size=c1),
               'conv2_1.w': rng.normal(size=(c2, 3, 3, c1)), 'conv2_1.b': rng.normal(size=c2),
               'conv2_2.w': rng.normal(size=(c2, 3, 3, c2)), 'conv2_2.b': rng.normal(size=c2),
               'embed.w': rng.normal(size=(emb, 2 * 2 * c2)), 'embed.b': rng.normal(size=emb),
               'classes.w': rng.normal(size=(10, emb)), 'classes.b': rng.normal(size=10),
               'groups.membership': (rng.random(size=(6, 10)) < 0.3).astype(np.float32)}
for dtype in ('F16', 'F32'):
    write('model_file', f'tagger_conv_{dtype}.safetensors', safetensors(tag_tensors, meta, dtype))

head_arch = json.dumps({'inputs': [{'name': 'embedding', 'shape': [1, 8]}],
                        'nodes': [{'op': 'dense', 'name': 'head', 'inputs': ['embedding', 'head.w', 'head.b'], 'attrs': {}}],
                        'outputs': [{'value': 'head', 'name': 'logits'}]}, separators=(',', ':'))
head_meta = {'format': 'vitrine', 'format_version': '1', 'task': 'tag_head', 'architecture': head_arch,
             'tag_head': json.dumps({'tags': ['red', 'blue', 'green'], 'normalize': True})}
head = safetensors({'head.w': rng.normal(size=(3, 8)), 'head.b': rng.normal(size=3)}, head_meta, 'F32')
write('model_file', 'tag_head.safetensors', head)
write('state', 'tag_head.bin', b'\x00' + head)
for path in sorted(glob.glob(os.path.join(root, 'tests/fixtures/hostile/*'))):
    if not path.endswith('.md'):
        write('model_file', 'hostile_' + os.path.basename(path), open(path, 'rb').read())
for path in sorted(glob.glob(os.path.join(node_tests, 'test_conv_with_strides_padding', 'model.onnx')) +
                   glob.glob(os.path.join(node_tests, 'test_gemm_default_single_elem_vector_bias', 'model.onnx'))):
    write('model_file', os.path.basename(os.path.dirname(path)) + '.onnx', open(path, 'rb').read())

# ---- state: histories for the shipped recommender, raw tables ------------------------------------
for i, events in enumerate([[(0, 1.0)], [(1, 1.0), (5, 3.0), (17, 0.5)], [(3, 2.0)] * 10, []]):
    b = bytes([1, len(events)]) + b''.join(struct.pack('<if', item, w) for item, w in events) + bytes([10, 5, 3]) + b'12'
    write('state', f'history_{i}.bin', b)
table = bytes([2, 6, 4, 0, 5]) + b''.join(bytes([1]) + str(i).encode() for i in range(6)) + bytes(range(24)) + bytes(6)
write('state', 'table.bin', table + bytes([2]) + struct.pack('<if', 1, 1.0) + struct.pack('<if', 2, 2.0) + bytes([4, 3]))

# ---- npy -------------------------------------------------------------------------------------
import io
for i, (shape, dtype) in enumerate([((3,), '<f4'), ((2, 3), '<f4'), ((1, 2, 2), '<f8'), ((), '<f4'), ((0, 4), '<f4'),
                                    ((2, 2), '<i8')]):
    buf = io.BytesIO()
    np.save(buf, rng.normal(size=shape).astype(dtype))
    write('npy', f'array_{i}.npy', buf.getvalue())
for path in sorted(glob.glob(os.path.join(node_tests, 'test_relu', 'test_data_set_0', '*.pb'))):
    pass  # node-test tensors are protobuf, not npy

# ---- keras (TF.js layers): 4-byte json length + model.json + weights -----------------------------
def keras_input(model_json, weights):
    j = json.dumps(model_json).encode()
    return struct.pack('<I', len(j)) + j + weights

dense = {'modelTopology': {'class_name': 'Sequential', 'config': {'name': 's', 'layers': [
    {'class_name': 'Dense', 'config': {'name': 'd1', 'units': 3, 'activation': 'relu', 'use_bias': True,
                                       'batch_input_shape': [None, 4]}},
    {'class_name': 'Dense', 'config': {'name': 'd2', 'units': 2, 'activation': 'softmax', 'use_bias': False}}]}},
    'weightsManifest': [{'paths': ['w.bin'], 'weights': [
        {'name': 'd1/kernel', 'shape': [4, 3], 'dtype': 'float32'}, {'name': 'd1/bias', 'shape': [3], 'dtype': 'float32'},
        {'name': 'd2/kernel', 'shape': [3, 2], 'dtype': 'float32'}]}]}
write('keras', 'sequential_dense.bin', keras_input(dense, rng.normal(size=12 + 3 + 6).astype('<f4').tobytes()))
model_json_path = os.path.join(nsfwjs, 'model.json')
if os.path.exists(model_json_path):
    nsfw = json.load(open(model_json_path))
    layers = nsfw['modelTopology']['model_config']['config']['layers'] if 'model_config' in nsfw['modelTopology'] \
        else nsfw['modelTopology']['config']['layers']
    # The first few layers of the real model (input, conv, batch norm, activation...), same format.
    j = json.dumps(nsfw).encode()
    write('keras', 'nsfwjs_model_json_no_weights.bin', struct.pack('<I', len(j)) + j)

# ---- tfjs_graph (TF.js graph models): 4-byte json length + model.json + weights ------------------
for path in sorted(glob.glob(os.path.join(root, 'tests/fixtures/tfjs-graph/model*.json'))):
    j = open(path, 'rb').read()
    weights = open(path.replace('model', 'weights').replace('.json', '.bin'), 'rb').read()
    write('tfjs_graph', os.path.basename(path).replace('.json', '.bin'), struct.pack('<I', len(j)) + j + weights)

# ---- review text -------------------------------------------------------------------------------
for i, text in enumerate([
        'Arrived broken, but support was great',
        'The taste is not good at all. Too expensive for what you get!!!',
        'Great coffee, fresh and flavorful; shipping was fast. Would buy again :)',
        "I didn't like the packaging, the box was damaged & the lid wouldn't close.",
        'Très bon goût, prix raisonnable. 味道很好 \U0001F600\U0001F44D',
        '<br />Not bad. Not great either... meh',
        'worst. product. ever. $$$ wasted',
        'a' * 300 + ' ' + 'b,' * 100]):
    write('review', f'review_{i}.txt', text)

# ---- images: header (12 bytes, see image_fuzz.cc) + pixels --------------------------------------
for i, (shape, flags, sh, sw, w, h) in enumerate([(0, 0, 8, 8, 16, 12), (1, 1, 28, 28, 28, 28), (2, 4, 16, 8, 5, 40),
                                                  (0x41, 8, 7, 9, 33, 3), (0x3C, 0, 4, 4, 1, 1)]):
    header = bytes([shape, flags, sh, sw]) + struct.pack('<HH', w, h) + bytes([3, 0x11, 128, i])
    write('image', f'image_{i}.bin', header + rng.integers(0, 256, size=min(w * h * 4, 4096), dtype=np.uint8).tobytes())

# ---- json --------------------------------------------------------------------------------------
for harness in ('model_file',):
    pass
write('json', 'architecture.json', rec['architecture'])
write('json', 'tagger.json', tag['tagger'])
write('json', 'review_small.json', json.dumps(revm))
write('json', 'recommender_small.json', json.dumps(recm))
write('json', 'values.json', '[null, true, false, 0, -0, 1e308, -1.5e-7, 9007199254740991, "\\u00e9\\ud83d\\ude00\\n", {"a": [[]], "b": {}}]')
write('json', 'nested.json', '[' * 60 + ']' * 60)
if os.path.exists(model_json_path):
    write('json', 'nsfwjs_model.json', open(model_json_path, 'rb').read())
print(out)
