// RUN: nomac %s -p noma-expand-optimizers,noma-fuse-elementwise | filecheck %s

// The whole Adam step of a parameter (loads and stores of p, m, v, t and the
// element-wise math between them) is one fused op, so compiled code reads
// and writes each buffer in place, once per element; the gradient
// (zeros_like %w) joins it. The scalar `1 - beta` terms stay outside.

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

// CHECK:      scf.if %go {
// CHECK-NEXT:   %[[ONE:.*]] = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:   %[[C1:.*]] = noma.tensor.sub %[[ONE]], %b1 : (f64, f64) -> f64
// CHECK-NEXT:   %[[C2:.*]] = noma.tensor.sub %[[ONE]], %b2 : (f64, f64) -> f64
// CHECK-NEXT:   noma.tensor.fused ins(%w, %W_t, %[[ONE]], %W_m, %b1, %[[C1]], %W_v, %b2, %[[C2]], %W, %lr, %eps : tensor<?xf64>, !noma.mem.buffer<1>, f64, !noma.mem.buffer<1>, f64, f64, !noma.mem.buffer<1>, f64, f64, !noma.mem.buffer<1>, f64, f64) {
// CHECK-NEXT:   ^bb0({{.*}}):
// CHECK-NEXT:     %g = noma.tensor.zeros_like
// CHECK-NEXT:     %t = noma.mem.load
// CHECK-NEXT:     %t_new = noma.tensor.add %t,
// CHECK-NEXT:     noma.mem.store %t_new,
// CHECK-NEXT:     %m = noma.mem.load
// CHECK:          noma.mem.store %m_new,
// CHECK:          %v = noma.mem.load
// CHECK:          noma.mem.store %v_new,
// CHECK:          noma.tensor.pow %{{.*}}, %t_new
// CHECK:          %m_hat = noma.tensor.div %m_new,
// CHECK:          noma.tensor.pow %{{.*}}, %t_new
// CHECK:          %v_hat = noma.tensor.div %v_new,
// CHECK:          %p = noma.mem.load
// CHECK:          noma.tensor.sqrt %v_hat
// CHECK:          %p_new = noma.tensor.sub %p,
// CHECK-NEXT:     noma.mem.store %p_new,
// CHECK-NEXT:     noma.tensor.yield
// CHECK-NEXT:   }
// CHECK-NEXT: }
