// RUN: not nomac %s -p noma-migrate-realloc-state 2>&1 | filecheck %s

builtin.module {
  func.func @main() {
    %init = noma.tensor.constant dense<[1.0, 2.0]> : tensor<2xf64>
    %W = noma.train.param "w" %init : tensor<2xf64> -> !noma.mem.buffer<1>
    noma.train.reset_state(%W : !noma.mem.buffer<1>)
    func.return
  }
}

// CHECK: error: noma-migrate-realloc-state must run after noma-expand-optimizers (found noma.train.reset_state)
