// RUN: nomac %s -p "noma-expand-optimizers{default-lr=0.5}" | filecheck %s

// An update outside any optimize loop (hand-written IR) is an SGD step with
// the pass option `default-lr`.

builtin.module {
  func.func @main() {
    %init = noma.tensor.constant dense<[1.0, 2.0]> : tensor<2xf64>
    %W = noma.train.param "w" %init : tensor<2xf64> -> !noma.mem.buffer<1>
    noma.train.update %W, %init : !noma.mem.buffer<1>, tensor<2xf64>
    func.return
  }
}

// CHECK:      %W_t = noma.train.state %W "t"
// CHECK-NEXT: %[[SGD:.*]] = arith.constant 1.000000e+00 : f64
// CHECK-NEXT: %[[LR:.*]] = arith.constant 5.000000e-01 : f64
// CHECK-NEXT: %p = noma.mem.load %W
// CHECK-NEXT: %[[LG:.*]] = noma.tensor.mul %[[LR]], %init : (f64, tensor<2xf64>) -> tensor<2xf64>
// CHECK-NEXT: %p_new = noma.tensor.sub %p, %[[LG]]
// CHECK-NEXT: noma.mem.store %p_new, %W
// CHECK-NEXT: func.return
