// RUN: nomac %s -p noma-lower-train | filecheck %s
// RUN: nomac %s -p noma-lower-train --print-debuginfo | filecheck %s --check-prefix=LOC

// An optimize loop with one carried value and one body-declared value
// becomes an scf.while carrying (value, count); minimize becomes the
// objective check, the exit test warns when the count reaches max_iter;
// end_loop follows the loop.

builtin.module {
  func.func @main() {
    %init = noma.tensor.constant dense<[3.0, -3.0]> : tensor<2xf64>
    %W = noma.train.param "w" %init : tensor<2xf64> -> !noma.mem.buffer<1>
    %kind = arith.constant 1.0 : f64
    %lr = arith.constant 0.1 : f64
    %max = arith.constant 100.0 : f64
    %zero = arith.constant 0.0 : f64
    %one = arith.constant 1.0 : f64
    %r:2 = noma.train.optimize params(%W : !noma.mem.buffer<1>) hyper(%kind, %lr, %lr, %lr, %lr, %lr, %max) carry(%zero : f64) -> (f64, f64) {
    ^bb0(%n: f64):
      %w = noma.mem.load %W : !noma.mem.buffer<1> -> tensor<?xf64>
      %l = noma.tensor.sum %w : tensor<?xf64> -> f64
      noma.train.minimize %l : f64
      %stop = arith.cmpf olt, %l, %zero : f64
      %n1 = arith.addf %n, %one : f64
      noma.train.yield %stop, %n1, %l : f64, f64
    } loc("prog.noma":4:3)
    noma.io.print %r#0 : f64
    noma.io.print %r#1 : f64
    func.return
  }
}

// CHECK:      %[[TRUNC:.*]] = noma.tensor.trunc %max : f64 -> f64
// CHECK-NEXT: %[[GE:.*]] = arith.cmpf oge, %[[TRUNC]], %[[ONE:.*]] : f64
// CHECK-NEXT: %[[LIMIT:.*]] = arith.select %[[GE]], %[[TRUNC]], %[[ONE]] : f64
// CHECK-NEXT: %[[C0:.*]] = arith.constant 0.000000e+00 : f64
// CHECK-NEXT: %[[R0:[^,]*]], %[[R1:[^,]*]], %{{[^ ]*}} = scf.while (%n = %zero, %count = %[[C0]]) : (f64, f64) -> (f64, f64, f64) {
// CHECK:        %iteration = arith.addf %count, %{{.*}} : f64
// CHECK-NEXT:   %w = noma.mem.load %W
// CHECK-NEXT:   %l = noma.tensor.sum %w
// CHECK-NEXT:   noma.train.check_objective %l, %iteration
// CHECK-NOT:    noma.train.minimize
// CHECK:        %[[TRUE:.*]] = arith.constant true
// CHECK-NEXT:   %[[GO:.*]] = arith.xori %stop, %[[TRUE]] : i1
// CHECK-NEXT:   %[[FULL:.*]] = arith.cmpf oge, %iteration, %[[LIMIT]] : f64
// CHECK-NEXT:   %[[WARN:.*]] = arith.andi %[[GO]], %[[FULL]] : i1
// CHECK-NEXT:   scf.if %[[WARN]] {
// CHECK-NEXT:     noma.train.warn_max_iterations %iteration
// CHECK-NEXT:   }
// CHECK-NEXT:   %[[BELOW:.*]] = arith.xori %[[FULL]], %[[TRUE]] : i1
// CHECK-NEXT:   %[[AGAIN:.*]] = arith.andi %[[GO]], %[[BELOW]] : i1
// CHECK-NEXT:   scf.condition(%[[AGAIN]]) %n1, %l, %iteration : f64, f64, f64
// CHECK-NEXT: } do {
// CHECK-NEXT: ^{{.*}}(%[[A:.*]]: f64, %[[B:.*]]: f64, %[[C:.*]]: f64):
// CHECK-NEXT:   scf.yield %[[A]], %[[C]] : f64, f64
// CHECK-NEXT: }
// CHECK-NEXT: noma.train.end_loop
// CHECK-NEXT: noma.io.print %[[R0]] : f64
// CHECK-NEXT: noma.io.print %[[R1]] : f64
// CHECK-NOT:  noma.train.optimize

// The new ops and the loop carry the optimize loop's location.
// LOC: noma.train.check_objective %l, %iteration loc("prog.noma":4:3)
// LOC: noma.train.warn_max_iterations %iteration loc("prog.noma":4:3)
// LOC: } loc("prog.noma":4:3)
// LOC-NEXT: noma.train.end_loop loc("prog.noma":4:3)
