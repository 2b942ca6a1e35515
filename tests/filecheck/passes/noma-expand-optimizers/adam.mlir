// RUN: nomac %s -p noma-expand-optimizers | filecheck %s

// A constant `kind` 2.0 expands to Adam only: per-element t, bias-corrected
// moments; the three state buffers follow the parameter.

builtin.module {
  func.func @main() {
    %init = noma.tensor.constant dense<[3.0, -3.0]> : tensor<2xf64>
    %W = noma.train.param "w" %init : tensor<2xf64> -> !noma.mem.buffer<1>
    %kind = arith.constant 2.0 : f64
    %lr = arith.constant 0.1 : f64
    %b1 = arith.constant 0.9 : f64
    %b2 = arith.constant 0.999 : f64
    %rho = arith.constant 0.9 : f64
    %eps = arith.constant 1.0e-08 : f64
    %max = arith.constant 100.0 : f64
    %zero = arith.constant 0.0 : f64
    noma.train.optimize params(%W : !noma.mem.buffer<1>) hyper(%kind, %lr, %b1, %b2, %rho, %eps, %max) {
      %w = noma.mem.load %W : !noma.mem.buffer<1> -> tensor<?xf64>
      %l = noma.tensor.sum %w : tensor<?xf64> -> f64
      noma.train.minimize %l : f64
      %stop = arith.cmpf olt, %l, %zero : f64
      %go = arith.cmpf oge, %l, %zero : f64
      scf.if %go {
        %g = noma.tensor.zeros_like %w : tensor<?xf64> -> tensor<?xf64>
        noma.train.update %W, %g : !noma.mem.buffer<1>, tensor<?xf64>
      }
      noma.train.yield %stop
    }
    func.return
  }
}

// CHECK:      %W = noma.train.param "w" %init : tensor<2xf64> -> !noma.mem.buffer<1>
// CHECK-NEXT: %W_m = noma.train.state %W "m" : !noma.mem.buffer<1> -> !noma.mem.buffer<1>
// CHECK-NEXT: %W_v = noma.train.state %W "v" : !noma.mem.buffer<1> -> !noma.mem.buffer<1>
// CHECK-NEXT: %W_t = noma.train.state %W "t" : !noma.mem.buffer<1> -> !noma.mem.buffer<1>
// CHECK:      scf.if %go {
// CHECK-NEXT:   %g = noma.tensor.zeros_like %w
// CHECK-NEXT:   %[[ONE:.*]] = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:   %t = noma.mem.load %W_t : !noma.mem.buffer<1> -> tensor<?xf64>
// CHECK-NEXT:   %t_new = noma.tensor.add %t, %[[ONE]] : (tensor<?xf64>, f64) -> tensor<?xf64>
// CHECK-NEXT:   noma.mem.store %t_new, %W_t
// CHECK-NEXT:   %m = noma.mem.load %W_m
// CHECK-NEXT:   %[[BM:.*]] = noma.tensor.mul %b1, %m
// CHECK-NEXT:   %[[C1:.*]] = noma.tensor.sub %[[ONE]], %b1 : (f64, f64) -> f64
// CHECK-NEXT:   %[[CG:.*]] = noma.tensor.mul %[[C1]], %g
// CHECK-NEXT:   %m_new = noma.tensor.add %[[BM]], %[[CG]]
// CHECK-NEXT:   noma.mem.store %m_new, %W_m
// CHECK-NEXT:   %v = noma.mem.load %W_v
// CHECK-NEXT:   %[[BV:.*]] = noma.tensor.mul %b2, %v
// CHECK-NEXT:   %[[C2:.*]] = noma.tensor.sub %[[ONE]], %b2 : (f64, f64) -> f64
// CHECK-NEXT:   %[[GG:.*]] = noma.tensor.mul %g, %g
// CHECK-NEXT:   %[[CG2:.*]] = noma.tensor.mul %[[C2]], %[[GG]]
// CHECK-NEXT:   %v_new = noma.tensor.add %[[BV]], %[[CG2]]
// CHECK-NEXT:   noma.mem.store %v_new, %W_v
// CHECK-NEXT:   %[[P1:.*]] = noma.tensor.pow %b1, %t_new : (f64, tensor<?xf64>) -> tensor<?xf64>
// CHECK-NEXT:   %[[D1:.*]] = noma.tensor.sub %[[ONE]], %[[P1]]
// CHECK-NEXT:   %m_hat = noma.tensor.div %m_new, %[[D1]]
// CHECK-NEXT:   %[[P2:.*]] = noma.tensor.pow %b2, %t_new
// CHECK-NEXT:   %[[D2:.*]] = noma.tensor.sub %[[ONE]], %[[P2]]
// CHECK-NEXT:   %v_hat = noma.tensor.div %v_new, %[[D2]]
// CHECK-NEXT:   %p = noma.mem.load %W : !noma.mem.buffer<1> -> tensor<?xf64>
// CHECK-NEXT:   %[[NUM:.*]] = noma.tensor.mul %lr, %m_hat
// CHECK-NEXT:   %[[SQ:.*]] = noma.tensor.sqrt %v_hat
// CHECK-NEXT:   %[[DEN:.*]] = noma.tensor.add %[[SQ]], %eps
// CHECK-NEXT:   %[[STEP:.*]] = noma.tensor.div %[[NUM]], %[[DEN]]
// CHECK-NEXT:   %p_new = noma.tensor.sub %p, %[[STEP]]
// CHECK-NEXT:   noma.mem.store %p_new, %W : tensor<?xf64>, !noma.mem.buffer<1>
// CHECK-NEXT: }
// CHECK-NOT:  noma.train.update
