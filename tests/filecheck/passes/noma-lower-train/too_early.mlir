// RUN: not nomac %s -p noma-lower-train 2>&1 | filecheck %s

// Abstract optimizer steps must be expanded first (a pass-order error, not
// silently wrong IR).

builtin.module {
  func.func @main() {
    %init = noma.tensor.constant dense<[1.0, 2.0]> : tensor<2xf64>
    %W = noma.train.param "w" %init : tensor<2xf64> -> !noma.mem.buffer<1>
    %four = arith.constant 4.0 : f64
    %zero = arith.constant 0.0 : f64
    noma.train.optimize params(%W : !noma.mem.buffer<1>) hyper(%four, %four, %four, %four, %four, %four, %four) {
      %w = noma.mem.load %W : !noma.mem.buffer<1> -> tensor<?xf64>
      %l = noma.tensor.sum %w : tensor<?xf64> -> f64
      noma.train.minimize %l : f64
      %stop = arith.cmpf olt, %l, %zero : f64
      noma.train.update %W, %w : !noma.mem.buffer<1>, tensor<?xf64> loc("prog.noma":6:7)
      noma.train.yield %stop
    }
    func.return
  }
}

// CHECK: error: noma-lower-train: found noma.train.update; run noma-expand-optimizers first at prog.noma:6:7
