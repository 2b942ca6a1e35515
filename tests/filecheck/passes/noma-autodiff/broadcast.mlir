// RUN: nomac %s -p noma-autodiff | filecheck %s

// A layer sigmoid(X @ W + b) with a bias broadcast over the rows: the bias
// adjoint is summed back to its shape with reduce_like, the matmul adjoint
// of W is Xᵀ @ g (X is data: it gets nothing), and the static result of the
// matmul is cast to the parameter's type.

builtin.module {
  func.func @main() {
    %zero = arith.constant 0.0 : f64
    %one = arith.constant 1.0 : f64
    %X = noma.tensor.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf64>
    %wi = noma.tensor.constant dense<[[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]> : tensor<3x2xf64>
    %bi = noma.tensor.constant dense<[0.1, -0.2]> : tensor<2xf64>
    %W = noma.train.param "W" %wi : tensor<3x2xf64> -> !noma.mem.buffer<2>
    %B = noma.train.param "b" %bi : tensor<2xf64> -> !noma.mem.buffer<1>
    noma.train.optimize params(%W, %B : !noma.mem.buffer<2>, !noma.mem.buffer<1>) hyper(%one, %one, %zero, %zero, %zero, %zero, %one) {
      %w = noma.mem.load %W : !noma.mem.buffer<2> -> tensor<?x?xf64>
      %b = noma.mem.load %B : !noma.mem.buffer<1> -> tensor<?xf64>
      %h = noma.tensor.matmul %X, %w : (tensor<2x3xf64>, tensor<?x?xf64>) -> tensor<2x?xf64>
      %z = noma.tensor.add %h, %b : (tensor<2x?xf64>, tensor<?xf64>) -> tensor<2x?xf64>
      %s = noma.tensor.sigmoid %z : tensor<2x?xf64> -> tensor<2x?xf64>
      %loss = noma.tensor.mean %s : tensor<2x?xf64> -> f64
      noma.train.minimize %loss : f64
      %stop = arith.cmpf olt, %loss, %zero : f64
      noma.train.yield %stop
    }
    func.return
  }
}

// CHECK:      scf.if %{{.*}} {
// CHECK-NEXT:   %[[SEED:.*]] = arith.constant 1.000000e+00 : f64
// mean: dL/ds = broadcast(1 / numel(s))
// CHECK-NEXT:   %[[N:.*]] = noma.tensor.numel %s : tensor<2x?xf64>
// CHECK-NEXT:   %[[GN:.*]] = noma.tensor.div %[[SEED]], %[[N]] : (f64, f64) -> f64
// CHECK-NEXT:   %[[GS:.*]] = noma.tensor.broadcast_like %[[GN]], %s : (f64, tensor<2x?xf64>) -> tensor<2x?xf64>
// sigmoid: g * s * (1 - s)
// CHECK-NEXT:   %[[C1:.*]] = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:   %[[OMS:.*]] = noma.tensor.sub %[[C1]], %s
// CHECK-NEXT:   %[[D:.*]] = noma.tensor.mul %s, %[[OMS]]
// CHECK-NEXT:   %[[GZ:.*]] = noma.tensor.mul %[[GS]], %[[D]]
// add: both operands, each reduced to its own shape
// CHECK-NEXT:   %[[GH:.*]] = noma.tensor.reduce_like %[[GZ]], %h : (tensor<2x?xf64>, tensor<2x?xf64>) -> tensor<2x?xf64>
// CHECK-NEXT:   %[[GB:.*]] = noma.tensor.reduce_like %[[GZ]], %b : (tensor<2x?xf64>, tensor<?xf64>) -> tensor<?xf64>
// matmul: only W is active
// CHECK-NEXT:   %[[XT:.*]] = noma.tensor.transpose %X : tensor<2x3xf64> -> tensor<3x2xf64>
// CHECK-NEXT:   %[[GW:.*]] = noma.tensor.matmul %[[XT]], %[[GH]] : (tensor<3x2xf64>, tensor<2x?xf64>) -> tensor<3x?xf64>
// CHECK-NEXT:   %[[GWC:.*]] = noma.tensor.cast %[[GW]] : tensor<3x?xf64> -> tensor<?x?xf64>
// CHECK-NEXT:   noma.train.update %W, %[[GWC]] : !noma.mem.buffer<2>, tensor<?x?xf64>
// CHECK-NEXT:   noma.train.update %B, %[[GB]] : !noma.mem.buffer<1>, tensor<?xf64>
// CHECK-NEXT: }
// CHECK-NOT:  noma.train.update
