// RUN: nomac %s -p noma-autodiff | filecheck %s

// Both matmul operands are parameters: gA = g @ Bᵀ, gB = Aᵀ @ g.

builtin.module {
  func.func @main() {
    %zero = arith.constant 0.0 : f64
    %one = arith.constant 1.0 : f64
    %ai = noma.tensor.constant dense<[[0.1, 0.2], [0.3, 0.4]]> : tensor<2x2xf64>
    %A = noma.train.param "A" %ai : tensor<2x2xf64> -> !noma.mem.buffer<2>
    %B = noma.train.param "B" %ai : tensor<2x2xf64> -> !noma.mem.buffer<2>
    noma.train.optimize params(%A, %B : !noma.mem.buffer<2>, !noma.mem.buffer<2>) hyper(%one, %one, %zero, %zero, %zero, %zero, %one) {
      %a = noma.mem.load %A : !noma.mem.buffer<2> -> tensor<?x?xf64>
      %b = noma.mem.load %B : !noma.mem.buffer<2> -> tensor<?x?xf64>
      %p = noma.tensor.matmul %a, %b : (tensor<?x?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
      %loss = noma.tensor.sum %p : tensor<?x?xf64> -> f64
      noma.train.minimize %loss : f64
      %stop = arith.cmpf olt, %loss, %zero : f64
      noma.train.yield %stop
    }
    func.return
  }
}

// CHECK:      scf.if %{{.*}} {
// CHECK-NEXT:   %[[SEED:.*]] = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:   %[[G:.*]] = noma.tensor.broadcast_like %[[SEED]], %p : (f64, tensor<?x?xf64>) -> tensor<?x?xf64>
// CHECK-NEXT:   %[[BT:.*]] = noma.tensor.transpose %b : tensor<?x?xf64> -> tensor<?x?xf64>
// CHECK-NEXT:   %[[GA:.*]] = noma.tensor.matmul %[[G]], %[[BT]] : (tensor<?x?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
// CHECK-NEXT:   %[[AT:.*]] = noma.tensor.transpose %a : tensor<?x?xf64> -> tensor<?x?xf64>
// CHECK-NEXT:   %[[GB:.*]] = noma.tensor.matmul %[[AT]], %[[G]] : (tensor<?x?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
// CHECK-NEXT:   noma.train.update %A, %[[GA]] : !noma.mem.buffer<2>, tensor<?x?xf64>
// CHECK-NEXT:   noma.train.update %B, %[[GB]] : !noma.mem.buffer<2>, tensor<?x?xf64>
// CHECK-NEXT: }
