// RUN: not nomac %s -p noma-migrate-realloc-state 2>&1 | filecheck %s

// Run before noma-expand-optimizers there is no state to migrate: a clear
// pass-order error instead of silently wrong IR.

builtin.module {
  func.func @main() {
    %init = noma.tensor.constant dense<[1.0, 2.0]> : tensor<2xf64>
    %W = noma.train.param "w" %init : tensor<2xf64> -> !noma.mem.buffer<1>
    %four = arith.constant 4.0 : f64
    %zero = arith.constant 0.0 : f64
    noma.train.optimize params(%W : !noma.mem.buffer<1>) hyper(%four, %four, %four, %four, %four, %four, %four) {
      noma.mem.realloc %W to [%four] init "zeros" () : !noma.mem.buffer<1>
      %w = noma.mem.load %W : !noma.mem.buffer<1> -> tensor<?xf64>
      %l = noma.tensor.sum %w : tensor<?xf64> -> f64
      noma.train.minimize %l : f64
      %stop = arith.cmpf olt, %l, %zero : f64
      noma.train.update %W, %w : !noma.mem.buffer<1>, tensor<?xf64>
      noma.train.yield %stop
    }
    func.return
  }
}

// CHECK: error: noma-migrate-realloc-state must run after noma-expand-optimizers (found noma.train.update)
