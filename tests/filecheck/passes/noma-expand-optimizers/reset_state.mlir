// RUN: nomac %s -p noma-expand-optimizers | filecheck %s

// reset_state zeroes m, v and t of each listed parameter (of its current
// shape); the pass needs no update ops to do so.

builtin.module {
  func.func @main() {
    %init = noma.tensor.constant dense<[1.0, 2.0]> : tensor<2xf64>
    %W = noma.train.param "w" %init : tensor<2xf64> -> !noma.mem.buffer<1>
    %b0 = arith.constant 0.5 : f64
    %B = noma.train.param "b" %b0 : f64 -> !noma.mem.buffer<0>
    noma.train.reset_state(%W, %B : !noma.mem.buffer<1>, !noma.mem.buffer<0>)
    noma.train.reset_state(%W : !noma.mem.buffer<1>)
    func.return
  }
}

// CHECK:      %B_t = noma.train.state %B "t"
// CHECK-NEXT: %[[M:.*]] = noma.mem.load %W_m : !noma.mem.buffer<1> -> tensor<?xf64>
// CHECK-NEXT: %[[MZ:.*]] = noma.tensor.zeros_like %[[M]] : tensor<?xf64> -> tensor<?xf64>
// CHECK-NEXT: noma.mem.store %[[MZ]], %W_m
// CHECK-NEXT: %[[V:.*]] = noma.mem.load %W_v
// CHECK-NEXT: %[[VZ:.*]] = noma.tensor.zeros_like %[[V]]
// CHECK-NEXT: noma.mem.store %[[VZ]], %W_v
// CHECK-NEXT: %[[T:.*]] = noma.mem.load %W_t
// CHECK-NEXT: %[[TZ:.*]] = noma.tensor.zeros_like %[[T]]
// CHECK-NEXT: noma.mem.store %[[TZ]], %W_t
// CHECK-NEXT: %[[BM:.*]] = noma.mem.load %B_m : !noma.mem.buffer<0> -> f64
// CHECK-NEXT: %[[BMZ:.*]] = noma.tensor.zeros_like %[[BM]] : f64 -> f64
// CHECK-NEXT: noma.mem.store %[[BMZ]], %B_m : f64, !noma.mem.buffer<0>
// CHECK:      noma.mem.store {{.*}}, %B_t
// CHECK-NEXT: noma.mem.load %W_m
// CHECK:      noma.mem.store {{.*}}, %W_t
// CHECK-NEXT: func.return
// CHECK-NOT:  noma.train.reset_state
