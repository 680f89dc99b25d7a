"""Hostile and broken ONNX files for the import path: (case, encoder bytes, decoder bytes, message).
A good graph pairs with each broken one, so the refusal is for the broken one's reason."""

import numpy as np
import onnx
import onnx_models
from onnx import TensorProto, helper, numpy_helper


def _model(nodes, inputs, outputs, inits=(), opset=17) -> bytes:
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    return m.SerializeToString()


def _io(name, dims):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def _decoder(nodes=None, inits=None, **kw) -> bytes:
    """z (2) -> Gemm -> Sigmoid -> x (784): a tiny good decoder, or one with the nodes given."""
    w = numpy_helper.from_array(np.zeros((784, 2), np.float32), "w")
    b = numpy_helper.from_array(np.zeros(784, np.float32), "b")
    nodes = nodes or [
        helper.make_node("Gemm", ["z", "w", "b"], ["h"], transB=1, name="gemm"),
        helper.make_node("Sigmoid", ["h"], ["x"], name="sig"),
    ]
    return _model(
        nodes, [_io("z", ["batch", 2])], [_io("x", ["batch", 784])], inits if inits is not None else [w, b], **kw
    )


def _external(location) -> bytes:
    w = numpy_helper.from_array(np.zeros((784, 2), np.float32), "w")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", "0"), ("length", str(784 * 2 * 4))):
        e = w.external_data.add()
        e.key, e.value = k, v
    return _decoder(inits=[w, numpy_helper.from_array(np.zeros(784, np.float32), "b")])


def cases(folder) -> list[tuple[str, bytes, bytes, str]]:
    enc, dec = onnx_models.mlp(2)
    good_enc, good_dec = onnx_models.pair(enc, dec, 2)
    (folder / "weights.bin").write_bytes(b"\0" * (784 * 2 * 4))
    cycle = [
        helper.make_node("Gemm", ["z", "w", "b"], ["h"], transB=1, name="gemm"),
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("Add", ["h", "r"], ["x"], name="add"),
    ]
    many = [helper.make_node("Identity", ["z" if i == 0 else f"t{i - 1}"], [f"t{i}"]) for i in range(100_000)]
    huge = onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 29], raw_data=b"\0" * 16)
    short = onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[784, 2], raw_data=b"\0" * 16)
    skip = [
        helper.make_node("Gemm", ["z", "w", "b"], ["h"], transB=1, name="gemm"),
        helper.make_node("Gemm", ["z", "w", "b"], ["h2"], transB=1, name="gemm2"),
        helper.make_node("Add", ["h", "h2"], ["x"], name="skip"),
    ]
    grouped = [
        helper.make_node("Gemm", ["z", "w", "b"], ["h"], transB=1, name="gemm"),
        helper.make_node("Reshape", ["h", "shape"], ["im"], name="reshape"),
        helper.make_node("Conv", ["im", "k"], ["x"], group=4, kernel_shape=[1, 1], name="grouped"),
    ]
    grouped_inits = [
        numpy_helper.from_array(np.zeros((784, 2), np.float32), "w"),
        numpy_helper.from_array(np.zeros(784, np.float32), "b"),
        numpy_helper.from_array(np.array([-1, 4, 14, 14], np.int64), "shape"),
        numpy_helper.from_array(np.zeros((4, 1, 1, 1), np.float32), "k"),
    ]
    return [
        (
            "unsupported-op",
            good_enc,
            _decoder(
                [
                    helper.make_node("Gemm", ["z", "w", "b"], ["h"], transB=1, name="gemm"),
                    helper.make_node("Sin", ["h"], ["x"], name="sine"),
                ]
            ),
            "node sine \\(Sin\\): unsupported operator Sin",
        ),
        ("cycle", good_enc, _decoder(cycle), "cycle"),
        (
            "missing-initializer",
            good_enc,
            _decoder(inits=[numpy_helper.from_array(np.zeros(784, np.float32), "b")]),
            "reads 'w', which no node or initializer provides",
        ),
        ("external-dotdot", good_enc, _external("../secret.bin"), "outside the model's folder"),
        ("external-absolute", good_enc, _external("/etc/passwd"), "points at '/etc/passwd'"),
        ("external-missing", good_enc, _external("nothere.bin"), "external data file 'nothere.bin' is missing"),
        ("truncated", good_enc, good_dec[: len(good_dec) // 2], "not an ONNX model, or a truncated one"),
        (
            "100000-nodes",
            good_enc,
            _model(many, [_io("z", ["batch", 2])], [_io("t99999", ["batch", 2])]),
            "100,000 nodes is over the limit",
        ),
        (
            "2GB-tensor",
            good_enc,
            _decoder(inits=[huge, numpy_helper.from_array(np.zeros(784, np.float32), "b")]),
            "claims 536,870,912 values",
        ),
        (
            "short-tensor",
            good_enc,
            _decoder(inits=[short, numpy_helper.from_array(np.zeros(784, np.float32), "b")]),
            "holds 16 bytes: the file is damaged",
        ),
        ("opset", good_enc, _decoder(opset=99), "opset .* is not read here"),
        ("empty", b"", good_dec, "enc.onnx: the file is empty"),
        ("not-onnx", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, good_dec, "not an ONNX model"),
        ("skip-connection", good_enc, _decoder(skip), "combines tensors of the data path"),
        ("grouped-conv", good_enc, _decoder(grouped, grouped_inits), "grouped, dilated or auto-padded"),
        (
            "two-decoder-outputs",
            good_enc,
            _model(
                [helper.make_node("Gemm", ["z", "w", "b"], ["x"], transB=1), helper.make_node("Relu", ["x"], ["y"])],
                [_io("z", ["batch", 2])],
                [_io("x", ["batch", 784]), _io("y", ["batch", 784])],
                [
                    numpy_helper.from_array(np.zeros((784, 2), np.float32), "w"),
                    numpy_helper.from_array(np.zeros(784, np.float32), "b"),
                ],
            ),
            "the decoder must have one output",
        ),
        (
            "latent-mismatch",
            good_enc,
            onnx_models.to_onnx(onnx_models.mlp(3)[1], (3,), ["z"], ["x"]),
            "latent size mismatch",
        ),
    ]
