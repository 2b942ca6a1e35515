// RUN: nomac %s -p noma-shape-inference | filecheck %s

// Inside an optimize body: refined values feed NOMA ops directly, and the
// yielded (loop-visible) value keeps its declared type through a cast.

builtin.module {
  func.func @main() {
    %x = noma.tensor.constant dense<[[0.0, 1.0], [1.0, 0.0]]> : tensor<2x2xf64>
    %winit = noma.tensor.constant dense<[[0.1], [0.2]]> : tensor<2x1xf64>
    %W = noma.train.param "W" %winit : tensor<2x1xf64> -> !noma.mem.buffer<2>
    %kind = arith.constant 2.0 : f64
    %lr = arith.constant 0.1 : f64
    %b1 = arith.constant 0.9 : f64
    %b2 = arith.constant 0.999 : f64
    %eps = arith.constant 1.0e-08 : f64
    %max = arith.constant 100.0 : f64
    %lim = arith.constant 0.01 : f64
    %h0 = noma.tensor.zeros [%max] : tensor<?xf64>
    %res:2 = noma.train.optimize params(%W : !noma.mem.buffer<2>) hyper(%kind, %lr, %b1, %b2, %b1, %eps, %max) carry(%h0 : tensor<?xf64>) -> (tensor<?xf64>, tensor<?x?xf64>) {
    ^bb0(%h: tensor<?xf64>):
      %w = noma.mem.load %W : !noma.mem.buffer<2> -> tensor<?x?xf64>
      %xx = noma.tensor.mul %x, %x : (tensor<2x2xf64>, tensor<2x2xf64>) -> tensor<?x?xf64>
      %p = noma.tensor.matmul %xx, %w : (tensor<?x?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
      %l = noma.tensor.mean %p : tensor<?x?xf64> -> f64
      noma.train.minimize %l : f64
      %stop = arith.cmpf olt, %l, %lim : f64
      noma.train.yield %stop, %h, %xx : tensor<?xf64>, tensor<?x?xf64>
    }
    noma.io.print %res#1 : tensor<?x?xf64>
    func.return
  }
}

// CHECK:      %h0 = noma.tensor.zeros{{ ?}}[%max] : tensor<100xf64>
// CHECK-NEXT: %[[H0:.*]] = noma.tensor.cast %h0 : tensor<100xf64> -> tensor<?xf64>
// CHECK-NEXT: noma.train.optimize {{.*}} carry(%[[H0]] : tensor<?xf64>)
// CHECK:        %xx = noma.tensor.mul %x, %x : (tensor<2x2xf64>, tensor<2x2xf64>) -> tensor<2x2xf64>
// CHECK-NEXT:   %[[XX:.*]] = noma.tensor.cast %xx : tensor<2x2xf64> -> tensor<?x?xf64>
// CHECK-NEXT:   %p = noma.tensor.matmul %xx, %w : (tensor<2x2xf64>, tensor<?x?xf64>) -> tensor<2x?xf64>
// CHECK:        noma.train.yield %stop, %h, %[[XX]] : tensor<?xf64>, tensor<?x?xf64>
