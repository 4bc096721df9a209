// ModelRunner: a loaded model that runs at any input shapes its file allows.
//
// An ONNX import is specialized to its input shapes: sizes read off activations (Shape, Size,
// SAME padding, recurrent layers' reshapes) are folded into the graph. The runner therefore keeps
// an ONNX file's bytes when one of its inputs has a symbolic dimension, and on a run at new sizes
// re-imports it for those sizes, caches the result per shape (the most recent few), and makes the
// new graph share the weights of the load-time graph — including weights fine-tuned since — so a
// shape costs its activations and packed XNNPACK weights, not another copy of the model. A change of
// only the batch size reshapes the existing runtime when the graph allows it (no re-import).
// Dimensions the file declares fixed are checked with a clear error; Vitrine model files run at
// the shapes their graph accepts.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vitrine/context.h"
#include "vitrine/graph.h"
#include "vitrine/model_file.h"
#include "vitrine/onnx_import.h"
#include "vitrine/status.h"

namespace vitrine {

class ModelRunner {
 public:
  // Loads a Vitrine model file or an ONNX model (see load_model()). `onnx.input_shapes` gives the
  // load-time sizes of symbolic dimensions. `ctx` is not owned and must outlive the runner.
  static Result<std::unique_ptr<ModelRunner>> load(std::shared_ptr<const std::vector<uint8_t>> bytes,
                                                   const OnnxImportOptions& onnx, Context* ctx);
  // Runs a graph imported elsewhere (a TF.js model): it runs at the shapes its graph accepts (another
  // batch size reshapes). `declared`: each input's dimensions, -1 where any size is accepted (empty:
  // the graph's input shapes with the batch free).
  static Result<std::unique_ptr<ModelRunner>> from_model(LoadedModel model, std::vector<std::vector<int64_t>> declared,
                                                         Context* ctx);
  ~ModelRunner();
  ModelRunner(const ModelRunner&) = delete;
  ModelRunner& operator=(const ModelRunner&) = delete;

  // Runs on `inputs` (graph input order, each of its input's dtype and rank). Outputs are written
  // into `outputs` (storage reused when shapes match).
  Status run(const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs);

  // The load-time graph: its inputs, outputs and weights (which a Trainer fine-tunes in place;
  // every shape's graph sees the change on its next run).
  std::shared_ptr<Graph> graph() const { return graph_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& format() const { return format_; }
  // Each input's dimensions as declared by an ONNX file (-1: any size); a Vitrine file's input
  // shapes with dimension 0 (the batch) as -1.
  const std::vector<std::vector<int64_t>>& declared_dims() const { return declared_; }
  // Graphs held for shapes other than the load-time ones (at most kMaxShapes).
  size_t cached_shapes() const { return cache_.size(); }

  // Turns per-operator timing on or off (rebuilds the executors: XNNPACK sets its timer up when
  // it builds a runtime). While on, profile() reads the last successful run.
  Status set_profiling(bool on);
  bool profiling() const { return profiling_; }
  // The last run's per-operator times (see OpTime), or FailedPrecondition when profiling is off,
  // nothing ran since it was turned on, or the last run failed.
  Result<std::vector<OpTime>> profile() const;
  static constexpr size_t kMaxShapes = 4;

 private:
  struct Shaped;  // a graph re-imported for one set of input shapes, with its executor
  ModelRunner() = default;
  Status check_inputs(const std::vector<Tensor>& inputs) const;
  Status refresh_if_trained();
  Result<Shaped*> shaped_for(const std::vector<Shape>& shapes);

  Context* ctx_ = nullptr;
  std::shared_ptr<Graph> graph_;
  std::unique_ptr<Executor> executor_;
  std::map<std::string, std::string> metadata_;
  std::string format_;
  std::vector<std::vector<int64_t>> declared_;
  std::vector<Shape> load_shapes_;
  std::shared_ptr<const std::vector<uint8_t>> source_;  // ONNX bytes, kept only when re-imports may be needed
  bool specialized_ = false;                            // the import folded sizes read off activations
  // The load-time graph's weights by origin, for re-imports to share: (stem of the name, dtype,
  // shape, hash of the bytes at load) -> value ids in graph order.
  std::map<std::string, std::vector<int>> weights_by_key_;
  std::list<std::unique_ptr<Shaped>> cache_;  // most recently used first
  std::vector<std::pair<const Tensor*, uint64_t>> generations_;
  bool profiling_ = false;
  bool profiled_ = false;             // last_profile_ holds the last run, made with profiling on
  std::vector<OpTime> last_profile_;
  Status profile_error_;              // why the last successful run has no profile, if it has none
  Status run_profiled(Executor* ex, const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs);
};

}  // namespace vitrine
