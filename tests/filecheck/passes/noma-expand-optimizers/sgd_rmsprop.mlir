// RUN: nomac %s -p noma-expand-optimizers | filecheck %s

// Two loops over the same parameters: SGD (kind 1) then RMSprop (kind 3).
// Every parameter gets m, v and t once, even the scalar one (rank 0: all f64).
// Neither SGD nor RMSprop touches t.

builtin.module {
  func.func @main() {
    %init = noma.tensor.constant dense<[[1.0, 2.0]]> : tensor<1x2xf64>
    %W = noma.train.param "W" %init : tensor<1x2xf64> -> !noma.mem.buffer<2>
    %b0 = arith.constant 0.5 : f64
    %B = noma.train.param "b" %b0 : f64 -> !noma.mem.buffer<0>
    %sgd = arith.constant 1.0 : f64
    %rms = arith.constant 3.0 : f64
    %lr = arith.constant 0.1 : f64
    %b1 = arith.constant 0.9 : f64
    %b2 = arith.constant 0.999 : f64
    %rho = arith.constant 0.8 : f64
    %eps = arith.constant 1.0e-08 : f64
    %max = arith.constant 100.0 : f64
    %zero = arith.constant 0.0 : f64
    noma.train.optimize params(%W : !noma.mem.buffer<2>) hyper(%sgd, %lr, %b1, %b2, %rho, %eps, %max) {
      %w = noma.mem.load %W : !noma.mem.buffer<2> -> tensor<?x?xf64>
      %l = noma.tensor.sum %w : tensor<?x?xf64> -> f64
      noma.train.minimize %l : f64
      %stop = arith.cmpf olt, %l, %zero : f64
      %go = arith.cmpf oge, %l, %zero : f64
      scf.if %go {
        %g = noma.tensor.zeros_like %w : tensor<?x?xf64> -> tensor<?x?xf64>
        noma.train.update %W, %g : !noma.mem.buffer<2>, tensor<?x?xf64>
      }
      noma.train.yield %stop
    }
    noma.train.optimize params(%B : !noma.mem.buffer<0>) hyper(%rms, %lr, %b1, %b2, %rho, %eps, %max) {
      %b = noma.mem.load %B : !noma.mem.buffer<0> -> f64
      noma.train.minimize %b : f64
      %stop = arith.cmpf olt, %b, %zero : f64
      %go = arith.cmpf oge, %b, %zero : f64
      scf.if %go {
        noma.train.update %B, %b : !noma.mem.buffer<0>, f64
      }
      noma.train.yield %stop
    }
    func.return
  }
}

// CHECK:      %W = noma.train.param "W"
// CHECK-NEXT: %W_m = noma.train.state %W "m" : !noma.mem.buffer<2> -> !noma.mem.buffer<2>
// CHECK-NEXT: %W_v = noma.train.state %W "v"
// CHECK-NEXT: %W_t = noma.train.state %W "t"
// CHECK:      %B = noma.train.param "b"
// CHECK-NEXT: %B_m = noma.train.state %B "m" : !noma.mem.buffer<0> -> !noma.mem.buffer<0>
// CHECK-NEXT: %B_v = noma.train.state %B "v"
// CHECK-NEXT: %B_t = noma.train.state %B "t"

// SGD: p - lr * g
// CHECK:      scf.if %go {
// CHECK-NEXT:   %g = noma.tensor.zeros_like %w
// CHECK-NEXT:   %p = noma.mem.load %W : !noma.mem.buffer<2> -> tensor<?x?xf64>
// CHECK-NEXT:   %[[LG:.*]] = noma.tensor.mul %lr, %g : (f64, tensor<?x?xf64>) -> tensor<?x?xf64>
// CHECK-NEXT:   %p_new = noma.tensor.sub %p, %[[LG]]
// CHECK-NEXT:   noma.mem.store %p_new, %W
// CHECK-NEXT: }

// RMSprop on a scalar: v = rho v + (1 - rho) (g g); p - (lr g) / (sqrt(v) + eps)
// CHECK:      scf.if %go_1 {
// CHECK-NEXT:   %v = noma.mem.load %B_v : !noma.mem.buffer<0> -> f64
// CHECK-NEXT:   %[[RV:.*]] = noma.tensor.mul %rho, %v : (f64, f64) -> f64
// CHECK-NEXT:   %[[ONE:.*]] = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:   %[[C:.*]] = noma.tensor.sub %[[ONE]], %rho
// CHECK-NEXT:   %[[GG:.*]] = noma.tensor.mul %b, %b : (f64, f64) -> f64
// CHECK-NEXT:   %[[CG:.*]] = noma.tensor.mul %[[C]], %[[GG]] : (f64, f64) -> f64
// CHECK-NEXT:   %v_new = noma.tensor.add %[[RV]], %[[CG]] : (f64, f64) -> f64
// CHECK-NEXT:   noma.mem.store %v_new, %B_v : f64, !noma.mem.buffer<0>
// CHECK-NEXT:   %p_1 = noma.mem.load %B : !noma.mem.buffer<0> -> f64
// CHECK-NEXT:   %[[LG2:.*]] = noma.tensor.mul %lr, %b
// CHECK-NEXT:   %[[SQ:.*]] = noma.tensor.sqrt %v_new : f64 -> f64
// CHECK-NEXT:   %[[DEN:.*]] = noma.tensor.add %[[SQ]], %eps
// CHECK-NEXT:   %[[STEP:.*]] = noma.tensor.div %[[LG2]], %[[DEN]]
// CHECK-NEXT:   %p_new_1 = noma.tensor.sub %p_1, %[[STEP]]
// CHECK-NEXT:   noma.mem.store %p_new_1, %B : f64, !noma.mem.buffer<0>
// CHECK-NEXT: }
// CHECK-NOT:  %W_t
// CHECK-NOT:  %B_t
