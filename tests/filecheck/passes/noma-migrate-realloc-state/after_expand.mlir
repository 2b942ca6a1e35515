// RUN: nomac %s -p noma-expand-optimizers,noma-migrate-realloc-state | filecheck %s

// The two passes in the right order: the states the expansion creates are
// reallocated with the parameter inside the loop, before the update uses them.

builtin.module {
  func.func @main() {
    %init = noma.tensor.constant dense<[1.0, 2.0]> : tensor<2xf64>
    %W = noma.train.param "w" %init : tensor<2xf64> -> !noma.mem.buffer<1>
    %kind = arith.constant 2.0 : f64
    %four = arith.constant 4.0 : f64
    %lr = arith.constant 0.1 : f64
    %zero = arith.constant 0.0 : f64
    noma.train.optimize params(%W : !noma.mem.buffer<1>) hyper(%kind, %lr, %lr, %lr, %lr, %lr, %four) {
      noma.mem.realloc %W to [%four] init "zeros" () : !noma.mem.buffer<1>
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

// CHECK:      %W_t = noma.train.state %W "t"
// CHECK:      noma.train.optimize
// CHECK-NEXT:   noma.mem.realloc %W to {{ ?}}[%four] init "zeros"
// CHECK-NEXT:   noma.mem.realloc %W_m to {{ ?}}[%four] init "zeros"
// CHECK-NEXT:   noma.mem.realloc %W_v to {{ ?}}[%four] init "zeros"
// CHECK-NEXT:   noma.mem.realloc %W_t to {{ ?}}[%four] init "zeros"
// CHECK-NEXT:   %w = noma.mem.load %W
// CHECK:        %t = noma.mem.load %W_t
// CHECK-NOT:  noma.train.update
