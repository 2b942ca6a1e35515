// RUN: nomac %s -p noma-lower-train | filecheck %s

// Without carried values the loop carries only the count; the state buffers
// and the update math in the body stay as they are.

builtin.module {
  func.func @main() {
    %init = noma.tensor.constant dense<[3.0, -3.0]> : tensor<2xf64>
    %W = noma.train.param "w" %init : tensor<2xf64> -> !noma.mem.buffer<1>
    %W_m = noma.train.state %W "m" : !noma.mem.buffer<1> -> !noma.mem.buffer<1>
    %kind = arith.constant 1.0 : f64
    %lr = arith.constant 0.1 : f64
    %zero = arith.constant 0.0 : f64
    noma.train.optimize params(%W : !noma.mem.buffer<1>) hyper(%kind, %lr, %lr, %lr, %lr, %lr, %lr) {
      %w = noma.mem.load %W : !noma.mem.buffer<1> -> tensor<?xf64>
      %l = noma.tensor.sum %w : tensor<?xf64> -> f64
      noma.train.minimize %l : f64
      %stop = arith.cmpf olt, %l, %zero : f64
      %w1 = noma.tensor.sub %w, %lr : (tensor<?xf64>, f64) -> tensor<?xf64>
      noma.mem.store %w1, %W : tensor<?xf64>, !noma.mem.buffer<1>
      noma.train.yield %stop
    }
    func.return
  }
}

// CHECK:      %W_m = noma.train.state %W "m"
// CHECK:      %{{.*}} = scf.while (%count = %{{.*}}) : (f64) -> f64 {
// CHECK:        noma.train.check_objective %l, %iteration
// CHECK:        noma.mem.store %w1, %W
// CHECK:        scf.condition(%{{.*}}) %iteration : f64
// CHECK-NEXT: } do {
// CHECK-NEXT: ^{{.*}}(%[[C:.*]]: f64):
// CHECK-NEXT:   scf.yield %[[C]] : f64
// CHECK-NEXT: }
