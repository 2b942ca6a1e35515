// RUN: nomac %s -p noma-autodiff | filecheck %s

// A scalar parameter: L = w * w + 1. The adjoint code runs only when the
// loop goes on (`not %stop`), seeds dL = 1, and ends in one update.

builtin.module attributes {noma.entry = "main"} {
  func.func @main() {
    %zero = arith.constant 0.0 : f64
    %one = arith.constant 1.0 : f64
    %w0 = arith.constant 3.0 : f64
    %W = noma.train.param "w" %w0 : f64 -> !noma.mem.buffer<0>
    %r = noma.train.optimize params(%W : !noma.mem.buffer<0>) hyper(%one, %one, %zero, %zero, %zero, %zero, %one) -> (f64) {
      %w = noma.mem.load %W : !noma.mem.buffer<0> -> f64
      %sq = noma.tensor.mul %w, %w : (f64, f64) -> f64
      %loss = noma.tensor.add %sq, %one : (f64, f64) -> f64
      noma.train.minimize %loss : f64
      %stop = arith.cmpf olt, %loss, %zero : f64
      noma.train.yield %stop, %loss : f64
    }
    func.return
  }
}

// CHECK:      noma.train.minimize %loss : f64
// CHECK-NEXT: %stop = arith.cmpf olt, %loss, %zero : f64
// CHECK-NEXT: %[[TRUE:.*]] = arith.constant true
// CHECK-NEXT: %[[GO:.*]] = arith.xori %stop, %[[TRUE]] : i1
// CHECK-NEXT: scf.if %[[GO]] {
// CHECK-NEXT:   %[[SEED:.*]] = arith.constant 1.000000e+00 : f64
// The add passes the seed to %sq (the constant %one gets nothing); the
// product rule gives one term per use of %w.
// CHECK-NEXT:   %[[G1:.*]] = noma.tensor.mul %[[SEED]], %w : (f64, f64) -> f64
// CHECK-NEXT:   %[[G2:.*]] = noma.tensor.mul %[[SEED]], %w : (f64, f64) -> f64
// CHECK-NEXT:   %[[G:.*]] = noma.tensor.add %[[G1]], %[[G2]] : (f64, f64) -> f64
// CHECK-NEXT:   noma.train.update %W, %[[G]] : !noma.mem.buffer<0>, f64
// CHECK-NEXT: }
// CHECK-NEXT: noma.train.yield %stop, %loss : f64
