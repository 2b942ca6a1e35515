// RUN: nomac %s -p noma-expand-optimizers | filecheck %s

// `kind` from a compat variable (not a constant): an scf.if chain picks
// Adam (2), RMSprop (3) or SGD (anything else) at run time.

builtin.module {
  func.func @main() {
    %init = noma.tensor.constant dense<[1.0, 2.0]> : tensor<2xf64>
    %W = noma.train.param "w" %init : tensor<2xf64> -> !noma.mem.buffer<1>
    %k0 = arith.constant 1.0 : f64
    %one = arith.constant 1.0 : f64
    %kind = noma.tensor.add %k0, %one : (f64, f64) -> f64
    %lr = arith.constant 0.1 : f64
    %b1 = arith.constant 0.9 : f64
    %b2 = arith.constant 0.999 : f64
    %eps = arith.constant 1.0e-08 : f64
    %max = arith.constant 100.0 : f64
    %zero = arith.constant 0.0 : f64
    noma.train.optimize params(%W : !noma.mem.buffer<1>) hyper(%kind, %lr, %b1, %b2, %b2, %eps, %max) {
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

// CHECK:      noma.train.minimize %l : f64
// CHECK-NEXT: %stop = arith.cmpf olt, %l, %zero : f64
// CHECK-NEXT: %[[TWO:.*]] = arith.constant 2.000000e+00 : f64
// CHECK-NEXT: %[[ISADAM:.*]] = arith.cmpf oeq, %kind, %[[TWO]] : f64
// CHECK-NEXT: scf.if %[[ISADAM]] {
// CHECK:        %t_new = noma.tensor.add %t
// CHECK:        noma.mem.store %p_new, %W
// CHECK-NEXT: } else {
// CHECK-NEXT:   %[[THREE:.*]] = arith.constant 3.000000e+00 : f64
// CHECK-NEXT:   %[[ISRMS:.*]] = arith.cmpf oeq, %kind, %[[THREE]] : f64
// CHECK-NEXT:   scf.if %[[ISRMS]] {
// CHECK-NOT:      %W_t
// CHECK:          %v_new_1 = noma.tensor.add
// CHECK:          noma.mem.store %p_new_1, %W
// CHECK-NEXT:   } else {
// CHECK-NEXT:     %p_2 = noma.mem.load %W
// CHECK-NEXT:     %[[LG:.*]] = noma.tensor.mul %lr, %w
// CHECK-NEXT:     %p_new_2 = noma.tensor.sub %p_2, %[[LG]]
// CHECK-NEXT:     noma.mem.store %p_new_2, %W
// CHECK-NEXT:   }
// CHECK-NEXT: }
// CHECK-NEXT: noma.train.yield %stop
