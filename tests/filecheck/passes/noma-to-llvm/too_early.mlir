// RUN: not nomac %s -p noma-to-llvm 2>&1 | filecheck %s

// Training loops must be lowered first (a pass-order error).

builtin.module {
  func.func @main() {
    %four = arith.constant 4.0 : f64
    %zero = arith.constant 0.0 : f64
    noma.train.optimize params() hyper(%four, %four, %four, %four, %four, %four, %four) {
      noma.train.minimize %four : f64
      %stop = arith.cmpf olt, %four, %zero : f64
      noma.train.yield %stop
    } loc("prog.noma":3:5)
    func.return
  }
}

// CHECK: error: noma-to-llvm: found noma.train.optimize; run noma-lower-train first at prog.noma:3:5
