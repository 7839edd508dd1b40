// Runs an ONNX file in ONNX Runtime (the onnxruntime-node package, found
// through NODE_PATH) on raw float32 inputs: tests/export_onnx_runtime.sh.
//
//   node onnx_run.js MODEL.onnx IN.f32 D1,D2,... OUT.f32
//
// IN.f32 holds the input "x" of shape [D1, D2, ...] as little-endian float32;
// the output "pred" is written to OUT.f32 the same way, and its shape printed.
// Any failure (the model does not load, the run fails) exits 1 with the reason.
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
    const [model, input, dims, output] = process.argv.slice(2);
    const shape = dims.split(',').map(Number);
    const bytes = fs.readFileSync(input);
    const x = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
    const session = await ort.InferenceSession.create(model);
    const result = await session.run({ x: new ort.Tensor('float32', x, shape) });
    const pred = result.pred;
    fs.writeFileSync(output, Buffer.from(pred.data.buffer, pred.data.byteOffset,
                                         pred.data.byteLength));
    console.log('pred ' + JSON.stringify(pred.dims));
}

main().catch((e) => {
    console.error('onnx_run.js: ' + (e && e.message ? e.message : e));
    process.exit(1);
});
