// RUN: nomac %s -p noma-autodiff | filecheck %s

// Adjoints of axis reductions get the reduced axis back: axis 0 broadcasts
// as is ([m] as [1, m]); the last axis of a 2-D tensor goes through a
// transpose ([n] as [1, n] against xᵀ); other axes of higher ranks use
// expand_dims. A mean divides by the axis size first.

builtin.module {
  func.func @main() {
    %zero = arith.constant 0.0 : f64
    %one = arith.constant 1.0 : f64
    %ai = noma.tensor.constant dense<[[0.1, 0.2], [0.3, 0.4]]> : tensor<2x2xf64>
    %A = noma.train.param "A" %ai : tensor<2x2xf64> -> !noma.mem.buffer<2>
    %ti = noma.tensor.constant dense<[[[0.1, 0.2]], [[0.3, 0.4]]]> : tensor<2x1x2xf64>
    %T = noma.train.param "T" %ti : tensor<2x1x2xf64> -> !noma.mem.buffer<3>
    noma.train.optimize params(%A : !noma.mem.buffer<2>) hyper(%one, %one, %zero, %zero, %zero, %zero, %one) {
      %a = noma.mem.load %A : !noma.mem.buffer<2> -> tensor<?x?xf64>
      %s0 = noma.tensor.sum %a {axis = 0 : i64} : tensor<?x?xf64> -> tensor<?xf64>
      %m1 = noma.tensor.mean %a {axis = 1 : i64} : tensor<?x?xf64> -> tensor<?xf64>
      %t = noma.mem.load %T : !noma.mem.buffer<3> -> tensor<?x?x?xf64>
      %t1 = noma.tensor.sum %t {axis = 1 : i64} : tensor<?x?x?xf64> -> tensor<?x?xf64>
      %l0 = noma.tensor.dot %s0, %m1 : (tensor<?xf64>, tensor<?xf64>) -> f64
      %l1 = noma.tensor.sum %t1 : tensor<?x?xf64> -> f64
      %loss = noma.tensor.add %l0, %l1 : (f64, f64) -> f64
      noma.train.minimize %loss : f64
      %stop = arith.cmpf olt, %loss, %zero : f64
      noma.train.yield %stop
    }
    func.return
  }
}

// CHECK:      %[[E:.*]] = noma.tensor.expand_dims %{{.*}} {axis = 1 : i64} : tensor<?x?xf64> -> tensor<?x1x?xf64>
// CHECK-NEXT: %[[GT:.*]] = noma.tensor.broadcast_like %[[E]], %t : (tensor<?x1x?xf64>, tensor<?x?x?xf64>) -> tensor<?x?x?xf64>
// CHECK:      %[[N:.*]] = noma.tensor.dim %a {axis = 1 : i64} : tensor<?x?xf64>
// CHECK-NEXT: %[[GM:.*]] = noma.tensor.div %{{.*}}, %[[N]] : (tensor<?xf64>, f64) -> tensor<?xf64>
// CHECK-NEXT: %[[AT:.*]] = noma.tensor.transpose %a : tensor<?x?xf64> -> tensor<?x?xf64>
// CHECK-NEXT: %[[B:.*]] = noma.tensor.broadcast_like %[[GM]], %[[AT]] : (tensor<?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
// CHECK-NEXT: %[[G1:.*]] = noma.tensor.transpose %[[B]] : tensor<?x?xf64> -> tensor<?x?xf64>
// CHECK-NEXT: %[[G0:.*]] = noma.tensor.broadcast_like %{{.*}}, %a : (tensor<?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
// CHECK-NEXT: %[[G:.*]] = noma.tensor.add %[[G1]], %[[G0]] : (tensor<?x?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
// CHECK-NEXT: noma.train.update %A, %[[G]] : !noma.mem.buffer<2>, tensor<?x?xf64>
// CHECK-NEXT: noma.train.update %T, %[[GT]] : !noma.mem.buffer<3>, tensor<?x?x?xf64>
